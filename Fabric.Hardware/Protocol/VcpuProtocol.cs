namespace Fabric.Hardware.Protocol;

/// <summary>
/// What a vCPU thread (the guest's unit, <see cref="VcpuState"/>) is told from outside its VM's interrupt traffic: its
/// boot, the VMM's stop and run around a migration, and a directed scenario's steps (DESIGN.md §6.4). The host
/// scheduler's Wake, Preempt and Resume are <see cref="ResidencyProtocol"/>; the VPE's IRQ and CDIA's answer are
/// <see cref="CpuInterfaceProtocol"/>.
/// </summary>
public static class VcpuProtocol
{
    /// <summary>The guest boots: it programs its priority mask and its vCPU becomes resident.</summary>
    public sealed record Boot : IUnitMessage
    {
        public static readonly Boot Instance = new();
    }

    /// <summary>The VMM stops the vCPU for a migration (out of KVM_RUN); answered with <see cref="Stopped"/>.</summary>
    public sealed record StopVcpu : IUnitMessage
    {
        public static readonly StopVcpu Instance = new();
    }
    public sealed record Stopped(int Vpe) : IUnitMessage;

    /// <summary>KVM_RUN again, on the migration's destination.</summary>
    public sealed record RunVcpu : IUnitMessage
    {
        public static readonly RunVcpu Instance = new();
    }

    /// <summary>A directed step: where the vCPU thread goes (a put with a doorbell request, a put without one, a load).</summary>
    public enum VcpuRun { Wfi, Preempt, Run }

    public sealed record SetVcpu(VcpuRun State) : IUnitMessage;

    /// <summary>A directed step: one trap exit (the fold point under <c>tracking = fold</c>).</summary>
    public sealed record TrapExit : IUnitMessage
    {
        public static readonly TrapExit Instance = new();
    }

    /// <summary>A directed step: the guest runs its handler loop until nothing signals.</summary>
    public sealed record HandleAll : IUnitMessage
    {
        public static readonly HandleAll Instance = new();
    }
}
