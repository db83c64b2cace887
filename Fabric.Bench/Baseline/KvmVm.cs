using Fabric.Hardware.Protocol;
using System.Diagnostics;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.ApListProtocol;

namespace Fabric.Bench.Baseline;

/// <summary>
/// One VM the way KVM runs it, under KVM's locks: the lock interpreter of the protocol (DESIGN.md §6.3). It owns the
/// units the actors and <see cref="Fabric.Hardware.Reference.VmModel"/> own — the IRS slice (<see cref="VirtualIrsState"/>),
/// a VPE per vCPU (<see cref="VpeState"/>) and KVM's SPI bookkeeping (<see cref="ApListState"/>) — and calls their
/// <c>Handle</c> directly from the injector and vCPU threads, so that the bench compares concurrency mechanisms on
/// identical work. No glue lives here: what a message does is the unit's; this class adds KVM's locks, performs the
/// units' effects, and counts.
/// <para><b>The locks</b>, in KVM's order (SEMANTICS.md §3.2), outermost first:</para>
/// <list type="number">
/// <item><c>vgic_v5_spi_ap_list_lock</c> (<see cref="_apListLock"/>): under the seed's design (<see cref="KvmDesign.ApList"/>)
/// every step of the AP-list unit — the list is one object (links, count, fold state), and an injection's step queues
/// on it, a report's step may take an entry off, so the lock must cover the whole unit for no step to race another.
/// KVM takes it only on the queue path, after VDPEND; here an injection holds it across its VDPEND (in the closed-loop
/// storms every injection queues, so KVM takes it for each of them too: only the hold is longer). Under the merged design the unit
/// keeps no list and its per-SPI steps never touch one, so only its list-wide steps (a vCPU exit) take this lock.</item>
/// <item>the SPI's <c>irq_lock</c> (<see cref="_irqLocks"/>): around every step of the AP-list unit on one SPI (an
/// injection, a report of its end, its trigger mode), and around the fold's step for each of its entries. Under the
/// merged design it is the unit's only lock for those steps — all the merged KVM takes.</item>
/// <item>the hardware (<see cref="_hw"/>): the IRS slice and every VPE's CPU interface, held for one hardware operation
/// — the message that starts it and the IRS↔CPU-interface stream it causes (offers, an activation and its answer),
/// delivered in FIFO order until quiet. Real hardware serialises its IRS internally; a user-space spin lock cannot
/// disable preemption as <c>raw_spin_lock_irqsave</c> does, so with more threads than cores a holder can be preempted —
/// the lock-holder preemption the per-vCPU-thread run shows, and the threads-per-core run avoids.</item>
/// </list>
/// <para><b>Where each effect is performed</b> (no lock is taken while a later one in that order is held):</para>
/// <list type="bullet">
/// <item>a message to the IRS or a VPE: inside the hardware lock, taken by the thread that holds the AP-list locks of
/// the step that sent it (an injection's VDPEND under its irq_lock, as KVM issues it; a fold's VDRCFG under the list lock);</item>
/// <item>a message from the hardware to the AP list: after the hardware lock is dropped, under the AP-list locks the
/// operation already holds (a fold's result, the retire report of KVM's own VDPEND(0) — the same SPI whose irq_lock the
/// injection holds), or, for an operation that began at the hardware (a guest's CDDI under the merged design, the
/// boot), under the locks its step needs, taken then, outermost first. Under push tracking the IRS would report ends
/// from every CDDI, from several threads at once, and their order to the AP list would be the threads' race: the seed
/// folds, so the baseline runs fold tracking and refuses push;</item>
/// <item>an asserted virtual IRQ (to the vCPU): a flag the vCPU thread takes before its CDIA (the message waiting in
/// its mailbox); a doorbell or a PPI kick (to the host scheduler): the vCPU's wake flag, and its thread woken once
/// every lock is dropped;</item>
/// <item>a CDIA's answer (told to the vCPU's token): the value <see cref="Cdia"/> returns, inside the same hardware
/// operation;</item>
/// <item>the notifier (told to a device's token): the device's callback (<see cref="Notifier"/>) after every lock is
/// dropped (SEMANTICS.md §3.2 hazard 1); under the merged design the same callback is the device's own completion
/// path (<see cref="DeviceProtocol.Consumed"/>) and counts no notification.</item>
/// </list>
/// <para>What stays the baseline's own: the threads (<see cref="BaselineRun"/>), the locks, the counts, and the checks
/// of the invariants at the end of a run.</para>
/// </summary>
public sealed class KvmVm
{
    /// <summary>The tokens a unit replies to: the IRS slice and the AP list, as boxed addresses (made once).</summary>
    private static readonly object IrsToken = UnitAddress.Irs, ApListToken = UnitAddress.ApList;
    /// <summary>The caller of the boot and of KVM's own operations: a refusal told to it is a defect of the driver.</summary>
    private static readonly object Caller = new();
    /// <summary>The token every irqfd registers its notifier with (KVM_IRQFD): what the AP list tells it is the device's callback.</summary>
    private static readonly object Device = new();
    private static readonly ResidencyProtocol.MakeNonResident PutWfi = new(Wfi: true), PutRunnable = new(Wfi: false);
    private static readonly VcpuExit AnExit = new(-1);

