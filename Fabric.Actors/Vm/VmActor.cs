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
/// One VM: creates and supervises its interrupt actors (virs, ap-list, vpe-N, vcpu-N, scheduler, devices), each
/// around the hardware state it owns; boots the guest (programs its interrupts, loads its vCPUs) and starts the
/// devices. A crashed child is restarted around the same state, so nothing it owned is lost.
/// <para>It is also the VM's front door for the host (start, stop, an injection from outside) and the VMM that moves
/// it (<see cref="MigrationProtocol"/>): it holds the drivers, stops the vCPUs, waits until no message is in flight
/// between the units, takes each unit from its owner, moves the VM through the byte format (<see cref="VmMove"/>),
/// and runs it again in fresh units. What reaches it meanwhile waits in its stash.</para>
/// <para>In a clustered fabric it is a sharded entity (<see cref="Cluster.ClusterProtocol"/>): it starts from what the
/// store holds for it — the snapshot its previous node handed off, or nothing — and when its shard moves it saves
/// itself there and stops (VmActor.Cluster.cs).</para>
/// </summary>
public sealed partial class VmActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    public sealed record Created(int VmId, VmTopology Topology) : ILocalMessage;

    /// <summary>Rounds of the quiescence check before a move gives up (something in the VM never stops talking).</summary>
    public const int MaxQuiesceRounds = 10_000;

    /// <summary>Writes of a handoff's snapshot before the VM is given up as lost.</summary>
    public const int MaxSaveTries = 5;

    private readonly int _vmId;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _replyTo;
    private readonly VmTopology _topology;
    /// <summary>The cluster's snapshot store (a sharded entity), or null (a local VM).</summary>
    private readonly IActorRef? _store;
    private Move? _move;
    private readonly VmLife _life;

    /// <summary>What the VmActor keeps across its own restarts, made once with its Props: the addresses of the VM's
    /// actors (which outlive it: a restart keeps its children), whether its devices were started or stopped, and
    /// whether it crashed in the middle of a move or a load, when the VM is lost.</summary>
    private sealed class VmLife(int vmId, int vcpus)
    {
        public readonly VmTopology Topology = new(vmId, vcpus);
        public bool Started, Stopped, Built, CrashedMidway;
        /// <summary>When the devices started, on the scheduler's clock: a restart re-arms only the moves still to come.</summary>
        public TimeSpan StartedAt;
    }

    private VmActor(int vmId, VmSpec spec, EventLog log, IActorRef replyTo, VmLife life, IActorRef? store)
    {
        _vmId = vmId;
        _spec = spec;
        _log = log;
        _replyTo = replyTo;
        _store = store;
        _life = life;
        _topology = life.Topology;
    }

    public static Props Props(int vmId, VmSpec spec, EventLog log, IActorRef replyTo) =>
        DirectProps.Of((vmId, spec, log, replyTo, life: new VmLife(vmId, spec.Vcpus)), static a => new VmActor(a.vmId, a.spec, a.log, a.replyTo, a.life, null));

    /// <summary>VM <paramref name="vmId"/> as a sharded entity that keeps its snapshots in <paramref name="store"/>.</summary>
    public static Props EntityProps(int vmId, VmSpec spec, EventLog log, IActorRef store) =>
        DirectProps.Of((vmId, spec, log, store, life: new VmLife(vmId, spec.Vcpus)), static a => new VmActor(a.vmId, a.spec, a.log, ActorRefs.Nobody, a.life, a.store));

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: -1, withinTimeRange: Timeout.InfiniteTimeSpan, localOnlyDecider: _ => Directive.Restart);

    protected override void PreStart()
    {
        _topology.Vm = Self;
        if (_store is null) Build();
        else Load();
    }

    /// <summary>
    /// The VmActor itself crashed. Its children — the VM's units and drivers, which own all its state — are kept (not
    /// stopped, as Akka's default would), so the restarted VmActor takes the same VM over and it runs on: only the
    /// message that crashed it is lost. During a move or a load the VM's state is between its units and a snapshot that
    /// only this actor held: then its children are stopped and the VM is reported lost (<see cref="FabricEvent.CrashedLost"/>).
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        if (_move is null && !_loading) return;
        _life.CrashedMidway = true;
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        _topology.Vm = Self;
        if (_life.CrashedMidway)
        {
            Context.GetLogger().Error("vm-{0}: its VmActor crashed during a move or a load ({1}): the VM is lost", _vmId, reason.Message);
            _log.Log(Ev.Lost, _vmId, null, null, $"{FabricEvent.CrashedLost}: {reason.Message}");
            Context.Stop(Self);
            return;
        }
        if (!_life.Built) { PreStart(); return; }   // it crashed before its VM was built: build it now
        Context.GetLogger().Warning("vm-{0}: its VmActor restarted after {1}; the VM's actors carry on", _vmId, reason.Message);
        if (_life.Started && !_life.Stopped) ScheduleMoves(Context.System.Scheduler.MonotonicClock - _life.StartedAt);
    }

    /// <summary>A new VM: its IRS slice, AP list, VPEs and vCPUs, its host scheduler and devices; then the guest boots.</summary>
    private void Build()
    {
        var p = _spec.Policies;
        var irs = new VirtualIrs(new VirtualIrsConfig(_spec.Spis, _spec.Vcpus, VirtualLevel: p.VirtualLevel, VcpuIds: _spec.VcpuIds));
        // The guest's early boot, before the IRS slice has its owner: IRS_CR0.IRSEN = 1, and its LPI IST when it uses LPIs.
        irs.EnableIrs();
        if (LpiIdBits(_spec) is { } bits && irs.ConfigureLpiIst(bits) is { Ok: false } refused)
            throw new InvalidOperationException($"vm-{_vmId}: LPI IST refused: {refused.Access.Refusal}");
        var t = _topology;
        Spawn(new VirtualIrsState(irs),
            new ApListState(new SpiApList(_spec.Spis, p.Notify, p.Kvm)),
            Enumerable.Range(0, _spec.Vcpus).Select(v => new VpeState(GuestCpuInterface(v, irs))).ToArray(),
            Enumerable.Range(0, _spec.Vcpus).Select(v => new VcpuState(v, _spec)).ToArray());
        SpawnDrivers(new SchedulerState(), [.. _spec.Devices.Select(_ => new DeviceState(_spec.InjectionsPerDevice))]);
        Boot();
        _replyTo.Tell(new Created(_vmId, t));
    }

    /// <summary>A vCPU's CPU interface as the guest's early boot leaves it: out of reset (PCR 0, EN 0), then programmed by
    /// the guest (ICC_PCR_EL1 = its priority mask, ICC_CR0_EL1.EN = 1) and loaded with the IRS's IRSEN.</summary>
    private VirtualCpuInterface GuestCpuInterface(int v, VirtualIrs irs) =>
        CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(v) { IrsEnabled = irs.Enabled }, Priority.Of(_spec.Guest.PriorityMask));

    /// <summary>The host side of the VM: its scheduler and devices, around the progress they own.</summary>
    private void SpawnDrivers(SchedulerState scheduler, DeviceState[] devices)
    {
        var t = _topology;
        t.Scheduler = Context.ActorOf(HostSchedulerActor.Props(t, _spec.Host, scheduler, _spec.Seed ^ _vmId), "scheduler");
        for (var i = 0; i < _spec.Devices.Count; i++)
        {
            var d = _spec.Devices[i];
            t.Devices.Add(Context.ActorOf(IrqfdActor.Props(_vmId, d, t, _log, devices[i], _spec.Seed * 7919 + _vmId * 131 + i), IrqfdActor.NameOf(d)));
        }
    }

    /// <summary>Creates the VM's units around the state they will own — the boot's, or a restore's — and records their
    /// addresses. Generation g > 0 names them virs@g, vpe-0@g, ... beside the units they succeed.</summary>
    private void Spawn(VirtualIrsState virs, ApListState apList, VpeState[] vpes, VcpuState[] vcpus)
    {
        var t = _topology;
        var p = _spec.Policies;
        _life.Built = true;
        var g = t.Generation == 0 ? "" : "@" + t.Generation;
        for (var v = 0; v < _spec.Vcpus; v++)
        {
            t.Vpes[v] = Context.ActorOf(VpeActor.Props(vpes[v], t, p, _log), NameOf(VpeNames, "vpe-", v, g));
            t.Vcpus[v] = Context.ActorOf(VcpuActor.Props(vcpus[v], t, _spec, _log), NameOf(VcpuNames, "vcpu-", v, g));
        }
        t.Virs = Context.ActorOf(VirtualIrsActor.Props(virs, t, p, _log), "virs" + g);
        t.ApList = Context.ActorOf(SpiApListActor.Props(apList, t, p, _log), "ap-list" + g);
    }

    /// <summary>The first generation's unit names for the first 64 vCPUs, made once: each actor keeps its name, and 100k
    /// VMs would otherwise keep 100k copies of each.</summary>
    private static readonly string[] VpeNames = [.. Enumerable.Range(0, 64).Select(v => $"vpe-{v}")];
    private static readonly string[] VcpuNames = [.. Enumerable.Range(0, 64).Select(v => $"vcpu-{v}")];

    private static string NameOf(string[] names, string prefix, int v, string generation) =>
        generation.Length == 0 && v < names.Length ? names[v] : $"{prefix}{v}{generation}";

    /// <summary>The LPI ID width the guest's LPI IST needs for the LPIs it programs (none when it programs no LPI).</summary>
    private static int? LpiIdBits(VmSpec spec)
    {
        var max = spec.Interrupts.Where(s => s.Ids.Type == IntIdType.Lpi).Select(s => (long?)s.Ids.Last).Max();
        if (max is not { } m) return null;
        var bits = 14;   // IRS_IDR2.MIN_LPI_ID_BITS of the guest's IRS
        while ((1L << bits) <= m) bits++;
        return bits;
    }

    /// <summary>The guest's boot, as vCPU 0 runs it: program every interrupt (trigger mode, priority, affinity — the
    /// IAFFID of the vCPU it targets —, enable), then bring every vCPU up.</summary>
    private void Boot()
    {
        var virs = new List<object>();
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
                if (id.IsSpi) virs.Add(new IrsProtocol.ConfigureSpi(id.Id, s.Mode));
                else virs.Add(new IrsProtocol.CdHandlingMode(id, s.Mode));
                virs.Add(new IrsProtocol.CdPriority(id, s.Priority));
                virs.Add(new IrsProtocol.CdAffinity(id, VcpuIdMap.IaffidOf(_spec.VcpuIds, target)));   // the vCPU's IAFFID
                if (s.Enabled) virs.Add(new IrsProtocol.CdEnable(id, true));
            }
        }
        if (virs.Count > 0) _topology.Virs.Tell(new IrsProtocol.ProgramAtBoot(virs));
        foreach (var vcpu in _topology.Vcpus) vcpu.Tell(VcpuActor.Boot.Instance);
    }

    protected override void OnReceive(object message)
    {
        if (message is IrsProtocol.Crash) throw new InvalidOperationException($"vm-{_vmId}: crash requested");
        if (_loading) { Loading(message); return; }
        if (_move is not null) { Moving(message); return; }
        switch (message)
        {
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
                Mark();
                break;
            case DeviceProtocol.Stop:
                if (!_life.Stopped) Mark(stopped: true);
                _life.Stopped = true;
                Timers.CancelAll();
                _topology.Devices.ForEach(d => d.Tell(DeviceProtocol.Stop.Instance));
                foreach (var v in _topology.Vcpus) v.Tell(DeviceProtocol.Stop.Instance);
                _topology.Scheduler.Tell(DeviceProtocol.Stop.Instance);
                break;
            case Migrate:
                BeginMove(Sender, handOff: false);
                break;
            case Cluster.ClusterProtocol.HandOff:
                BeginMove(Self, handOff: true);
                break;
            case Cluster.ClusterProtocol.Where:
                Sender.Tell(new Cluster.ClusterProtocol.Here(_vmId, ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString(), _topology.Generation));
                break;
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: boot operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            case Cluster.VmStoreProtocol.Stored:
                break;   // the running marker was written
            case Cluster.VmStoreProtocol.StoreFailed f:
                Context.GetLogger().Warning("vm-{0}: its running marker was not written ({1}): a loss of its node would read as a new VM", _vmId, f.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
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
