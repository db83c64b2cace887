using Fabric.Hardware.Irs;

namespace Fabric.Hardware.Kvm;

/// <summary>
/// The limits of one VM, as KVM and the IRS set them — the one place they are stated; the IRS model, the restore, the
/// host's scenario loader and CLI, and the actors all read them here (SEMANTICS.md §1 SPI, VM_ID, ID widths).
/// </summary>
public static class VmLimits
{
    /// <summary>KVM_DEV_ARM_VGIC_GRP_NR_IRQS: a VM has 32..1024 SPIs, in steps of 32 (S5).</summary>
    public const int MinSpis = 32, MaxSpis = 1024, SpiStep = 32;

    /// <summary>The SPI count rule, as a refusal states it.</summary>
    public const string SpiRule = "32..1024 in steps of 32";

    public static bool IsValidSpiCount(int spis) => spis is >= MinSpis and <= MaxSpis && spis % SpiStep == 0;

    /// <summary>KVM_MAX_VCPUS on arm64: at most 512 vCPUs per VM (the VPE table could hold more: IRS_IDR1.PE_CNT is 16 bits).</summary>
    public const int MaxVcpus = 512;

    /// <summary>At most 2^16 VMs: a VM_ID is at most 16 bits (<see cref="VmTable.MaxVmIdBits"/>).</summary>
    public const int MaxVms = 1 << VmTable.MaxVmIdBits;

    /// <summary>The guest's IRS_IDR2.ID_BITS: KVM presents min(16, host) (S4), so LPIs 0..2^16-1.</summary>
    public const int LpiIdBits = 16;

    /// <summary>IRS_IDR2.MIN_LPI_ID_BITS: KVM copies the host's, which Fabric does not have; 14 is QEMU's
    /// QEMU_GICV5_MIN_LPI_ID_BITS, the value a QEMU-emulated host reports.</summary>
    public const int MinLpiIdBits = 14;

    /// <summary>The LPI ID width of the LPI IST a guest needs for LPIs up to <paramref name="highestLpi"/>: the
    /// smallest at least <see cref="MinLpiIdBits"/> that holds it.</summary>
    public static int LpiIstIdBitsFor(long highestLpi)
    {
        var bits = MinLpiIdBits;
        while ((1L << bits) <= highestLpi) bits++;
        return bits;
    }
}
