using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>The scheduler's own state, kept across a restart of its interpreter: which vCPUs it has preempted (they must
/// be resumed), whether it still preempts, and what it sent to vCPUs while the VM moved (held by its interpreter).</summary>
public sealed class SchedulerState : UnitState
{
    public readonly HashSet<int> Preempted = new();
    public bool Stopped;
    /// <summary>What the scheduler sent to vCPUs while the VM moved, to be delivered after.</summary>
    public readonly HeldMessages Held = new();
}

/// <summary>
/// The unit for the host's side of one VM's vCPUs (DESIGN.md §6.3): the doorbell handler (the VM's "GICv5-vpe-db" irq
/// domain: db_fired is set by the VPE, and this kicks the vCPU) and the scheduler that preempts vCPUs at the scenario's
/// rate and resumes them after <see cref="HostSpec.PreemptFor"/>. One per VM, so that no doorbell crosses anything global.
/// </summary>
public sealed class SchedulerUnit(HostSpec spec, SchedulerState state, long seed) : IVmUnit
{
    private sealed record PreemptTick : IUnitMessage
    {
        public static readonly PreemptTick Instance = new();
    }
    /// <summary>The end of a vCPU's preemption (a timer per preempted vCPU).</summary>
    public sealed record ResumeVcpu(int Vpe) : IUnitMessage;

    private readonly int _seed = unchecked((int)seed);
    private Random? _rng;
    /// <summary>How many preemptions each tick serves, for rates above one per timer tick.</summary>
    private Pacer? _pace;

    public SchedulerState State { get; } = state;

    /// <summary>Which vCPU to preempt: made at the first preemption (the same stream as if made at the start), since a
    /// Random keeps a 56-int table and most scenarios never preempt.</summary>
    private Random Rng => _rng ??= new Random(_seed);

    /// <summary>Starts preempting (the first step of the unit's interpreter); and a scheduler that lost its resume timers —
    /// restarted, or taking over a VM from another node — re-arms one for every vCPU it had preempted.</summary>
    public void Restarted(VmShape vm, Effects fx)
    {
        if (spec.PreemptPerSecond > 0 && !State.Stopped)
            _pace = Pacer.Start(fx, "preempt", PreemptTick.Instance, spec.PreemptPerSecond);
        foreach (var v in State.Preempted) ArmResume(v, fx);
    }

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case Doorbell d:
                fx.Send(UnitAddress.Vcpu(d.Vpe), Wake.Instance);
                return true;
            case Kick k:
                fx.Send(UnitAddress.Vcpu(k.Vpe), Wake.ByKick);
                return true;
            case PreemptTick:
                for (var n = Pacer.Due(_pace, fx.Now); n > 0; n--) PreemptOne(vm, fx);
                return true;
            case DeviceProtocol.Stop:
                State.Stopped = true;
                fx.CancelTimer("preempt");
                return true;
            case ResumeVcpu r:
                if (State.Preempted.Remove(r.Vpe)) fx.Send(UnitAddress.Vcpu(r.Vpe), Resume.Instance);
                return true;
            default:
                return false;
        }
    }

    private void ArmResume(int vpe, Effects fx) =>
        fx.StartTimer(("resume", vpe), new ResumeVcpu(vpe), spec.PreemptFor ?? TimeSpan.FromMilliseconds(1));

    /// <summary>Preempts a random vCPU (one already preempted stays as it is).</summary>
    private void PreemptOne(VmShape vm, Effects fx)
    {
        var vpe = Rng.Next(vm.Vcpus);
        if (!State.Preempted.Add(vpe)) return;
        fx.Send(UnitAddress.Vcpu(vpe), Preempt.Instance);
        ArmResume(vpe, fx);
    }
}