    private readonly VmShape _shape;
    private readonly VirtualIrsState _irs;
    private readonly VpeState[] _vpes;
    private readonly ApListState _apList;
    private readonly object[] _vpeTokens;
    /// <summary>The seed's design: the AP-list unit keeps a list, and every step of it takes the list lock.</summary>
    private readonly bool _tracks;
    private readonly bool _notifies;
    private SpinLock _apListLock = new(enableThreadOwnerTracking: false);
    private readonly SpinLock[] _irqLocks;
    private SpinLock _hw = new(enableThreadOwnerTracking: false);
    private readonly VcpuLine[] _lines;

    // Counts of hardware events, written under _hw.
    private long _injected, _coalesced, _acknowledged, _deactivated, _doorbells, _residencyChanges, _folds, _foldSteps;
    private readonly long[] _consumedSinceNotify, _deactivatedAt;
    // KVM's count of notifications, written under the list lock.
    private long _notified;
    private readonly List<string> _violations = new();

    /// <summary>What the units told one vCPU thread (its mailbox, as flags), and its wake-up (kvm_vcpu_kick).</summary>
    private sealed class VcpuLine
    {
        /// <summary>The VPE asserted the virtual IRQ since the thread last took it.</summary>
        public volatile bool Irq;
        /// <summary>A doorbell (or a PPI kick) since the vCPU's last put.</summary>
        public volatile bool Woken;
        public readonly ManualResetEventSlim Wake = new(false, spinCount: 20);
        /// <summary>The answer to this vCPU's CDIA, written inside the hardware operation that made it.</summary>
        public IntId? Acked;
    }

    /// <summary>One message for a unit, with its sender's token.</summary>
    private readonly record struct Delivery(UnitAddress To, object Message, object? Sender);

    /// <summary>One operation on one thread: the messages it still has to deliver, the AP-list locks it holds, and what is
    /// performed once every lock is dropped (kicks, device callbacks). Reused per thread.</summary>
    private sealed class Scope
    {
        public readonly Effects Fx = new();
        public readonly Queue<Delivery> Hw = new(), ApList = new();
        public bool List;
        public int Irq = -1;
        /// <summary>The operation is an injection that raises its line: its VDPEND counts as injected.</summary>
        public bool Raise;
        public uint Kicks;
        public readonly List<uint> Callbacks = new();
    }

    [ThreadStatic] private static Scope? _spare;

    public KvmVm(int vmId, VmSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (KvmDesignRules.Tracks(spec.Policies.Kvm) && spec.Policies.Tracking != TrackingPolicy.Fold)
            throw new ArgumentException($"the lock baseline runs the seed's KVM, which folds at every exit: tracking = fold, not {spec.Policies.Tracking}", nameof(spec));
        foreach (var s in spec.Interrupts)
            if (s.Ids.Type != IntIdType.Spi) throw new NotSupportedException($"the baseline's guest programs SPIs only, not {s.Ids.Type} {s.Ids.First}-{s.Ids.Last}");
        VmId = vmId;
        _shape = new VmShape(vmId, spec.Vcpus, spec.Policies);
        var units = VmUnits.Fresh(vmId, spec);
        _irs = units.Virs;
        _vpes = units.Vpes;
        _apList = units.ApList;
        _vpeTokens = Enumerable.Range(0, spec.Vcpus).Select(v => (object)UnitAddress.Vpe(v)).ToArray();
        _tracks = KvmDesignRules.Tracks(spec.Policies.Kvm);
        _notifies = KvmDesignRules.Notifies(spec.Policies.Kvm);
        _lines = Enumerable.Range(0, spec.Vcpus).Select(_ => new VcpuLine()).ToArray();
        _irqLocks = new SpinLock[spec.Spis];
        for (var i = 0; i < _irqLocks.Length; i++) _irqLocks[i] = new SpinLock(enableThreadOwnerTracking: false);
        _consumedSinceNotify = new long[spec.Spis];
        _deactivatedAt = new long[spec.Spis];
        // The guest's boot (vCPU 0 programs its SPIs, as the VM actor sends it), then the VMM's irqfds.
        AtHardware(UnitAddress.Irs, new IrsProtocol.ProgramAtBoot(VmUnits.IrsBootProgram(spec)), Caller);
        foreach (var d in spec.Devices)
            foreach (var id in d.Ids.All()) AtApList(Rent(), new RegisterNotifier(id.Id, Device));
    }

