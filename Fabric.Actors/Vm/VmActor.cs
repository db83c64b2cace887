using Fabric.Hardware;
using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// One VM: the supervisor of its interrupt actors (virs, ap-list, pe-N — vCPU N's guest and its VPE, <see cref="PeActor"/>
/// —, scheduler, devices), each around the hardware state it owns, and the VM's front door for the host (start, stop, an injection from outside, a move). It
/// builds every generation of units by one path (<see cref="Build"/>) from a <see cref="VmUnits"/>: the boot's, a
/// restore's, or the state the units had; then a new VM's guest boots and its devices start. A crashed child is
/// restarted around the same state, so nothing it owned is lost.
/// <para>A move is a saga of its own, a child (<see cref="VmMoveActor"/>): meanwhile this actor stashes what reaches its
/// front door, builds the fresh units the saga asks for, and runs the VM again when the saga ends. A saga that crashes
/// is followed by one that recovers the VM from its units' state. In a clustered fabric this actor is the child of its
/// entity (<see cref="Cluster.VmEntityActor"/>), which loads it, marks it running and stores it at a handoff.</para>
/// </summary>
public sealed class VmActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private readonly int _vmId;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _replyTo;
    private readonly VmTopology _topology;
    /// <summary>The handoff this VM starts from (restored by its entity), or null: a new VM.</summary>
    private readonly VmArrival? _arrival;
    private readonly VmLife _life;

    /// <summary>What the VmActor keeps across its own restarts, made once with its Props: the addresses of the VM's
    /// actors (which outlive it: a restart keeps its children), whether its devices were started or stopped, the move in
    /// progress, and whether it crashed in the middle of one, when the VM is lost.</summary>
    private sealed class VmLife(int vmId, int vcpus, FabricPolicies policies)
    {
        public readonly VmTopology Topology = new(vmId, vcpus, policies);
        public bool Started, Stopped, Built, CrashedMidway;
        /// <summary>When the devices started, on the scheduler's clock: a restart re-arms only the moves still to come.</summary>
        public TimeSpan StartedAt;
        /// <summary>The move saga in progress (null: none), how many sagas this VM has had (their names), whether this
        /// move already rebuilt the units, and whether it is a handoff.</summary>
        public IActorRef? Move;
        public IActorRef Requester = ActorRefs.Nobody;
        public int Moves;
        public bool Rebuilt, HandOff;
    }

    private VmActor(int vmId, VmSpec spec, EventLog log, IActorRef replyTo, VmLife life, VmArrival? arrival)
    {
        _vmId = vmId;
        _spec = spec;
        _log = log;
        _replyTo = replyTo;
        _arrival = arrival;
        _life = life;
        _topology = life.Topology;
    }

    /// <summary>A new VM, which answers <see cref="HostIrsProtocol.VmCreated"/> to <paramref name="replyTo"/> once built.</summary>
    public static Props Props(int vmId, VmSpec spec, EventLog log, IActorRef replyTo) =>
        DirectProps.Of((vmId, spec, log, replyTo, life: new VmLife(vmId, spec.Vcpus, spec.Policies)), static a => new VmActor(a.vmId, a.spec, a.log, a.replyTo, a.life, null));

    /// <summary>A VM of a cluster entity: new (<paramref name="arrival"/> null) or restored from a handoff, which
    /// runs at once (its entity made it only once its running marker was stored).</summary>
    public static Props EntityProps(int vmId, VmSpec spec, EventLog log, VmArrival? arrival) =>
        DirectProps.Of((vmId, spec, log, arrival, life: new VmLife(vmId, spec.Vcpus, spec.Policies)), static a => new VmActor(a.vmId, a.spec, a.log, ActorRefs.Nobody, a.life, a.arrival));

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A unit or driver is restarted around its state; a move saga that crashed is not restarted (its progress
    /// was its own): it stops, and <see cref="Moving"/> recovers the VM from its units.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: -1, withinTimeRange: Timeout.InfiniteTimeSpan, localOnlyDecider: _ =>
            Sender.Equals(_life.Move) ? Directive.Stop : Directive.Restart);

    protected override void PreStart()
    {
        _topology.Vm = Self;
        if (_arrival is { } h) Arrive(h);
        else BuildNew();
    }

    /// <summary>
    /// The VmActor itself crashed. Its children — the VM's units and drivers, which own all its state — are kept (not
    /// stopped, as Akka's default would), so the restarted VmActor takes the same VM over and it runs on: only the
    /// message that crashed it is lost. During a move the VM's front door (its stash) and the move's bookkeeping were
    /// this actor's: then its children are stopped and the VM is reported lost (<see cref="FabricEvent.CrashedLost"/>).
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        if (_life.Move is null) return;
        _life.CrashedMidway = true;
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        _topology.Vm = Self;
        if (_life.CrashedMidway)
        {
            Context.GetLogger().Error("vm-{0}: its VmActor crashed during a move ({1}): the VM is lost", _vmId, reason.Message);
            _log.Log(Ev.Lost, _vmId, null, null, $"{FabricEvent.CrashedLost}: {reason.Message}");
            Context.Stop(Self);
            return;
        }
        if (!_life.Built) { PreStart(); return; }   // it crashed before its VM was built: build it now
        Context.GetLogger().Warning("vm-{0}: its VmActor restarted after {1}; the VM's actors carry on", _vmId, reason.Message);
        if (_life.Started && !_life.Stopped) ScheduleMoves(Context.System.Scheduler.MonotonicClock - _life.StartedAt);
    }

    /// <summary>A new VM: its IRS slice, AP list, VPEs and vCPUs, its host scheduler and devices; then the guest boots.</summary>
    private void BuildNew()
    {
        Build(VmUnits.Fresh(_vmId, _spec), null);
        SpawnDrivers(new SchedulerState(), [.. _spec.Devices.Select(_ => new DeviceState(_spec.InjectionsPerDevice))]);
        Boot();
        _replyTo.Tell(new HostIrsProtocol.VmCreated(_vmId, _topology));
    }

    /// <summary>The destination's half of a handoff: the drivers and units are rebuilt around what they carried (the
    /// interrupt state as the hardware restored it, in KVM's order), and the VM runs; the messages that waited at its
    /// old front door follow from its entity.</summary>
    private void Arrive(VmArrival h)
    {
        var s = h.Snapshot;
        var t = _topology;
        t.Generation = s.Generation + 1;
        SpawnDrivers(s.Scheduler.ToState(), [.. s.Devices.Select(d => d.ToState())]);
        var units = VmUnits.Restored(h.FirstRun.Vm!, s.FoldId, [.. s.Vcpus.Select(c => c.ToState(_spec))]);
        foreach (var n in s.Notifiers) units.ApList.Notifiers[n.Spi] = t.Devices[n.Device];
        Build(units, h.FirstRun);
        (_life.Started, _life.Stopped) = (s.Started, s.Stopped);
        if (_life.Started && !_life.Stopped) { _life.StartedAt = Context.System.Scheduler.MonotonicClock; ScheduleMoves(TimeSpan.Zero); }
        // The blackout: from the source's stop to this run (when the snapshot says when that was).
        var blackout = s.SavedAtUtcTicks > 0
            ? TimeSpan.FromTicks(Math.Max(0, DateTime.UtcNow.Ticks - s.SavedAtUtcTicks))
            : TimeSpan.FromTicks(Math.Max(0, DateTime.UtcNow.Ticks - h.LoadStartedTicks));
        _log.Log(Ev.Migrate, _vmId, null, null, MigrateArg.Arrived(s.Gic.Length, (long)blackout.TotalMicroseconds, t.Generation).Format());
        RunAgain();
    }

    /// <summary>The host side of the VM: its scheduler and devices, around the progress they own.</summary>
    private void SpawnDrivers(SchedulerState scheduler, DeviceState[] devices)
    {
        var t = _topology;
        t.Scheduler = Context.ActorOf(HostSchedulerActor.Props(t, _spec.Host, scheduler, VmBoot.SchedulerSeed(_spec, _vmId), _log), "scheduler");
        for (var i = 0; i < _spec.Devices.Count; i++)
        {
            var d = _spec.Devices[i];
            t.Devices.Add(Context.ActorOf(IrqfdActor.Props(_vmId, d, t, _log, devices[i], VmBoot.DeviceSeed(_spec, _vmId, i)), DeviceUnit.NameOf(d)));
        }
    }

    /// <summary>The one path that builds a VM's units: around the state they will own — the boot's, a restore's, or
    /// what they had — recording their addresses; then the doorbells and kicks the restore's first run owes, if any.
    /// Generation g > 0 names them virs@g, pe-0@g, ... beside the units they succeed.</summary>
    private void Build(VmUnits units, RunOutcome? firstRun)
    {
        var t = _topology;
        var p = _spec.Policies;
        _life.Built = true;
        var g = t.Generation == 0 ? "" : "@" + t.Generation;
        for (var v = 0; v < _spec.Vcpus; v++)
        {
            t.Vpes[v] = t.Vcpus[v] = Context.ActorOf(PeActor.Props(units.Vpes[v], units.Vcpus[v], t, _log), PeActor.NameOf(v, t.Generation));
        }
        t.Virs = Context.ActorOf(VirtualIrsActor.Props(units.Virs, t, p, _log), "virs" + g);
        t.ApList = Context.ActorOf(SpiApListActor.Props(units.ApList, t, p, _log), "ap-list" + g);
        if (firstRun is not null) RingDoorbells(firstRun);
    }

    /// <summary>The doorbells the restore's first run raised (its replayed VDPENDs reached a VPE that asked for one): the
    /// restore owns the units until they are handed to their actors, so it logs them, and the host's handler wakes the vCPU.
    /// A VPE restored non-resident with a PPI that can signal is kicked, as KVM kicks a vCPU for a pending PPI.</summary>
    private void RingDoorbells(RunOutcome run)
    {
        foreach (var vpe in run.Doorbells)
        {
            var cpu = run.Vm!.Cpus[vpe];
            _log.Log(Ev.Doorbell, _vmId, vpe, cpu.Offered?.Id, cpu.Doorbell.Dbpm.ToString());
            _topology.Scheduler.Tell(new ResidencyProtocol.Doorbell(vpe));
        }
        for (var vpe = 0; vpe < run.Vm!.Cpus.Length; vpe++)
            if (CpuInterfaceRules.PpiKicks(run.Vm.Cpus[vpe])) _topology.Scheduler.Tell(new ResidencyProtocol.Kick(vpe));
    }

    /// <summary>The guest's boot (<see cref="VmBoot.Program"/>): every interrupt programmed, then every vCPU up.</summary>
    private void Boot()
    {
        foreach (var (to, message) in VmBoot.Program(_spec)) UnitEffects.Resolve(_topology, to).Tell(message);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vmId}: crash requested");
            case ApListProtocol.SetIrq m:
                _topology.ApList.Forward(m);
                break;
            case DeviceProtocol.Start:
                // Once stopped (the drain), a VM does not start again: a start that arrives late changes nothing.
                if (_life.Started || _life.Stopped) return;
                _life.Started = true;
                _life.StartedAt = Context.System.Scheduler.MonotonicClock;
                _topology.Devices.ForEach(d => d.Tell(DeviceProtocol.Start.Instance));
                ScheduleMoves(TimeSpan.Zero);
                break;
            case DeviceProtocol.Stop:
                _life.Stopped = true;
                Timers.CancelAll();
                _topology.Devices.ForEach(d => d.Tell(DeviceProtocol.Stop.Instance));
                foreach (var v in _topology.Vcpus) v.Tell(DeviceProtocol.Stop.Instance);
                _topology.Scheduler.Tell(DeviceProtocol.Stop.Instance);
                break;
            case Migrate:
                BeginMove(Sender, VmMoveActor.Mode.Move);
                break;
            case ClusterProtocol.HandOff:
                BeginMove(Sender, VmMoveActor.Mode.HandOff);
                break;
            case ClusterProtocol.Where:
                Sender.Tell(new ClusterProtocol.Here(_vmId, ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString(), _topology.Generation));
                break;
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: boot operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            case CrashMove:
                break;   // no move in progress
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>A move begins: its saga runs as a child; the front door waits in the stash until it ends.</summary>
    private void BeginMove(IActorRef requester, VmMoveActor.Mode mode)
    {
        _life.Rebuilt = false;
        _life.HandOff = mode == VmMoveActor.Mode.HandOff;
        _life.Requester = requester;
        _life.Move = Context.Watch(Context.ActorOf(VmMoveActor.Props(_topology, _spec, _log, requester, mode), $"move-{++_life.Moves}"));
        Become(Moving);
    }

    private void Moving(object message)
    {
        switch (message)
        {
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vmId}: crash requested");
            case CrashMove:
                _life.Move?.Forward(message);
                break;
            case Rebuild r when Sender.Equals(_life.Move):
                var old = _topology.UnitActors();
                _topology.Generation++;
                Build(r.Units, r.FirstRun);
                var fresh = _topology.UnitActors();
                for (var i = 0; i < old.Length; i++) old[i].Tell(new Retire(fresh[i]));
                _life.Rebuilt = true;
                break;
            case MoveEnded m when Sender.Equals(_life.Move):
                EndMove(m.Answer);
                break;
            case HandOffTaken h when Sender.Equals(_life.Move):
                // The VM is saved, with what waited at its front door; its entity stores it and stops it.
                Context.Unwatch(_life.Move!);
                var frontDoor = Stash.ClearStash().Select(e => e.Message).OfType<IWireMessage>().Cast<object>();
                Context.Parent.Tell(new HandOffTaken(h.Snapshot with { Started = _life.Started, Stopped = _life.Stopped, FrontDoor = [.. frontDoor] }));
                Become(_ => Stash.Stash());
                break;
            case HandOffFailed when Sender.Equals(_life.Move):
                Context.Stop(Self);
                break;
            case Terminated t when t.ActorRef.Equals(_life.Move):
                MoveCrashed();
                break;
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>The move saga crashed. A handoff that froze the drivers cannot be resumed (their progress went with the
    /// saga): the VM is reported lost. Otherwise the VM runs on: if the units were already rebuilt, at once; if not, a
    /// recovering saga freezes them and has them rebuilt around the state they hold.</summary>
    private void MoveCrashed()
    {
        Context.GetLogger().Error("vm-{0}: its move saga crashed", _vmId);
        if (_life.HandOff)
        {
            _log.Log(Ev.Lost, _vmId, null, null, $"{FabricEvent.CrashedLost}: its handoff's saga crashed");
            Context.Stop(Self);
            return;
        }
        if (_life.Rebuilt) { EndMove(new IrsProtocol.Refused("migrate", "the move's saga crashed after the VM was rebuilt")); return; }
        _life.Move = Context.Watch(Context.ActorOf(VmMoveActor.Props(_topology, _spec, _log, _life.Requester, VmMoveActor.Mode.Recover), $"move-{++_life.Moves}"));
    }

    /// <summary>The end of a move here: the VM runs again, whoever asked hears how the move went, then what waited at
    /// its front door is served.</summary>
    private void EndMove(object? answer)
    {
        Context.Unwatch(_life.Move!);
        _life.Move = null;
        RunAgain();
        if (answer is not null && !_life.Requester.IsNobody() && !_life.Requester.Equals(Self)) _life.Requester.Tell(answer);
        Become(OnReceive);
        Stash.UnstashAll();
    }

    /// <summary>Run the vCPUs again and re-attach the injectors, which deliver what they held.</summary>
    private void RunAgain()
    {
        foreach (var v in _topology.Vcpus) v.Tell(VcpuProtocol.RunVcpu.Instance);
        _topology.Devices.ForEach(d => d.Tell(Release.Instance));
        _topology.Scheduler.Tell(Release.Instance);
    }

    /// <summary>The scenario's moves for this VM: every period from a seeded phase, and at each chosen time still to come
    /// <paramref name="elapsed"/> after the devices started (a restarted VmActor does not repeat a move already made).</summary>
    private void ScheduleMoves(TimeSpan elapsed)
    {
        if (_spec.Migration is not { } m || !m.Moves(_vmId)) return;
        var migrate = new Migrate(_vmId);
        if (m.Every > TimeSpan.Zero)
        {
            var rng = new Random(unchecked((int)(_spec.Seed * 48_271 + _vmId)));
            var phase = TimeSpan.FromTicks(1 + (long)(rng.NextDouble() * (m.Every.Ticks - 1)));
            Timers.StartPeriodicTimer("migrate", migrate, phase, m.Every);
        }
        for (var i = 0; i < m.At.Count; i++)
            if (m.At[i] >= elapsed) Timers.StartSingleTimer(("migrate-at", i), migrate, m.At[i] - elapsed);
    }
}
