using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Kvm;

/// <summary>
/// The PPIs KVM exposes to a GICv5 guest (SEMANTICS.md §0.1; include/linux/irqchip/arm-gic-v5.h, the merged vgic-v5.c):
/// 64 of them (VGIC_V5_NR_PRIVATE_IRQS) out of the architecture's 128; the architected numbers; the timers and the PMU
/// are level and owned by the kernel (the timers by direct injection); only SW_PPI may be driven from userspace
/// (KVM_DEV_ARM_VGIC_USERSPACE_PPIS reads as the SW_PPI bit), any other PPI is refused with EINVAL.
/// </summary>
public static class KvmPpis
{
    /// <summary>VGIC_V5_NR_PRIVATE_IRQS.</summary>
    public const int Count = 64;
    public const uint SwPpi = 3, PmuIrq = 23, Cnthp = 26, Cntv = 27, Cnthv = 28, Cntp = 30;

    /// <summary>The architected name of a PPI KVM gives an owner, or null.</summary>
    public static string? Name(uint ppi) => ppi switch
    {
        SwPpi => "SW_PPI",
        PmuIrq => "PMUIRQ",
        Cnthp => "CNTHP",
        Cntv => "CNTV",
        Cnthv => "CNTHV",
        Cntp => "CNTP",
        _ => null,
    };

    /// <summary>The timers and the PMU: level PPIs whose line is the kernel's own (its timer or PMU), not userspace's.</summary>
    public static bool IsKernelLevelSource(uint ppi) => ppi is PmuIrq or Cnthp or Cntv or Cnthv or Cntp;

    /// <summary>Why KVM refuses to let userspace drive <paramref name="id"/> (EINVAL), or null for SW_PPI.</summary>
    public static string? UserspaceRefusal(IntId id) =>
        id.IsPpi && id.Id == SwPpi ? null
        : $"EINVAL: {id}{(Name(id.Id) is { } n ? $" ({n})" : "")} cannot be driven from userspace: KVM lets userspace drive only SW_PPI (ppi:{SwPpi}; KVM_DEV_ARM_VGIC_USERSPACE_PPIS)";

    /// <summary>Why a guest cannot have <paramref name="id"/>, or null: KVM exposes PPIs 0..63 only.</summary>
    public static string? ExposureRefusal(IntId id) =>
        !id.IsPpi || id.Id < Count ? null : $"{id} is beyond the {Count} PPIs KVM exposes (VGIC_V5_NR_PRIVATE_IRQS)";
}