    public int VmId { get; }
    public int Vcpus => _vpes.Length;
    public int Spis => _irqLocks.Length;
    /// <summary>kvm_notify_acked_irq's subscriber (the irqfd side); called with no lock held.</summary>
    public Action<KvmVm, uint>? Notifier { get; set; }
    /// <summary>When set, the deactivation-to-notifier latency (Stopwatch ticks) of every notification, recorded under the list lock.</summary>
    public HdrHistogram.LongHistogram? NotifyLatency { get; set; }

    public long Deactivated => Volatile.Read(ref _deactivated);

    // ---- the injector side ----------------------------------------------------------------------------------------------

    /// <summary>kvm_set_irq for an SPI from its irqfd: the AP-list unit's injection (validate, line_level / pending_latch,
    /// VDPEND, queue), under the list lock (seed's design) and the SPI's irq_lock, its VDPEND under the hardware lock.</summary>
    public void Inject(uint spi, bool level)
    {
        var s = Rent();
        s.Raise = level;
        AtApList(s, new SetIrq(spi, level));
    }

    // ---- the vCPU side: the guest's instructions (hardware, no trap) ----------------------------------------------------

    /// <summary>Takes the virtual IRQ the VPE asserted for this vCPU since the last take (false: none).</summary>
    public bool TakeIrq(int vpe)
    {
        var line = _lines[vpe];
        if (!line.Irq) return false;
        line.Irq = false;
        return true;
    }

    /// <summary>Whether the VPE asserted the virtual IRQ since the vCPU thread last took it.</summary>
    public bool IrqPending(int vpe) => _lines[vpe].Irq;

    /// <summary>GICR CDIA: the acknowledged INTID, or null (spurious).</summary>
    public IntId? Cdia(int vpe)
    {
        var line = _lines[vpe];
        line.Acked = null;
        AtHardware(UnitAddress.Vpe(vpe), CpuInterfaceProtocol.Cdia.Instance, line);
        return line.Acked;
    }

    /// <summary>GIC CDEOI: priority drop.</summary>
    public void Cdeoi(int vpe) => AtHardware(UnitAddress.Vpe(vpe), CpuInterfaceProtocol.Cdeoi.Instance, _lines[vpe]);

    /// <summary>GIC CDDI of an SPI: the IRS deactivates it (under the merged design, and then, it reports the end to KVM's
    /// SPI entry point for the device's completion path).</summary>
    public void Cddi(int vpe, IntId id) => AtHardware(UnitAddress.Irs, new IrsProtocol.Cddi(id, vpe), _lines[vpe]);

    // ---- KVM on the vCPU thread: load, put, exit -------------------------------------------------------------------------

    /// <summary>vgic_v5_load: make the VPE resident. An IRQ asserted while the vCPU was not running is dropped (as the vCPU
    /// actor drops it): the load asserts it again if it still signals.</summary>
    public void Load(int vpe)
    {
        _lines[vpe].Irq = false;
        AtHardware(UnitAddress.Vpe(vpe), ResidencyProtocol.MakeResident.Instance, _lines[vpe]);
    }

    /// <summary>vgic_v5_put: make the VPE non-resident — in WFI with a doorbell request at the effective mask − 1 (an
    /// interrupt already pending rings it at once) — then the exit's kvm_vgic_sync_hwstate (<see cref="Exit"/>).</summary>
    public void Put(int vpe, bool wfi)
    {
        _lines[vpe].Woken = false;
        AtHardware(UnitAddress.Vpe(vpe), wfi ? PutWfi : PutRunnable, _lines[vpe]);
        Exit();
    }

    /// <summary>Whether this vCPU's doorbell rang (or a PPI kicked it) since its last put: the doorbell handler's kick.</summary>
    public bool Woken(int vpe) => _lines[vpe].Woken;

