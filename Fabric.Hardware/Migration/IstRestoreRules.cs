using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Migration;

/// <summary>
/// What KVM does to each ISTE it restores (SEMANTICS.md §4; S6 vgic_v5_process_iste, vgic_v5_restore_spi_config), one
/// function per rule, and the entries Fabric refuses on top.
/// </summary>
public static class IstRestoreRules
{
    /// <summary>HWU is for hardware use and must not survive migration; Pending is cleared, to be recorded by the caller and
    /// replayed with VDPEND before the VM first runs — S6 vgic_v5_process_iste. Everything else is kept.</summary>
    public static IstEntry Sanitise(IstEntry saved) => saved.WithPending(false).WithHwu(0);

    /// <summary>KVM's irq->config and pending_latch from a restored SPI's ISTE — S6 vgic_v5_restore_spi_config:
    /// config := HM ? Level : Edge; edge: pending_latch := Pending; level: a pending SPI latches, a non-pending one
    /// clears its latch unless irq->active — KVM's cached active state, clear before the first run (Fabric's KvmIrq has
    /// none). line_level and AP-list membership are left as they are.</summary>
    public static KvmIrq SpiConfig(KvmIrq irq, IstEntry saved)
    {
        // Edge: latch = Pending. Level: Pending ? true : (active ? unchanged : false); with no SPI active in KVM's cache
        // before the first run, both cases come to latch = Pending.
        return irq with { Config = saved.HandlingMode, PendingLatch = saved.Pending };
    }

    /// <summary>Why Fabric cannot hold a restored ISTE, or null. KVM copies any value into its host IST; Fabric refuses
    /// (KVM's errno: -EINVAL) what its model could never have produced: RES0 bits [8:5] set, IRM=1 (1-of-N routing;
    /// KVM's IRS has DPS=1), and an SPI with HM=Level where level SPIs are edge-emulated (the source VM ran under the other
    /// virtual-level policy). An IAFFID that names no vCPU is kept, as KVM keeps it: the guest's untrapped CDAFF can
    /// write one, and the interrupt stays routed nowhere until it is retargeted.</summary>
    public static string? Problem(IntId id, uint raw, VirtualLevelPolicy policy)
    {
        if ((raw & ~IstEntry.DefinedMask) != 0) return $"{id}: ISTE 0x{raw:X8} has RES0 bits [8:5] set";
        var e = new IstEntry(raw);
        if (e.Irm) return $"{id}: ISTE 0x{raw:X8} has IRM=1, but routing is targeted only (IRS_PE_CR0.DPS=1)";
        if (id.IsSpi && e.HandlingMode == HandlingMode.Level && policy == VirtualLevelPolicy.EdgeEmulated)
            return $"{id}: ISTE 0x{raw:X8} has HM=Level, but this VM emulates level SPIs with HM=Edge (virtual-level policy edge-emulated)";
        return null;
    }
}
