using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// One VM: creates and supervises its interrupt actors (virs, ap-list, vpe-N, vcpu-N, scheduler, devices), each
/// around the hardware state it owns; boots the guest (programs its interrupts, loads its vCPUs) and starts the
/// devices. A crashed child is restarted around the same state, so nothing it owned is lost.
/// <para>It is also the VM's front door for the host (start, stop, an injection from outside) and the VMM that moves
/// it (<see cref="MigrationProtocol"/>): it holds the drivers, stops the vCPUs, waits until no message is in flight
/// between the units, takes each unit from its owner, moves the VM through the byte format (<see cref="VmMove"/>),
/// and runs it again in fresh units. What reaches it meanwhile waits in its stash.</para>
/// </summary>
public sealed class VmActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    public sealed record Created(int VmId, VmTopology Topology) : ILocalMessage;

    /// <summary>Rounds of the quiescence check before a move gives up (something in the VM never stops talking).</summary>
    public const int MaxQuiesceRounds = 10_000;

    private readonly int _vmId;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _replyTo;
    private readonly VmTopology _topology;
    private Move? _move;

    public VmActor(int vmId, VmSpec spec, EventLog log, IActorRef replyTo)
    {
        _vmId = vmId;
        _spec = spec;
        _log = log;
        _replyTo = replyTo;
        _topology = new VmTopology(vmId, spec.Vcpus);
    }

    public static Props Props(int vmId, VmSpec spec, EventLog log, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new VmActor(vmId, spec, log, replyTo));

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: -1, withinTimeRange: Timeout.InfiniteTimeSpan, localOnlyDecider: _ => Directive.Restart);

    protected override void PreStart()
    {
        var p = _spec.Policies;
        var irs = new VirtualIrs(new VirtualIrsConfig(_spec.Spis, _spec.Vcpus, VirtualLevel: p.VirtualLevel));
        // The guest's early boot, before the IRS slice has its owner: IRS_CR0.IRSEN = 1, and its LPI IST when it uses LPIs.
        irs.EnableIrs();
        if (LpiIdBits(_spec) is { } bits && irs.ConfigureLpiIst(bits) is { Ok: false } refused)
            throw new InvalidOperationException($"vm-{_vmId}: LPI IST refused: {refused.Access.Refusal}");
        var t = _topology;
        t.Vm = Self;
        Spawn(new VirtualIrsState(irs),
            new ApListState(new SpiApList(_spec.Spis, p.Notify)),
            Enumerable.Range(0, _spec.Vcpus).Select(v => new VpeState(new VirtualCpuInterface(v))).ToArray(),
            Enumerable.Range(0, _spec.Vcpus).Select(v => new VcpuState(v, _spec)).ToArray());
        t.Scheduler = Context.ActorOf(HostSchedulerActor.Props(t, _spec.Host, new SchedulerState(), _spec.Seed ^ _vmId), "scheduler");
        var i = 0;
        foreach (var d in _spec.Devices)
            t.Devices.Add(Context.ActorOf(IrqfdActor.Props(_vmId, d, t, _log, new DeviceState(_spec.InjectionsPerDevice), _spec.Seed * 7919 + _vmId * 131 + i++), IrqfdActor.NameOf(d)));
        Boot();
        _replyTo.Tell(new Created(_vmId, t));
    }

    /// <summary>Creates the VM's units around the state they will own — the boot's, or a restore's — and records their
    /// addresses. Generation g > 0 names them virs@g, vpe-0@g, ... beside the units they succeed.</summary>
    private void Spawn(VirtualIrsState virs, ApListState apList, VpeState[] vpes, VcpuState[] vcpus)
    {
        var t = _topology;
        var p = _spec.Policies;
        var g = t.Generation == 0 ? "" : "@" + t.Generation;
        for (var v = 0; v < _spec.Vcpus; v++)
        {
            t.Vpes[v] = Context.ActorOf(VpeActor.Props(vpes[v], t, p, _log), $"vpe-{v}{g}");
            t.Vcpus[v] = Context.ActorOf(VcpuActor.Props(vcpus[v], t, _spec, _log), $"vcpu-{v}{g}");
        }
        t.Virs = Context.ActorOf(VirtualIrsActor.Props(virs, t, p, _log), "virs" + g);
        t.ApList = Context.ActorOf(SpiApListActor.Props(apList, t, p, _log), "ap-list" + g);
    }

    /// <summary>The LPI ID width the guest's LPI IST needs for the LPIs it programs (none when it programs no LPI).</summary>
    private static int? LpiIdBits(VmSpec spec)
    {
        var max = spec.Interrupts.Where(s => s.Ids.Type == IntIdType.Lpi).Select(s => (long?)s.Ids.Last).Max();
        if (max is not { } m) return null;
        var bits = 14;   // IRS_IDR2.MIN_LPI_ID_BITS of the guest's IRS
        while ((1L << bits) <= m) bits++;
        return bits;
    }

    /// <summary>The guest's boot, as vCPU 0 runs it: program every interrupt (trigger mode, priority, affinity,
    /// enable), then bring every vCPU up.</summary>
    private void Boot()
    {
        var virs = _topology.Virs;
        foreach (var s in _spec.Interrupts)
        {
            var n = 0;
            foreach (var id in s.Ids.All())
            {
                var target = s.Affinity ?? n++ % _spec.Vcpus;
                if (id.IsPpi)
                {
                    // PPIs are per PE: each vCPU programs its own.
                    foreach (var vpe in _topology.Vpes)
                    {
                        vpe.Tell(new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Priority, s.Priority));
                        vpe.Tell(new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Enable, s.Enabled ? 1 : 0));
                    }
                    continue;
                }
                if (id.IsSpi) virs.Tell(new IrsProtocol.ConfigureSpi(id.Id, s.Mode));
                else virs.Tell(new IrsProtocol.CdHandlingMode(id, s.Mode));
                virs.Tell(new IrsProtocol.CdPriority(id, s.Priority));
                virs.Tell(new IrsProtocol.CdAffinity(id, target));
                if (s.Enabled) virs.Tell(new IrsProtocol.CdEnable(id, true));
            }
        }
        foreach (var vcpu in _topology.Vcpus) vcpu.Tell(VcpuActor.Boot.Instance);
    }

    protected override void OnReceive(object message)
    {
        if (_move is not null) { Moving(message); return; }
        switch (message)
        {
            case ApListProtocol.SetIrq m:
                _topology.ApList.Forward(m);
                break;
            case DeviceProtocol.Start:
                _topology.Devices.ForEach(d => d.Tell(DeviceProtocol.Start.Instance));
                ScheduleMoves();
                break;
            case DeviceProtocol.Stop:
                Timers.CancelAll();
                _topology.Devices.ForEach(d => d.Tell(DeviceProtocol.Stop.Instance));
                foreach (var v in _topology.Vcpus) v.Tell(DeviceProtocol.Stop.Instance);
                _topology.Scheduler.Tell(DeviceProtocol.Stop.Instance);
                break;
            case Migrate:
                BeginMove(Sender);
                break;
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: boot operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>The scenario's moves for this VM: every period from a seeded phase, and at each chosen time.</summary>
    private void ScheduleMoves()
    {
        if (_spec.Migration is not { } m || !m.Moves(_vmId)) return;
        var migrate = new Migrate(_vmId);
        if (m.Every > TimeSpan.Zero)
        {
            var rng = new Random(unchecked((int)(_spec.Seed * 48_271 + _vmId)));
            var phase = TimeSpan.FromTicks(1 + (long)(rng.NextDouble() * (m.Every.Ticks - 1)));
            Timers.StartPeriodicTimer("migrate", migrate, phase, m.Every);
        }
        for (var i = 0; i < m.At.Count; i++) Timers.StartSingleTimer(("migrate-at", i), migrate, m.At[i]);
    }

    // ---- A move ---------------------------------------------------------------------------------------------

    /// <summary>One move in progress: who asked, the acknowledgements awaited, the quiescence rounds, what was frozen.</summary>
    private sealed class Move(IActorRef requester, int awaiting)
    {
        public readonly IActorRef Requester = requester;
        public readonly Stopwatch Clock = Stopwatch.StartNew();
        public int Awaiting = awaiting;
        public long Round, Total, PreviousTotal = -1;
        public VirtualIrsState? Virs;
        public ApListState? ApList;
        public VpeState?[] Vpes = [];
        public VcpuState?[] Vcpus = [];
    }

    private IEnumerable<IActorRef> Units => _topology.Vpes.Concat(_topology.Vcpus).Append(_topology.Virs).Append(_topology.ApList);
    private int UnitCount => 2 * _spec.Vcpus + 2;

    /// <summary>Detach the injectors (they hold what they would send) and stop every vCPU.</summary>
    private void BeginMove(IActorRef requester)
    {
        var t = _topology;
        _move = new Move(requester, t.Devices.Count + 1 + t.Vcpus.Length)
        {
            Vpes = new VpeState?[_spec.Vcpus],
            Vcpus = new VcpuState?[_spec.Vcpus],
        };
        t.Devices.ForEach(d => d.Tell(Hold.Instance));
        t.Scheduler.Tell(Hold.Instance);
        foreach (var v in t.Vcpus) v.Tell(StopVcpu.Instance);
    }

    private void Moving(object message)
    {
        var move = _move!;
        switch (message)
        {
            case Held or Stopped:
                if (--move.Awaiting == 0) NextRound(move);
                break;
            case Quiet q when q.Round == move.Round:
                move.Total += q.Processed;
                if (--move.Awaiting > 0) return;
                if (move.Total == move.PreviousTotal) FreezeUnits(move);
                else if (move.Round >= MaxQuiesceRounds) Abandon(move, $"still busy after {MaxQuiesceRounds} quiescence rounds");
                else { move.PreviousTotal = move.Total; NextRound(move); }
                break;
            case Frozen f:
                Keep(move, f.Unit);
                if (--move.Awaiting == 0) Finish(move);
                break;
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>IRS_SAVE_VMR.Q: ask every unit how much it has processed; two equal totals in a row mean nothing is in flight.</summary>
    private void NextRound(Move move)
    {
        move.Round++;
        move.Total = 0;
        move.Awaiting = UnitCount;
        foreach (var u in Units) u.Tell(new Quiesce(move.Round));
    }

    private void FreezeUnits(Move move)
    {
        move.Awaiting = UnitCount;
        foreach (var u in Units) u.Tell(Freeze.Instance);
    }

    private static void Keep(Move move, object unit)
    {
        switch (unit)
        {
            case VirtualIrsState s: move.Virs = s; break;
            case ApListState s: move.ApList = s; break;
            case VpeState s: move.Vpes[s.Cpu.VpeId] = s; break;
            case VcpuState s: move.Vcpus[s.Vpe] = s; break;
            default: throw new InvalidOperationException($"unknown unit {unit.GetType().Name}");
        }
    }

    /// <summary>Save, carry and restore (<see cref="VmMove"/>), then run the VM in fresh units; if the hardware refuses,
    /// run it on in fresh units around the state it had, which the refusal left untouched.</summary>
    private void Finish(Move move)
    {
        var vpes = move.Vpes.Select(v => v!).ToArray();
        var vcpus = move.Vcpus.Select(v => v!).ToArray();
        var cpus = vpes.Select(v => v.Cpu).ToArray();
        var cdias = vpes.Where(v => v.Acking is not null).Select(v => v.Cpu.VpeId).ToArray();
        var outcome = VmMove.Move(move.Virs!.Irs, cpus, move.ApList!.List, _spec.Policies, cdias);
        var old = Units.ToArray();
        _topology.Generation++;
        if (!outcome.Ok)
        {
            Context.GetLogger().Error("vm-{0}: migration refused, the VM runs on where it was: {1}", _vmId, outcome.Status);
            Spawn(move.Virs, move.ApList, vpes, vcpus);
        }
        else
        {
            var vm = outcome.Vm;
            var apList = new ApListState(vm.ApList) { FoldId = move.ApList.FoldId };
            foreach (var (spi, device) in move.ApList.Notifiers) apList.Notifiers[spi] = device;
            Spawn(new VirtualIrsState(vm.Irs), apList, vm.Cpus.Select(c => new VpeState(c)).ToArray(), vcpus);
            foreach (var vpe in outcome.Run!.Doorbells)
            {
                var cpu = vm.Cpus[vpe];
                _log.Log(Ev.Doorbell, _vmId, vpe, CpuInterfaceRules.HighestPending(cpu)?.Id, cpu.Doorbell.Dbpm.ToString());
                _topology.Scheduler.Tell(new ResidencyProtocol.Doorbell(vpe));
            }
        }
        var fresh = Units.ToArray();
        for (var i = 0; i < old.Length; i++) old[i].Tell(new Retire(fresh[i]));
        Resume(move, outcome.Ok ? [.. outcome.Bytes!] : [], outcome.Ok ? null : outcome.Status.ToString());
    }

    private void Abandon(Move move, string why)
    {
        Context.GetLogger().Error("vm-{0}: migration abandoned, the VM runs on where it was: {1}", _vmId, why);
        Resume(move, [], why);
    }

    /// <summary>Run the vCPUs again and re-attach the injectors, which deliver what they held; then what waited here.</summary>
    private void Resume(Move move, System.Collections.Immutable.ImmutableArray<byte> state, string? refused)
    {
        foreach (var v in _topology.Vcpus) v.Tell(RunVcpu.Instance);
        _topology.Devices.ForEach(d => d.Tell(Release.Instance));
        _topology.Scheduler.Tell(Release.Instance);
        var blackout = move.Clock.Elapsed;
        var asked = !move.Requester.IsNobody() && !move.Requester.Equals(Self);
        if (refused is null)
        {
            _log.Log(Ev.Migrate, _vmId, null, null, FormattableString.Invariant($"bytes={state.Length} us={(long)blackout.TotalMicroseconds}"));
            if (asked) move.Requester.Tell(new Migrated(_vmId, state, blackout, _topology.Generation));
        }
        else if (asked) move.Requester.Tell(new IrsProtocol.Refused("migrate", refused));
        _move = null;
        Stash.UnstashAll();
    }
}