    /// <summary>The wake-up of a vCPU thread blocked in WFI (set by its doorbell's kick).</summary>
    public ManualResetEventSlim WakeOf(int vpe) => _lines[vpe].Wake;

    /// <summary>A vCPU exit: kvm_vgic_sync_hwstate, where the seed's design folds — the AP-list unit's step under the list
    /// lock, its VDRCFG over the entries under the hardware lock, their fold under each entry's irq_lock.</summary>
    public void Exit() => AtApList(Rent(), AnExit);

    /// <summary>Wakes every vCPU thread (the end of a run).</summary>
    public void KickAll()
    {
        foreach (var l in _lines) l.Wake.Set();
    }

    // ---- the interpreter ----------------------------------------------------------------------------------------------------

    private static Scope Rent()
    {
        var s = _spare ?? new Scope();
        _spare = null;
        return s;
    }

    /// <summary>An operation that begins at the AP-list unit: its locks taken (outermost first), the step and everything it
    /// causes run, the locks dropped, then the kicks and callbacks.</summary>
    private void AtApList(Scope s, object message)
    {
        try
        {
            Lock(s, message);
            s.ApList.Enqueue(new Delivery(UnitAddress.ApList, message, Caller));
            Run(s, leaveUncovered: false);
        }
        finally { Unlock(s); }
        Finish(s);
    }

    /// <summary>An operation that begins at the hardware (a guest instruction, a load or put, the boot): one hardware
    /// operation, then whatever it told the AP list, each step under its own locks taken now that the hardware lock is
    /// dropped, in the order the hardware produced them.</summary>
    private void AtHardware(UnitAddress to, object message, object sender)
    {
        var s = Rent();
        s.Hw.Enqueue(new Delivery(to, message, sender));
        Hardware(s);
        while (s.ApList.TryPeek(out var next))
        {
            try
            {
                Lock(s, next.Message);
                Run(s, leaveUncovered: true);
            }
            finally { Unlock(s); }
        }
        Finish(s);
    }

    /// <summary>Delivers what the scope holds until nothing is left: the hardware's messages as one hardware operation, the
    /// AP list's under the locks the scope holds. A message for the AP list those locks do not cover is left to the
    /// caller when <paramref name="leaveUncovered"/>, else a path this interpreter does not lock: refused loudly.</summary>
    private void Run(Scope s, bool leaveUncovered)
    {
        while (true)
        {
            if (s.Hw.Count > 0) { Hardware(s); continue; }
            if (!s.ApList.TryPeek(out var d)) return;
            if (d.Message is IrsProtocol.VdrcfgResult fold && s.List && s.Irq < 0)
            {
                s.ApList.Dequeue();
                Fold(s, d, fold);
                continue;
            }
            if (!Covers(s, d.Message))
            {
                if (leaveUncovered) return;
                throw new InvalidOperationException(
                    $"vm {VmId}: the AP list's {d.Message.GetType().Name} needs locks this operation does not hold (list lock {(s.List ? "held" : "not held")}, irq_lock {(s.Irq >= 0 ? "spi:" + s.Irq : "none")}): a message path the baseline does not lock");
            }
            s.ApList.Dequeue();
            Step(_apList, UnitAddress.ApList, d, s);
        }
    }

    /// <summary>One hardware operation: the IRS slice and the CPU interfaces exchange their messages, in FIFO order, under
    /// the hardware lock until none is left for them.</summary>
    private void Hardware(Scope s)
    {
        var taken = false;
        try
        {
            _hw.Enter(ref taken);
            while (s.Hw.TryDequeue(out var d))
            {
                switch (d.Message)
                {
                    case IrsProtocol.Vdpend when s.Raise: _injected++; break;
                    case IrsProtocol.Vdrcfg v:
                        _folds++;
                        _foldSteps += v.Spis.Length;
                        break;
                }
                Step(d.To.Kind == UnitKind.Irs ? _irs : _vpes[d.To.Index], d.To, d, s);
            }
        }
        finally { if (taken) _hw.Exit(false); }
    }

    /// <summary>The fold's result, under the list lock the exit holds and the irq_lock of every entry it folds (KVM takes
    /// them one entry at a time; the unit folds its entries in one step). Only the fold holds more than one irq_lock, and
    /// it holds the list lock, so no two threads take them in different orders.</summary>
    private void Fold(Scope s, in Delivery d, IrsProtocol.VdrcfgResult fold)
    {
        var held = 0;
        try
        {
            for (; held < fold.Spis.Length; held++)
            {
                var taken = false;
                _irqLocks[fold.Spis[held]].Enter(ref taken);
            }
            Step(_apList, UnitAddress.ApList, d, s);
        }
        finally
        {
            for (var i = held - 1; i >= 0; i--) _irqLocks[fold.Spis[i]].Exit(false);
        }
    }

