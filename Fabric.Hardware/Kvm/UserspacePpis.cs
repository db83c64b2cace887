using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Kvm;

/// <summary>
/// Which PPIs userspace may drive with KVM_IRQ_LINE (SEMANTICS.md §0.1): KVM exposes 64 PPIs, the timers and the PMU
/// belong to the kernel, and <c>KVM_DEV_ARM_VGIC_USERSPACE_PPIS</c> reads as the SW_PPI bit only; any other PPI from
/// userspace is refused with EINVAL.
/// </summary>
public static class UserspacePpis
{
    /// <summary>The architected software PPI (include/linux/irqchip/arm-gic-v5.h: SW_PPI 3), an edge.</summary>
    public const uint SwPpi = 3;

    /// <summary>Null when userspace may drive <paramref name="id"/>; otherwise KVM's refusal.</summary>
    public static string? Validate(IntId id) =>
        !id.IsPpi || id.Id == SwPpi ? null
        : $"EINVAL: {id} is not drivable from userspace (KVM_DEV_ARM_VGIC_USERSPACE_PPIS holds SW_PPI, ppi:{SwPpi}, only)";
}
