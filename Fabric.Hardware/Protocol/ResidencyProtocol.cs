using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Residency (vgic_v5_load / vgic_v5_put, make_resident / make_non_resident) and doorbells.</summary>
public static class ResidencyProtocol
{
    public sealed record MakeResident : IUnitMessage
    {
        public static readonly MakeResident Instance = new();
    }
    /// <summary>A put; <paramref name="Wfi"/>: the vCPU blocks in WFI and requests a doorbell at the effective mask − 1.</summary>
    public sealed record MakeNonResident(bool Wfi) : IUnitMessage;
    /// <summary>The IRS rang this VPE's doorbell (a host LPI; the handler sets db_fired and kicks the vCPU).</summary>
    public sealed record Doorbell(int Vpe) : IUnitMessage;
    /// <summary>KVM kicks a vCPU blocked in WFI because a PPI that can signal became pending for it
    /// (vgic_v5_ppi_queue_irq_unlock): no doorbell, the PPI is the CPU interface's own.</summary>
    public sealed record Kick(int Vpe) : IUnitMessage;
    /// <summary>The host scheduler wakes a vCPU (after a doorbell) or preempts / resumes it.</summary>
    public sealed record Wake : IUnitMessage
    {
        public static readonly Wake Instance = new();
    }
    public sealed record Preempt : IUnitMessage
    {
        public static readonly Preempt Instance = new();
    }
    public sealed record Resume : IUnitMessage
    {
        public static readonly Resume Instance = new();
    }
}
