using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Observation;

/// <summary>A broken invariant, naming where.</summary>
public sealed record Violation(string Invariant, int Vm, int? Vpe, IntId? IntId, string Message)
{
    public override string ToString() =>
        $"{Invariant} violated: vm {Vm}" + (Vpe is { } v ? $", vpe {v}" : "") + (IntId is { } i ? $", {i}" : "") + $": {Message}";
}

/// <summary>The sizes a log is checked against for I8 (isolation/range); null = not checked.</summary>
public sealed record FabricShape(int Vms, int Vcpus, int Spis);

/// <summary>
/// Checks I1–I8 (DESIGN.md §4) from the event stream alone, rebuilding each interrupt's state (P, A, E, priority,
/// target) and each VPE's (residency, doorbell request, APR) from the events, in seq order. The same checker serves
/// a live run and <c>check FILE.jsonl</c>. Feed events with <see cref="Observe"/> in seq order, then <see cref="Finish"/>.
/// <para>What I2 promises depends on the KVM design (DESIGN.md §6.2): under the seed's <see cref="KvmDesign.ApList"/>
/// every consumption of a tracked SPI is notified; under <see cref="KvmDesign.Merged"/> nothing is tracked or notified,
/// so a resampled level line (asserted by an irqfd-resample device) that the guest consumes is never lowered: the
/// irqfd-resample contract (SEMANTICS.md §3.3) is broken, and I2 says so at that consumption, naming the device
/// (<paramref name="deviceOf"/>: the device that drives an INTID, as the scenario names it).</para>
/// </summary>
public sealed class InvariantChecker(FabricShape? shape = null, bool pushTracking = true, KvmDesign design = KvmDesign.ApList,
    Func<IntId, string?>? deviceOf = null)
{
    public static readonly string[] All = ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"];
    private const int MaxViolations = 1000;
    /// <summary>The target of an interrupt routed to no VPE (its IAFFID is no vCPU's id).</summary>
    private const int NoVpe = -1;

    private sealed class Irq
    {
        public bool P, A, E, Tracked, EdgeInjected, LevelInjected, LevelOwed, LineLow, Starved, IsPpi;
        public int Priority, Target;
        public long EdgeInjections, Acks, Coalesced, TrackedDeactivations, Notified, ConsumedSinceNotify;
    }

    private sealed class Vpe
    {
        public bool Resident, Armed, Rung, Owed;
        /// <summary>Doorbells rung for it whose wake no load has yet said it was: what a load "by doorbell" must have behind it.</summary>
        public int DoorbellWakes;
        public int Dbpm;
        public uint Apr;
    }

    private readonly Dictionary<(int Vm, IntId Id, int Owner), Irq> _irqs = new();
    private readonly Dictionary<(int, int), Vpe> _vpes = new();
    /// <summary>Each VM's interrupts, so that per-VM scans do not walk the whole fabric.</summary>
    private readonly Dictionary<int, List<(IntId Id, Irq State)>> _perVm = new();
    private readonly List<Violation> _violations = new();
    private long _lastSeq;

    public IReadOnlyList<Violation> Violations => _violations;
    public long Events { get; private set; }

    public long Injected, Coalesced, Acknowledged, Deactivated, Notified, Resampled, Doorbells, ResidencyChanges, Migrations, LostVms;

    /// <summary>VMs that arrived by a handoff from a node whose log this is not (a multi-process cluster): their history
    /// before the move is elsewhere, so they are neither counted nor checked here.</summary>
    public IReadOnlyCollection<int> JoinedVms => _joined;
    /// <summary>VMs handed off to a node whose log this is not, and not back: their life goes on elsewhere, so the end
    /// of the run owes nothing for them here.</summary>
    public IReadOnlyCollection<int> DepartedVms => _departed.Keys;
    private readonly HashSet<int> _seen = new(), _joined = new();
    private readonly Dictionary<int, int> _departed = new();

    /// <summary>An interrupt's state; a PPI is per VPE (ppi:3 of VPE 0 is not ppi:3 of VPE 1).</summary>
    private Irq I(int vm, IntId id, int? vpe)
    {
        var key = (vm, id, id.IsPpi ? vpe ?? 0 : -1);
        if (_irqs.TryGetValue(key, out var s)) return s;
        // An interrupt starts as its ISTE (or PPI state) resets: priority 0, IAFFID 0, disabled. A CDPRI that writes
        // the value already held changes nothing and logs nothing, so the checker must start from the same value.
        s = _irqs[key] = new Irq { Priority = 0, Target = id.IsPpi ? vpe ?? 0 : 0, IsPpi = id.IsPpi };
        if (!_perVm.TryGetValue(vm, out var list)) _perVm[vm] = list = new List<(IntId, Irq)>();
        list.Add((id, s));
        return s;
    }
    private Vpe V(int vm, int vpe) => _vpes.TryGetValue((vm, vpe), out var s) ? s : _vpes[(vm, vpe)] = new Vpe();

    private void Fail(string inv, int vm, int? vpe, IntId? id, string msg)
    {
        if (_violations.Count < MaxViolations) _violations.Add(new Violation(inv, vm, vpe, id, msg));
    }

    public void Observe(in FabricEvent e)
    {
        Events++;
        if (e.Seq <= _lastSeq) Fail("I8", e.Vm, e.Vpe, e.IntId, $"event seq {e.Seq} is not after {_lastSeq}: the log is out of order");
        _lastSeq = e.Seq;
        if (!InRange(e)) return;
        if (e.Ev == Ev.Migrate && Handoff(e)) return;
        _seen.Add(e.Vm);
        if (_joined.Contains(e.Vm)) return;
        var id = e.IntId;
        var s = id is { } x ? I(e.Vm, x, e.Vpe) : null;
        switch (e.Ev)
        {
            case Ev.Inject:
                Injected++;
                if (e.Arg == "level") { s!.LevelInjected = true; s.LevelOwed = true; s.LineLow = false; }
                else { s!.EdgeInjected = true; s.EdgeInjections++; }
                break;
            case Ev.Pend:
                s!.P = true;
                // The seed's design queues an SPI on the AP list before its VDPEND: one KVM makes pending untracked was
                // taken off the list under an injection still in flight (a report judged against the wrong injection).
                if (e.Arg == FabricEvent.ByVdpend && KvmDesignRules.Tracks(design) && id is { IsSpi: true } && !s.Tracked)
                    Fail("I3", e.Vm, e.Vpe, id, "made pending by KVM's VDPEND while not on the AP list");
                // The IRS logs an SPI's or LPI's pend with the VPE its IAFFID names (null: none). It also tells the target
                // of an interrupt whose IAFFID no affinity event gave, e.g. vcpu_id 0 belonging to another vCPU than 0.
                if (!s.IsPpi) s.Target = e.Vpe ?? NoVpe;
                CheckOwed(e.Vm, s);
                break;
            case Ev.Coalesce: Coalesced++; s!.Coalesced++; break;
            case Ev.Unpend: s!.P = false; break;
            case Ev.Enable: s!.E = true; CheckOwed(e.Vm, s); break;
            case Ev.Disable: s!.E = false; break;
            case Ev.Priority: s!.Priority = int.Parse(e.Arg ?? "31", System.Globalization.CultureInfo.InvariantCulture); CheckOwed(e.Vm, s); break;
            // "vpe" is the VPE the new IAFFID ("arg") names, null when it names none (the interrupt is routed nowhere).
            case Ev.Affinity when !id!.Value.IsPpi: s!.Target = e.Vpe ?? NoVpe; CheckOwed(e.Vm, s); break;
            case Ev.Ack: Ack(e, s!); break;
            case Ev.Eoi:
                var v = V(e.Vm, e.Vpe ?? 0);
                if (v.Apr == 0) Fail("I6", e.Vm, e.Vpe, null, "priority drop with no active priority");
                v.Apr &= v.Apr - 1;
                break;
            case Ev.Deactivate:
                Deactivated++;
                if (!s!.A) Fail("I2", e.Vm, e.Vpe, id, "deactivated while not active");
                s.A = false;
                if (s.Tracked) { s.TrackedDeactivations++; s.ConsumedSinceNotify++; }
                if (!KvmDesignRules.Notifies(design) && s.LevelInjected && !s.LineLow && !s.Starved)
                {
                    // A resampled line whose consumption no notifier will ever report: the device starves (once per SPI).
                    s.Starved = true;
                    var device = id is { } starved && deviceOf?.Invoke(starved) is { } name ? $"device {name}" : "its irqfd-resample device";
                    Fail("I2", e.Vm, e.Vpe, id, $"{device}: consumed (deactivated) but never notified: {KvmDesignRules.NoNotifier}");
                }
                break;
            case Ev.Track:
                if (s!.Tracked) Fail("I3", e.Vm, null, id, "put on the AP list twice");
                s.Tracked = true;
                break;
            case Ev.Untrack:
                if (!s!.Tracked) Fail("I3", e.Vm, null, id, "taken off the AP list while not on it");
                s.Tracked = false;
                break;
            case Ev.Notify:
                Notified++;
                s!.Notified++;
                if (s.ConsumedSinceNotify == 0) Fail("I2", e.Vm, null, id, $"notifier fired (#{s.Notified}) without a consumption since the previous one");
                // Push: one notification per consumption (two consumptions may both precede their notifications);
                // fold: one notification covers every consumption since the previous fold.
                s.ConsumedSinceNotify = pushTracking ? Math.Max(0, s.ConsumedSinceNotify - 1) : 0;
                break;
            case Ev.Resample: Resampled++; s!.LineLow = true; break;
            case Ev.Resident:
                ResidencyChanges++;
                EndPeriod(e.Vm, e.Vpe ?? 0, e.Arg);
                V(e.Vm, e.Vpe ?? 0).Resident = true;
                break;
            case Ev.Nonresident:
                ResidencyChanges++;
                var n = V(e.Vm, e.Vpe ?? 0);
                n.Resident = false;
                n.Rung = n.Owed = false;
                n.Armed = e.Arg is { } a && a.StartsWith("db:", StringComparison.Ordinal);
                n.Dbpm = n.Armed ? int.Parse(e.Arg![3..], System.Globalization.CultureInfo.InvariantCulture) : -1;
                if (n.Armed)
                    if (_perVm.TryGetValue(e.Vm, out var irqs))
                        foreach (var (_, irq) in irqs)
                            if (irq.Target == e.Vpe) CheckOwed(e.Vm, irq);
                break;
            case Ev.Migrate: Migrations++; break;
            case Ev.Lost:
                // A VmActor that crashed in the middle of a move or a load took the VM's state with it: nothing owes the
                // VM's interrupts any more, but the loss itself fails the run (a node's crash is the cluster's to report).
                if (e.Arg?.StartsWith(FabricEvent.CrashedLost, StringComparison.Ordinal) == true)
                    Fail("I8", e.Vm, null, null, $"VM {e.Vm} was lost: its VmActor crashed during a move or a load ({e.Arg})");
                Forget(e.Vm);
                break;
            case Ev.Doorbell:
                Doorbells++;
                var d = V(e.Vm, e.Vpe ?? 0);
                if (d.Resident) Fail("I7", e.Vm, e.Vpe, id, "doorbell for a resident VPE");
                else if (!d.Armed && !d.Rung) Fail("I7", e.Vm, e.Vpe, id, "doorbell for a VPE that requested none");
                else if (d.Rung) Fail("I7", e.Vm, e.Vpe, id, "second doorbell in one non-resident period");
                d.Rung = true;
                d.Armed = false;
                d.DoorbellWakes++;
                break;
        }
    }

    private void Ack(in FabricEvent e, Irq s)
    {
        Acknowledged++;
        var id = e.IntId!.Value;
        var vpe = e.Vpe ?? 0;
        if (!s.P || !s.E || s.A) Fail("I6", e.Vm, vpe, id, $"acknowledged while not pending+enabled+inactive (P={s.P} E={s.E} A={s.A})");
        foreach (var (other, o) in _perVm[e.Vm])
            if (other != id && other.IsPpi == id.IsPpi && o.P && o.E && !o.A && o.Target == vpe && o.Priority < s.Priority)
            {
                Fail("I6", e.Vm, vpe, id, $"acknowledged at priority {s.Priority} while {other} at priority {o.Priority} was pending for the same VPE");
                break;
            }
        var v = V(e.Vm, vpe);
        var running = v.Apr == 0 ? Priority.Idle : System.Numerics.BitOperations.TrailingZeroCount(v.Apr);
        if (s.Priority >= running) Fail("I6", e.Vm, vpe, id, $"acknowledged at priority {s.Priority}, not above the running priority {running}");
        v.Apr |= 1u << s.Priority;
        s.A = true;
        if (e.Arg != "level") s.P = false;
        s.Acks++;
        if (s.LevelInjected)
        {
            if (s.LineLow && !s.LevelOwed) Fail("I5", e.Vm, vpe, id, "level SPI delivered again after its line was lowered");
            s.LevelOwed = false;
        }
    }

    /// <summary>I7 "never lost": a pending, enabled, inactive interrupt whose priority would signal (&lt;= DBPM) for a
    /// non-resident VPE that requested a doorbell is owed one before that VPE runs again. A PPI is owed none: PPIs never
    /// ring the IRS doorbell, KVM kicks the vCPU for them (SEMANTICS.md §0.1); one that never woke it stays pending (I4).
    /// A WFI that a wake ends (its <c>resident</c> says <see cref="FabricEvent.ByKick"/> or
    /// <see cref="FabricEvent.ByDoorbell"/>) owes no doorbell either: the VPE runs again and takes the interrupt. That
    /// holds for a wake late from an earlier period too (a doorbell's wake a kick overtook, a wake the host scheduler held
    /// during a move): a spurious wake, as WFI allows. A WFI that ends with no wake while owed one fails, and a doorbell
    /// still owed at the end of the run fails.</summary>
    private void CheckOwed(int vm, Irq s)
    {
        if (!(s.P && s.E && !s.A) || s.IsPpi) return;
        if (!_vpes.TryGetValue((vm, s.Target), out var v) || v.Resident || !v.Armed) return;
        if (s.Priority <= v.Dbpm) v.Owed = true;
    }

    /// <summary>
    /// A VM leaving its node (<c>handoff-out gen=G</c>, logged by the node that saves it) or arriving on one
    /// (<c>... gen=G handoff</c>, by the node that restores it). In one log both halves appear, in order, with consecutive
    /// generations: the VM is checked straight across the move. A VM that arrives never seen, or after a life elsewhere
    /// (generations not consecutive), is left alone here; one that left and has not come back owes nothing at the end.
    /// Returns true when the event is taken (a departure, or an arrival this log does not check).
    /// </summary>
    private bool Handoff(in FabricEvent e)
    {
        if (e.Migration is not { Kind: not MoveKind.Local } m) return false;
        if (m.Kind == MoveKind.HandOffOut)
        {
            _seen.Add(e.Vm);
            if (!_joined.Contains(e.Vm)) _departed[e.Vm] = m.Generation;
            return true;
        }
        if (_departed.Remove(e.Vm, out var left) && m.Generation != left + 1) { Erase(e.Vm); _joined.Add(e.Vm); }
        else if (!_seen.Contains(e.Vm)) _joined.Add(e.Vm);
        return false;
    }

    /// <summary>A VM whose node was lost: its interrupts and VPEs are gone with it (a crashed host's guests are not owed
    /// anything); it is checked afresh from its recreation on.</summary>
    private void Forget(int vm)
    {
        LostVms++;
        Erase(vm);
        _joined.Remove(vm);      // its new life starts here, in this log
        _departed.Remove(vm);
    }

    private void Erase(int vm)
    {
        foreach (var key in _irqs.Keys.Where(k => k.Vm == vm).ToList()) _irqs.Remove(key);
        foreach (var key in _vpes.Keys.Where(k => k.Item1 == vm).ToList()) _vpes.Remove(key);
        _perVm.Remove(vm);
    }

    /// <summary>A load ends a non-resident period: one owed a doorbell fails unless a wake ended it — a kick, or a doorbell
    /// rung for this VPE (in this period or an earlier one) whose wake no earlier load took.</summary>
    private void EndPeriod(int vm, int vpe, string? wokenBy)
    {
        var v = V(vm, vpe);
        var woken = wokenBy == FabricEvent.ByKick || (wokenBy == FabricEvent.ByDoorbell && v.DoorbellWakes > 0);
        if (wokenBy == FabricEvent.ByDoorbell && v.DoorbellWakes > 0) v.DoorbellWakes--;
        if (v.Owed && !v.Rung && !woken) Fail("I7", vm, vpe, null, "missed doorbell: an interrupt that could signal was pending while the VPE waited in WFI and none was raised");
        v.Owed = false;
    }

    private bool InRange(in FabricEvent e)
    {
        if (shape is null) return true;
        string? why = null;
        if (e.Vm < 0 || e.Vm >= shape.Vms) why = $"VM {e.Vm} is outside 0..{shape.Vms - 1}";
        else if (e.Vpe is { } v && (v < 0 || v >= shape.Vcpus)) why = $"VPE {v} is outside 0..{shape.Vcpus - 1}";
        else if (e.IntId is { IsSpi: true } i && i.Id >= shape.Spis) why = $"{i} is beyond the VM's {shape.Spis} SPIs";
        if (why is null) return true;
        Fail("I8", e.Vm, e.Vpe, e.IntId, why);
        return false;
    }

    /// <summary>The end-of-run checks (I1 conservation, I2 never none, I3 AP list empty, I4 nothing stuck, I5 delivered,
    /// I7 no doorbell owed). Returns every violation found.</summary>
    public IReadOnlyList<Violation> Finish()
    {
        foreach (var ((vm, id, _), s) in _irqs)
        {
            if (_departed.ContainsKey(vm)) continue;
            if (s.EdgeInjected && !s.LevelInjected && s.EdgeInjections != s.Acks + s.Coalesced)
                Fail("I1", vm, s.Target, id, $"injected {s.EdgeInjections} != acknowledged {s.Acks} + coalesced {s.Coalesced}");
            if (s.ConsumedSinceNotify > 0)
                Fail("I2", vm, null, id, $"{s.ConsumedSinceNotify} consumption(s) never notified");
            if (pushTracking && s.Notified != s.TrackedDeactivations)
                Fail("I2", vm, null, id, $"notified {s.Notified} times for {s.TrackedDeactivations} deactivations under push tracking");
            if (s.Tracked) Fail("I3", vm, null, id, "still on the AP list at the end");
            if (s.P && s.E) Fail("I4", vm, s.Target, id, "enabled and still pending at the end");
            if (s.A) Fail("I4", vm, s.Target, id, "still active at the end");
            if (s.LevelOwed) Fail("I5", vm, s.Target, id, "level line asserted but never delivered");
        }
        foreach (var ((vm, vpe), v) in _vpes.Where(kv => !_departed.ContainsKey(kv.Key.Item1)))
            if (v.Owed && !v.Rung) Fail("I7", vm, vpe, null, "missed doorbell: still owed at the end");
        return _violations;
    }

    /// <summary>Interrupts pending and enabled right now (for the report's pendingAtEnd) and AP-list entries.</summary>
    public int PendingNow => _irqs.Values.Count(s => s.P && s.E);
    public int TrackedNow => _irqs.Values.Count(s => s.Tracked);
}
