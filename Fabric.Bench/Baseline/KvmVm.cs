using Fabric.Hardware.Protocol;
using System.Diagnostics;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Bench.Baseline;

/// <summary>
/// One VM the way the seed's KVM (v1-v3 of the series, <see cref="KvmDesign.ApList"/>) builds it (SEMANTICS.md §3.2, S1): the per-VM SPI AP list behind a raw spin lock
/// (<c>vgic_v5_spi_ap_list_lock</c>), a <c>struct vgic_irq</c> per SPI behind its own <c>irq_lock</c>, taken in KVM's
/// order (list lock &gt; irq lock; the queue path drops the irq lock and re-validates), the fold over the whole list with
/// VDRCFG on every vCPU exit, and the deactivation notifier called after every lock is dropped (hazard 1).
/// <para>Every rule is the same Fabric.Hardware call the actors and <see cref="Fabric.Hardware.Reference.VmModel"/> make:
/// <see cref="VirtualIrs"/> for VDPEND, VDRCFG, CDIA's activation and CDDI; <see cref="CpuInterfaceRules"/> for the
/// CPU interface, residency and the doorbell rule; <see cref="KvmRules"/> for injection and the fold step. What this
/// class adds is only KVM's locks, and the threads that call it.</para>
/// <para>The IRS slice and the VPEs' CPU interfaces are hardware shared by every vCPU and injector thread: they sit
/// behind one more spin lock (<see cref="_hw"/>), the innermost, held only for one hardware operation. Real hardware
/// serialises its IRS internally; a user-space spin lock cannot disable preemption as <c>raw_spin_lock_irqsave</c>
/// does, so with more threads than cores a holder can be preempted — the lock-holder preemption the per-vCPU-thread
/// run shows, and the threads-per-core run avoids.</para>
/// <para>Under the merged design (<see cref="KvmDesign.Merged"/>, Linux v7.4) the same VM with what the merged code
/// keeps: injection under the SPI's irq_lock only (validate, line_level / pending_latch, VDPEND), no list, no fold at
/// exits, no notifier — the cost floor of tracking nothing. Its devices are paced by their own completions: the
/// <see cref="Notifier"/> callback is then the device's completion path, called after CDDI, and counts no notification.</para>
/// </summary>
public sealed class KvmVm
{
    private readonly VirtualIrs _irs;
    private readonly VirtualCpuInterface[] _cpus;
    private readonly FabricPolicies _policies;
    private readonly KvmIrq[] _irqs;
    private readonly SpinLock[] _irqLocks;
    // The AP list: an intrusive doubly linked list of SPI numbers (list_add_tail / list_del), -1 = none.
    private readonly int[] _next, _prev;
    private int _head = -1, _tail = -1, _listCount;
    private SpinLock _apListLock = new(enableThreadOwnerTracking: false);
    private SpinLock _hw = new(enableThreadOwnerTracking: false);
    private readonly VcpuLine[] _lines;

    // Hardware counters, written under _hw.
    private long _injected, _coalesced, _acknowledged, _deactivated, _doorbells, _residencyChanges;
    private readonly long[] _consumedSinceNotify, _deactivatedAt;
    // KVM's counters, written under the list lock.
    private long _notified, _folds, _foldSteps;
    private readonly List<string> _violations = new();

    /// <summary>The virtual IRQ line and the wake-up of one vCPU thread (kvm_vcpu_kick).</summary>
    private sealed class VcpuLine
    {
        public volatile bool Asserted;
        public readonly ManualResetEventSlim Wake = new(false, spinCount: 20);
    }

