using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Drivers;

/// <summary>
/// A device's eventfd into KVM: the shell of its unit (<see cref="DeviceUnit"/>, which writes edges, asserts and
/// resamples level lines, paces its rate and keeps its budget). It performs the unit's effects, its rate timers as Akka
/// timers; holds what the unit sends while its VM moves, and sends it after; answers the quiescence question; and hands
/// over its state when frozen.
/// </summary>
public sealed class IrqfdActor : TimedActor
{
    private readonly DeviceUnit _unit;
    private readonly DeviceState _s;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;

    public IrqfdActor(int vmId, DeviceSpec spec, VmTopology vm, EventLog log, DeviceState state, long seed)
    {
        _unit = new DeviceUnit(spec, state, seed);
        _s = state;
        _vm = vm;
        _shape = vm.Shape;
        _log = log;
    }

    public static Props Props(int vmId, DeviceSpec spec, VmTopology vm, EventLog log, DeviceState state, long seed) =>
        DirectProps.Of((vmId, spec, vm, log, state, seed), static a => new IrqfdActor(a.vmId, a.spec, a.vm, a.log, a.state, a.seed));

    private UnitWiring Wiring => new(_vm, _log, Self, this, _s.Held, Context.System.Scheduler);

    /// <summary>A restarted device — or one that took over a VM from another node — re-arms its rate timers.</summary>
    protected override void PreStart() => UnitEffects.Restarted(_unit, _shape, Wiring);

    protected override void PostRestart(Exception reason) => PreStart();

    protected override void OnReceive(object message)
    {
        if (message is MigrationProtocol.Quiesce q) { DirectedProtocol.AnswerQuiesce(q, _s.Processed, Sender); return; }
        _s.Processed++;
        switch (message)
        {
            case MigrationProtocol.Hold:
                _s.Held.Hold();
                Sender.Tell(MigrationProtocol.Held.Instance);
                break;
            case MigrationProtocol.Release:
                // A registration carried from another node names no device: it is this one.
                UnitEffects.Release(_s.Held, _vm, Self, m => m is ApListProtocol.RegisterNotifier r && ((IActorRef)r.Device).IsNobody() ? r with { Device = Self } : m);
                break;
            case MigrationProtocol.Freeze:
                StartedTimers?.CancelAll();
                Sender.Tell(new MigrationProtocol.Frozen(_s));
                Become(_ => { });
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/{Self.Path.Name}: crash requested");
            default:
                if (!UnitEffects.Step(_unit, message, Sender, _shape, Wiring)) Unhandled(message);
                break;
        }
    }
}