    /// <summary>One unit's step: its effects routed — messages queued for their unit, tells answered, events counted.</summary>
    private void Step(IVmUnit unit, UnitAddress at, in Delivery d, Scope s)
    {
        var fx = s.Fx.Begin(d.Sender);
        if (!unit.Handle(d.Message, _shape, fx)) throw new InvalidOperationException($"vm {VmId}: {at} does not take {d.Message.GetType().Name}");
        foreach (ref readonly var e in fx.Items)
        {
            switch (e.Kind)
            {
                case EffectKind.Send: Deliver(e.To, e.Message!, at, s); break;
                case EffectKind.Tell: Tell(e.Target!, e.Message!, at, s); break;
                default: Count(e); break;
            }
        }
        fx.Clear();
    }

    /// <summary>This interpreter's wiring: where a message to a unit's address goes.</summary>
    private void Deliver(UnitAddress to, object message, UnitAddress from, Scope s)
    {
        var sender = from.Kind switch { UnitKind.Irs => IrsToken, UnitKind.ApList => ApListToken, _ => _vpeTokens[from.Index] };
        switch (to.Kind)
        {
            case UnitKind.Irs or UnitKind.Vpe: s.Hw.Enqueue(new Delivery(to, message, sender)); break;
            case UnitKind.ApList: s.ApList.Enqueue(new Delivery(to, message, sender)); break;
            case UnitKind.Vcpu when message is CpuInterfaceProtocol.IrqAsserted: _lines[to.Index].Irq = true; break;
            case UnitKind.Scheduler when message is ResidencyProtocol.Doorbell or ResidencyProtocol.Kick:
                var vpe = message is ResidencyProtocol.Doorbell db ? db.Vpe : ((ResidencyProtocol.Kick)message).Vpe;
                _lines[vpe].Woken = true;
                s.Kicks |= 1u << vpe;
                break;
            default: throw new InvalidOperationException($"vm {VmId}: the baseline has no {to} for {message.GetType().Name}");
        }
    }

    /// <summary>A message to a party that is not a unit: a unit's reply to another unit (by its boxed address), a CDIA's
    /// answer to the vCPU that asked, the notifier's (or the merged design's completion) to a device, a refusal.</summary>
    private void Tell(object target, object message, UnitAddress from, Scope s)
    {
        if (target is UnitAddress unit) Deliver(unit, message, from, s);
        else if (target is VcpuLine line && message is CpuInterfaceProtocol.CdiaResult r) line.Acked = r.Id;
        else if (target == Device && message is DeviceProtocol.Notified n) s.Callbacks.Add(n.Spi);
        else if (target == Device && message is DeviceProtocol.Consumed c) s.Callbacks.Add(c.Spi);
        else if (message is IrsProtocol.Refused refused) throw new InvalidOperationException($"vm {VmId}: {refused.Operation} refused: {refused.Reason}");
        else throw new InvalidOperationException($"vm {VmId}: {from} told {message.GetType().Name} to a party the baseline does not have");
    }

    /// <summary>Once every lock is dropped: the doorbell handler's kicks, then the devices' callbacks (hazard 1).</summary>
    private void Finish(Scope s)
    {
        for (var kicks = s.Kicks; kicks != 0; kicks &= kicks - 1)
            _lines[System.Numerics.BitOperations.TrailingZeroCount(kicks)].Wake.Set();
        if (Notifier is { } notify)
            foreach (var spi in s.Callbacks) notify(this, spi);
        s.Kicks = 0;
        s.Raise = false;
        s.Callbacks.Clear();
        _spare = s;
    }

    // ---- the locks ----------------------------------------------------------------------------------------------------

    /// <summary>The locks the AP-list unit's step on <paramref name="message"/> needs: the list lock under the seed's design
    /// (and for a list-wide step under either), and the irq_lock of the SPI a per-SPI step names (none for an SPI the VM
    /// lacks: the unit refuses it and touches nothing). A fold's result takes its entries' irq_locks itself.</summary>
    private (bool List, int Spi) LocksOf(object message) => message switch
    {
        SetIrq m => (_tracks, IrqOf(m.Spi)),
        Deactivated m => (_tracks, IrqOf(m.Spi)),
        SpiConfigured m => (_tracks, IrqOf(m.Spi)),
        _ => (true, -1),   // a vCPU exit, a fold's result, a notifier's registration: the unit's list-wide state
    };

