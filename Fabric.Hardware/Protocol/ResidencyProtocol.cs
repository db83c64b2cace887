using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Residency (vgic_v5_load / vgic_v5_put, make_resident / make_non_resident) and doorbells.</summary>
public static class ResidencyProtocol
{
    /// <summary>A load; <paramref name="WokenBy"/>: what woke the vCPU from WFI, if a wake did (the VPE logs it as the
    /// <c>resident</c> event's arg, <see cref="Observation.FabricEvent.ByKick"/> or
    /// <see cref="Observation.FabricEvent.ByDoorbell"/>: a WFI a wake ends owes no doorbell, even a wake late from an
    /// earlier WFI).</summary>
    public sealed record MakeResident(Woken WokenBy = Woken.No) : IUnitMessage
    {
        public static readonly MakeResident Instance = new();
        public static readonly MakeResident ByKick = new(Woken.ByKick);
        public static readonly MakeResident ByDoorbell = new(Woken.ByDoorbell);

        public static MakeResident After(Woken wake) => wake switch { Woken.ByKick => ByKick, Woken.ByDoorbell => ByDoorbell, _ => Instance };
    }

    /// <summary>What woke a vCPU from WFI: nothing (it was not asleep), its doorbell's handler, or a kick.</summary>
    public enum Woken : byte { No, ByDoorbell, ByKick }
    /// <summary>A put; <paramref name="Wfi"/>: the vCPU blocks in WFI and requests a doorbell at the effective mask − 1.</summary>
    public sealed record MakeNonResident(bool Wfi) : IUnitMessage;
    /// <summary>The IRS rang this VPE's doorbell (a host LPI; the handler sets db_fired and kicks the vCPU).</summary>
    public sealed record Doorbell(int Vpe) : IUnitMessage;
    /// <summary>KVM kicks a vCPU blocked in WFI because a PPI that can signal became pending for it
    /// (vgic_v5_ppi_queue_irq_unlock): no doorbell, the PPI is the CPU interface's own.</summary>
    public sealed record Kick(int Vpe) : IUnitMessage;
    /// <summary>The host scheduler wakes a vCPU blocked in WFI: after its doorbell, or (<paramref name="Kicked"/>) for a
    /// <see cref="Kick"/>.</summary>
    public sealed record Wake(bool Kicked = false) : IUnitMessage
    {
        public static readonly Wake Instance = new();
        public static readonly Wake ByKick = new(Kicked: true);
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
