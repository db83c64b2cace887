using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Actors.Vm;

/// <summary>
/// One VM: creates and supervises its interrupt actors (virs, ap-list, vpe-N, vcpu-N, scheduler, devices), each
/// around the hardware state it owns; boots the guest (programs its interrupts, loads its vCPUs) and starts the
/// devices. A crashed child is restarted around the same state, so nothing it owned is lost.
/// </summary>
public sealed class VmActor : UntypedActor
{
    public sealed record Created(int VmId, VmTopology Topology);

    private readonly int _vmId;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _replyTo;
    private readonly VmTopology _topology;

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
        for (var v = 0; v < _spec.Vcpus; v++)
        {
            t.Vpes[v] = Context.ActorOf(VpeActor.Props(new VpeState(new VirtualCpuInterface(v)), t, p, _log), $"vpe-{v}");
            t.Vcpus[v] = Context.ActorOf(VcpuActor.Props(new VcpuState(v, _spec), t, _spec, _log), $"vcpu-{v}");
        }
        t.Virs = Context.ActorOf(VirtualIrsActor.Props(new VirtualIrsState(irs), t, p, _log), "virs");
        t.ApList = Context.ActorOf(SpiApListActor.Props(new ApListState(new SpiApList(_spec.Spis, p.Notify)), t, p, _log), "ap-list");
        t.Scheduler = Context.ActorOf(HostSchedulerActor.Props(t, _spec.Host, new SchedulerState(), _spec.Seed ^ _vmId), "scheduler");
        var i = 0;
        foreach (var d in _spec.Devices)
            t.Devices.Add(Context.ActorOf(IrqfdActor.Props(_vmId, d, t, _log, new DeviceState(_spec.InjectionsPerDevice), _spec.Seed * 7919 + _vmId * 131 + i++), IrqfdActor.NameOf(d)));
        Boot();
        _replyTo.Tell(new Created(_vmId, t));
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
        switch (message)
        {
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: boot operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
    }
}