    private int IrqOf(uint spi) => spi < _irqLocks.Length ? (int)spi : -1;

    private bool Covers(Scope s, object message)
    {
        var (list, spi) = LocksOf(message);
        return (!list || s.List) && (spi < 0 || s.Irq == spi);
    }

    private void Lock(Scope s, object message)
    {
        var (list, spi) = LocksOf(message);
        if (list)
        {
            var taken = false;
            _apListLock.Enter(ref taken);
            s.List = true;
        }
        if (spi >= 0)
        {
            var taken = false;
            _irqLocks[spi].Enter(ref taken);
            s.Irq = spi;
        }
    }

    private void Unlock(Scope s)
    {
        if (s.Irq >= 0) _irqLocks[s.Irq].Exit(false);
        if (s.List) _apListLock.Exit(false);
        s.Irq = -1;
        s.List = false;
    }

    // ---- counts and checks ---------------------------------------------------------------------------------------------

    /// <summary>An event a unit logged, counted under the lock its unit's step holds.</summary>
    private void Count(in Effect e)
    {
        switch (e.Ev)
        {
            case Ev.Coalesce: _coalesced++; break;
            case Ev.Ack: _acknowledged++; break;
            case Ev.Deactivate:
                Volatile.Write(ref _deactivated, _deactivated + 1);
                if (_notifies && e.IntId is { IsSpi: true } id && _consumedSinceNotify[id.Id]++ == 0) _deactivatedAt[id.Id] = Stopwatch.GetTimestamp();
                break;
            case Ev.Doorbell: _doorbells++; break;
            case Ev.Resident or Ev.Nonresident: _residencyChanges++; break;
            case Ev.Notify: Notified(e.IntId!.Value.Id); break;
        }
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

    /// <summary>At the end, with every lock taken: nothing pending or active, the AP list empty.</summary>
    public bool Quiescent() => Observe(() =>
    {
        if (_apList.List.Count != 0) return false;
        for (uint i = 0; i < _irqLocks.Length; i++)
            if (!_irs.Irs.Spis[i].Idle) return false;
        return true;
    });

    /// <summary>The run's counts and every broken invariant (I1 conservation, I2 every consumption notified and no
    /// notification without one, I3 the AP list empty, I4 nothing pending or active). Call once quiescent.</summary>
    public BaselineCounts Check() => Observe(() =>
    {
        var violations = new List<string>(_violations);
        if (_injected != _acknowledged + _coalesced) violations.Add($"I1: vm {VmId} injected {_injected} != acknowledged {_acknowledged} + coalesced {_coalesced}");
        if (_acknowledged != _deactivated) violations.Add($"vm {VmId}: acknowledged {_acknowledged} != deactivated {_deactivated}");
        for (uint i = 0; i < _irqLocks.Length; i++)
        {
            if (_consumedSinceNotify[i] != 0) violations.Add($"I2: vm {VmId} spi:{i}: {_consumedSinceNotify[i]} consumption(s) never notified");
            if (_apList.List[i].OnApList) violations.Add($"I3: vm {VmId} spi:{i} still on the AP list");
            if (!_irs.Irs.Spis[i].Idle) violations.Add($"I4: vm {VmId} spi:{i} still {_irs.Irs.Spis[i]}");
        }
        if (_apList.List.Count != 0) violations.Add($"I3: vm {VmId}: {_apList.List.Count} entries left on the AP list");
        return new BaselineCounts(_injected, _coalesced, _acknowledged, _deactivated, _notified, _doorbells, _residencyChanges, _folds, _foldSteps, violations);
    });

    /// <summary>Reads the units' state with the list lock and the hardware lock held (no step of any unit runs meanwhile).</summary>
    private T Observe<T>(Func<T> read)
    {
        var listTaken = false;
        var hwTaken = false;
        try
        {
            _apListLock.Enter(ref listTaken);
            _hw.Enter(ref hwTaken);
            return read();
        }
        finally
        {
            if (hwTaken) _hw.Exit(false);
            if (listTaken) _apListLock.Exit(false);
        }
    }
}

/// <summary>What one baseline VM (or a whole run, summed) counted, and the invariants it broke. <see cref="Folds"/>: the
/// exits that found the AP list non-empty and read it with VDRCFG; <see cref="FoldSteps"/>: the VDRCFGs they issued.</summary>
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
