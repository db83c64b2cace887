using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Drivers;

/// <summary>
/// The host's side of one VM's vCPUs: the shell of its unit (<see cref="SchedulerUnit"/>: the doorbell handler, the
/// kicks, and the scheduler that preempts vCPUs and resumes them). It performs the unit's effects, its timers as Akka
/// timers; holds what the unit sends while the VM moves, and sends it after; answers the quiescence question; and hands
/// over its state when frozen. One per VM, so that no doorbell crosses anything global.
/// </summary>
public sealed class HostSchedulerActor : TimedActor
{
    private readonly SchedulerUnit _unit;
    private readonly SchedulerState _s;
    private readonly VmTopology _vm;
    private readonly EventLog _log;

    public HostSchedulerActor(VmTopology vm, HostSpec spec, SchedulerState state, long seed, EventLog log)
    {
        _unit = new SchedulerUnit(spec, state, seed);
        _s = state;
        _vm = vm;
        _log = log;
    }

    public static Props Props(VmTopology vm, HostSpec spec, SchedulerState state, long seed, EventLog log) =>
        DirectProps.Of((vm, spec, state, seed, log), static a => new HostSchedulerActor(a.vm, a.spec, a.state, a.seed, a.log));

    private UnitWiring Wiring => new(_vm, _log, Self, this, _s.Held, Context.System.Scheduler);

    /// <summary>Starts preempting; a scheduler that lost its resume timers — restarted, or taking over a VM from another
    /// node — re-arms one for every vCPU it had preempted.</summary>
    protected override void PreStart() => UnitEffects.Restarted(_unit, _vm.Shape, Wiring);

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
                UnitEffects.Release(_s.Held, _vm, Self);
                break;
            case MigrationProtocol.Freeze:
                StartedTimers?.CancelAll();
                Sender.Tell(new MigrationProtocol.Frozen(_s));
                Become(_ => { });
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/scheduler: crash requested");
            default:
                if (!UnitEffects.Step(_unit, message, Sender, _vm.Shape, Wiring)) Unhandled(message);
                break;
        }
    }
}