    public KvmVm(int vmId, VmSpec spec)
    {
        VmId = vmId;
        _policies = spec.Policies;
        _irs = new VirtualIrs(new VirtualIrsConfig(spec.Spis, spec.Vcpus, VirtualLevel: spec.Policies.VirtualLevel, VcpuIds: spec.VcpuIds));
        _cpus = Enumerable.Range(0, spec.Vcpus).Select(v => CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(v) { IrsEnabled = true }, Priority.Of(spec.Guest.PriorityMask))).ToArray();
        _lines = Enumerable.Range(0, spec.Vcpus).Select(_ => new VcpuLine()).ToArray();
        _irqs = new KvmIrq[spec.Spis];
        _irqLocks = new SpinLock[spec.Spis];
        for (var i = 0; i < _irqLocks.Length; i++) _irqLocks[i] = new SpinLock(enableThreadOwnerTracking: false);
        _next = new int[spec.Spis];
        _prev = new int[spec.Spis];
        _consumedSinceNotify = new long[spec.Spis];
        _deactivatedAt = new long[spec.Spis];
        Boot(spec);
    }

    public int VmId { get; }
    public int Vcpus => _cpus.Length;
    public int Spis => _irqs.Length;
    /// <summary>kvm_notify_acked_irq's subscriber (the irqfd side); called with no lock held.</summary>
    public Action<KvmVm, uint>? Notifier { get; set; }
    /// <summary>When set, the deactivation-to-notifier latency (Stopwatch ticks) of every notification, recorded under the list lock.</summary>
    public HdrHistogram.LongHistogram? NotifyLatency { get; set; }

    public long Deactivated => Volatile.Read(ref _deactivated);
    public long Folds => Volatile.Read(ref _folds);
    public long FoldSteps => Volatile.Read(ref _foldSteps);

    /// <summary>The guest's boot: IRSEN, then each SPI's trigger mode (KVM records it as irq->config), priority,
    /// affinity and enable, as <see cref="VmActor"/> programs them.</summary>
    private void Boot(VmSpec spec)
    {
        _irs.EnableIrs();
        foreach (var s in spec.Interrupts)
        {
            var n = 0;
            foreach (var id in s.Ids.All())
            {
                if (!id.IsSpi) throw new NotSupportedException($"the baseline models SPIs only, not {id}");
                var target = s.Affinity ?? n++ % spec.Vcpus;
                var mmio = _irs.ConfigureSpiTrigger(id.Id, s.Mode);
                if (mmio.Trigger is { } t) _irqs[t.Spi] = _irqs[t.Spi] with { Config = t.Mode };
                Require(_irs.CdPriority(id, s.Priority));
                Require(_irs.CdAffinity(id, _irs.Vcpus.IaffidOf(target)));
                if (s.Enabled) Require(_irs.CdEnable(id, true));
            }
        }
        _irs.Rebuild();

        static void Require(IrsOutcome o)
        {
            if (!o.Ok) throw new InvalidOperationException(o.Error);
        }
    }

    // ---- the injector side: kvm_vgic_inject_irq for an SPI -------------------------------------------------------

    /// <summary>
    /// kvm_vgic_inject_irq → vgic_v5_set_irq_pend → vgic_v5_spi_queue_irq_unlock (S1): under the SPI's irq_lock,
    /// validate and update line_level / pending_latch (<see cref="KvmRules.Inject"/>) and issue VDPEND; if the SPI must
    /// be queued, drop the irq_lock, take the list lock then the irq_lock, re-check that nobody queued it meanwhile, and
    /// list_add_tail. No vCPU kick: the IRS signals a resident VPE, or rings a non-resident one's doorbell.
    /// </summary>
    public void Inject(uint spi, bool level)
    {
        var doorbells = 0u;
        bool queued;
        var irqTaken = false;
        try
        {
            _irqLocks[spi].Enter(ref irqTaken);
            var inj = KvmRules.Inject(_irqs[spi], level, _policies.Kvm);
            if (!inj.Accepted) return;
            // The on-list flag (irq->vcpu) is set by list_add below, under both locks, not here.
            _irqs[spi] = inj.Irq with { OnApList = _irqs[spi].OnApList };
            queued = inj.Queued;
            var hwTaken = false;
            try
            {
                _hw.Enter(ref hwTaken);
                var o = _irs.Vdpend(IntId.Spi(spi), inj.VdpendValue);
                if (level) _injected++;
                if (o.Has(IstEffect.Coalesced)) _coalesced++;
                doorbells = ApplyOffers(o);
            }
            finally { if (hwTaken) _hw.Exit(false); }
        }
        finally { if (irqTaken) _irqLocks[spi].Exit(false); }
        Kick(doorbells);
        if (!queued) return;

        var listTaken = false;
        try
        {
            _apListLock.Enter(ref listTaken);
            irqTaken = false;
            try
            {
                _irqLocks[spi].Enter(ref irqTaken);
                if (!_irqs[spi].OnApList)
                {
                    ListAddTail((int)spi);
                    _irqs[spi] = _irqs[spi] with { OnApList = true };
                }
            }
            finally { if (irqTaken) _irqLocks[spi].Exit(false); }
        }
        finally { if (listTaken) _apListLock.Exit(false); }
    }

    // ---- the vCPU side: the guest's instructions (hardware, no trap) -----------------------------------------------

    /// <summary>Whether the vCPU's virtual IRQ line is asserted (a resident VPE whose HPPI signals).</summary>
    public bool LineAsserted(int vpe) => _lines[vpe].Asserted;

    /// <summary>GICR CDIA: the CPU interface chooses, the IRS activates what it still presents, the APR records it.</summary>
    public IntId? Cdia(int vpe)
    {
        var doorbells = 0u;
        IntId? acked = null;
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            var c = _cpus[vpe];
            var choice = CpuInterfaceRules.ChooseAck(c);
            if (choice.Source == AckSource.Irs)
            {
                var o = _irs.Activate(choice.Interrupt.Id, vpe);
                doorbells = ApplyOffers(o);
                if (o.Has(IstEffect.Activated))
                {
                    CpuInterfaceRules.CompleteAck(c, o.Transition.Entry.Priority);
                    _acknowledged++;
                    acked = o.Id;
                }
            }
            else if (choice.Source == AckSource.Ppi) acked = choice.Interrupt.Id;
            UpdateLine(vpe);
        }
        finally { if (taken) _hw.Exit(false); }
        Kick(doorbells);
        return acked;
    }

    /// <summary>GIC CDEOI: priority drop.</summary>
    public void Cdeoi(int vpe)
    {
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            CpuInterfaceRules.PriorityDrop(_cpus[vpe]);
            UpdateLine(vpe);
        }
        finally { if (taken) _hw.Exit(false); }
    }

    /// <summary>GIC CDDI: the IRS deactivates; the consumption is KVM's to discover at the next fold.</summary>
    public void Cddi(IntId id)
    {
        var doorbells = 0u;
        var completed = false;
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            var o = _irs.Deactivate(id);
            doorbells = ApplyOffers(o);
            if (o.Has(IstEffect.Deactivated))
            {
                _deactivated++;
                if (id.IsSpi && !KvmDesignRules.Notifies(_policies.Kvm)) completed = true;   // no notifier will come
                else if (id.IsSpi)
                {
                    if (_consumedSinceNotify[id.Id]++ == 0) _deactivatedAt[id.Id] = Stopwatch.GetTimestamp();
                }
            }
        }
        finally { if (taken) _hw.Exit(false); }
        Kick(doorbells);
        // The merged design: the device sees the consumption on its own completion path, with no lock held.
        if (completed && KvmDesignRules.DeviceSeesConsumption(_policies.Kvm, deactivation: true)) Notifier?.Invoke(this, id.Id);
    }

    // ---- KVM on the vCPU thread: load, put, exit ---------------------------------------------------------------------

    /// <summary>vgic_v5_load: make the VPE resident.</summary>
    public void Load(int vpe)
    {
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            var c = _cpus[vpe];
            if (c.Resident) return;
            CpuInterfaceRules.MakeResident(c);
            _residencyChanges++;
            UpdateLine(vpe);
        }
        finally { if (taken) _hw.Exit(false); }
    }

    /// <summary>vgic_v5_put: make the VPE non-resident — in WFI with a doorbell request at the effective mask − 1 (an
    /// interrupt already pending rings it at once) — then the exit's kvm_vgic_sync_hwstate, the fold.</summary>
    public void Put(int vpe, bool wfi)
    {
        var doorbells = 0u;
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            var c = _cpus[vpe];
            if (c.Resident)
            {
                CpuInterfaceRules.MakeNonResident(c, wfi ? CpuInterfaceRules.DoorbellPriorityMask(c) : null);
                _residencyChanges++;
                UpdateLine(vpe);
                if (CpuInterfaceRules.TryRaiseDoorbell(c, _policies.Dbpm)) { _doorbells++; doorbells |= 1u << vpe; }
            }
        }
        finally { if (taken) _hw.Exit(false); }
        Kick(doorbells);
        Exit();
    }

    /// <summary>KVM's db_fired for this vCPU: its doorbell rang since it went non-resident.</summary>
    public bool DoorbellFired(int vpe)
    {
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            return _cpus[vpe].DbFired;
        }
        finally { if (taken) _hw.Exit(false); }
    }

    /// <summary>The wake-up of a vCPU thread blocked in WFI (set by its doorbell's kick).</summary>
    public ManualResetEventSlim WakeOf(int vpe) => _lines[vpe].Wake;

    /// <summary>
    /// A vCPU exit: kvm_vgic_sync_hwstate → vgic_v5_fold_irq_state (S1). Under the list lock, for each entry under its
    /// irq_lock: VDRCFG, then <see cref="KvmRules.Fold"/> (latch the IRS's state, decide whether it was consumed); a
    /// consumed SPI leaves the list. The notifier runs for each of them after both locks are dropped.
    /// </summary>
    public void Exit()
    {
        if (!KvmDesignRules.Tracks(_policies.Kvm)) return;   // the merged design folds nothing (no VDRCFG in its hcall table)
        Span<uint> consumed = stackalloc uint[64];
        uint[]? more = null;
        var n = 0;
        var listTaken = false;
        try
        {
            _apListLock.Enter(ref listTaken);
            _folds++;
            for (var spi = _head; spi >= 0;)
            {
                var next = _next[spi];
                var irqTaken = false;
                try
                {
                    _irqLocks[spi].Enter(ref irqTaken);
                    var icsr = Vdrcfg((uint)spi);
                    var step = KvmRules.Fold(_irqs[spi], icsr, _policies.Notify);
                    _irqs[spi] = step.Irq;
                    _foldSteps++;
                    if (step.Untrack) ListDel(spi);
                    if (step.Notify)
                    {
                        Notified((uint)spi);
                        if (n < consumed.Length) consumed[n++] = (uint)spi;
                        else (more ??= new uint[_irqs.Length])[n++ - consumed.Length] = (uint)spi;
                    }
                }
                finally { if (irqTaken) _irqLocks[spi].Exit(false); }
                spi = next;
            }
        }
        finally { if (listTaken) _apListLock.Exit(false); }
        if (Notifier is not { } notify) return;
        for (var i = 0; i < n; i++) notify(this, i < consumed.Length ? consumed[i] : more![i - consumed.Length]);
    }

    /// <summary>GIC VDRCFG {ID}; read ICC_ICSR_EL1 — one hardware access per list entry.</summary>
    private Icsr Vdrcfg(uint spi)
    {
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            return _irs.Vdrcfg(IntId.Spi(spi));
        }
        finally { if (taken) _hw.Exit(false); }
    }

    /// <summary>Bookkeeping of one notification (under the list lock): I2 — a notification follows a consumption.</summary>
    private void Notified(uint spi)
    {
        _notified++;
        var taken = false;
        long consumedCount, at;
        try
        {
            _hw.Enter(ref taken);
            consumedCount = _consumedSinceNotify[spi];
            at = _deactivatedAt[spi];
            _consumedSinceNotify[spi] = 0;
        }
        finally { if (taken) _hw.Exit(false); }
        if (consumedCount == 0) _violations.Add($"I2: vm {VmId} spi:{spi} notified without a consumption since the previous notification");
        else NotifyLatency?.RecordValue(Math.Max(0, Stopwatch.GetTimestamp() - at));
    }

    // ---- hardware helpers (called under _hw) ------------------------------------------------------------------------

    /// <summary>The IRS→CPUIF stream: each VPE whose HPPI changed gets it; a non-resident VPE may ring its doorbell.
    /// Returns the VPEs whose doorbell rang, for a kick once the lock is dropped.</summary>
    private uint ApplyOffers(in IrsOutcome o)
    {
        var rang = 0u;
        if (o.First is { } a) rang |= Offer(a);
        if (o.Second is { } b) rang |= Offer(b);
        return rang;
    }

    private uint Offer(OfferChange change)
    {
        var c = _cpus[change.Vpe];
        c.Offered = change.Hppi;
        UpdateLine(change.Vpe);
        if (!CpuInterfaceRules.TryRaiseDoorbell(c, _policies.Dbpm)) return 0;
        _doorbells++;
        return 1u << change.Vpe;
    }

    private void UpdateLine(int vpe) => _lines[vpe].Asserted = CpuInterfaceRules.IrqAsserted(_cpus[vpe]);

    /// <summary>The doorbell handler's kick (no lock held): wake each vCPU whose doorbell rang.</summary>
    private void Kick(uint doorbells)
    {
        while (doorbells != 0)
        {
            var v = System.Numerics.BitOperations.TrailingZeroCount(doorbells);
            doorbells &= doorbells - 1;
            _lines[v].Wake.Set();
        }
    }

    /// <summary>Wakes every vCPU thread (the end of a run).</summary>
    public void KickAll()
    {
        foreach (var l in _lines) l.Wake.Set();
    }

    private void ListAddTail(int spi)
    {
        _next[spi] = -1;
        _prev[spi] = _tail;
        if (_tail >= 0) _next[_tail] = spi; else _head = spi;
        _tail = spi;
        _listCount++;
    }

    private void ListDel(int spi)
    {
        var (p, n) = (_prev[spi], _next[spi]);
        if (p >= 0) _next[p] = n; else _head = n;
        if (n >= 0) _prev[n] = p; else _tail = p;
        _listCount--;
    }

    // ---- observation --------------------------------------------------------------------------------------------------

    /// <summary>At the end, with every lock taken: nothing pending or active, the AP list empty.</summary>
    public bool Quiescent()
    {
        var listTaken = false;
        var hwTaken = false;
        try
        {
            _apListLock.Enter(ref listTaken);
            _hw.Enter(ref hwTaken);
            if (_listCount != 0) return false;
            for (uint i = 0; i < _irqs.Length; i++)
                if (!_irs.Spis[i].Idle) return false;
            return true;
        }
        finally
        {
            if (hwTaken) _hw.Exit(false);
            if (listTaken) _apListLock.Exit(false);
        }
    }

    /// <summary>The run's counts and every broken invariant (I1 conservation, I2 every consumption notified and no
    /// notification without one, I3 the AP list empty, I4 nothing pending or active). Call once quiescent.</summary>
    public BaselineCounts Check()
    {
        var listTaken = false;
        var hwTaken = false;
        try
        {
            _apListLock.Enter(ref listTaken);
            _hw.Enter(ref hwTaken);
            var violations = new List<string>(_violations);
            if (_injected != _acknowledged + _coalesced) violations.Add($"I1: vm {VmId} injected {_injected} != acknowledged {_acknowledged} + coalesced {_coalesced}");
            if (_acknowledged != _deactivated) violations.Add($"vm {VmId}: acknowledged {_acknowledged} != deactivated {_deactivated}");
            for (var i = 0; i < _irqs.Length; i++)
            {
                if (_consumedSinceNotify[i] != 0) violations.Add($"I2: vm {VmId} spi:{i}: {_consumedSinceNotify[i]} consumption(s) never notified");
                if (_irqs[i].OnApList) violations.Add($"I3: vm {VmId} spi:{i} still on the AP list");
                if (!_irs.Spis[(uint)i].Idle) violations.Add($"I4: vm {VmId} spi:{i} still {_irs.Spis[(uint)i]}");
            }
            if (_listCount != 0) violations.Add($"I3: vm {VmId}: {_listCount} entries left on the AP list");
            return new BaselineCounts(_injected, _coalesced, _acknowledged, _deactivated, _notified, _doorbells, _residencyChanges, _folds, _foldSteps, violations);
        }
        finally
        {
            if (hwTaken) _hw.Exit(false);
            if (listTaken) _apListLock.Exit(false);
        }
    }
}

/// <summary>What one baseline VM (or a whole run, summed) counted, and the invariants it broke.</summary>
public sealed record BaselineCounts(long Injected, long Coalesced, long Acknowledged, long Deactivated, long Notified, long Doorbells,
    long ResidencyChanges, long Folds, long FoldSteps, IReadOnlyList<string> Violations)
{
    public static BaselineCounts Sum(IEnumerable<BaselineCounts> all)
    {
        long inj = 0, co = 0, ack = 0, de = 0, no = 0, db = 0, rc = 0, f = 0, fs = 0;
        var v = new List<string>();
        foreach (var c in all)
        {
            inj += c.Injected; co += c.Coalesced; ack += c.Acknowledged; de += c.Deactivated; no += c.Notified;
            db += c.Doorbells; rc += c.ResidencyChanges; f += c.Folds; fs += c.FoldSteps;
            v.AddRange(c.Violations.Take(Math.Max(0, 20 - v.Count)));
        }
        return new BaselineCounts(inj, co, ack, de, no, db, rc, f, fs, v);
    }
}
