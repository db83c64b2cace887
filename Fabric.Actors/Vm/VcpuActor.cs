using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// A vCPU thread: the shell of its guest's unit (<see cref="VcpuState"/>, which runs the handler loop, exits, WFI,
/// preemption, reprogramming and IPIs). It performs the unit's effects — messages to its VPE, the IRS and the AP list,
/// events, and the guest's timers as Akka timers — and keeps only the crash hook; the context outlives a restart, which
/// re-arms the timers and resumes a handler in progress.
/// </summary>
public sealed class VcpuActor : VmUnitActor, IWithTimers
{
    private readonly VcpuState _s;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;

    public VcpuActor(VcpuState state, VmTopology vm, EventLog log)
    {
        _s = state;
        _vm = vm;
        _shape = vm.Shape;
        _log = log;
    }

    public static Props Props(VcpuState state, VmTopology vm, EventLog log) =>
        DirectProps.Of((state, vm, log), static a => new VcpuActor(a.state, a.vm, a.log));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override UnitState Unit => _s;

    private UnitWiring Wiring => new(_vm, _log, Self, Timers, null, Context.System.Scheduler);

    /// <summary>A restarted vCPU carries on from its context: timers are re-armed, a handler in progress resumes.</summary>
    protected override void PostRestart(Exception reason) => UnitEffects.Restarted(_s, _shape, Wiring);

    protected override void OnReceive(object message)
    {
        if (message is IrsProtocol.Crash) throw new InvalidOperationException($"vm-{_vm.VmId}/vcpu-{_s.Vpe}: crash requested");
        if (!UnitEffects.Step(_s, message, Sender, _shape, Wiring)) Unhandled(message);
    }
}
