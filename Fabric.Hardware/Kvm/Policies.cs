namespace Fabric.Hardware.Kvm;

/// <summary>
/// When KVM calls the deactivation notifier of a tracked SPI (SEMANTICS.md §3.2 hazard 2, §3.3).
/// </summary>
public enum NotifyPolicy
{
    /// <summary>Once the guest has consumed it: deactivated (push), or found neither active nor pending in the IRS
    /// (fold), whatever KVM's line_level says. GICv3's behaviour and the seed's contract. Fabric's default.</summary>
    OnDeactivate,
    /// <summary>The pre-posting code's predicate: !active &amp;&amp; !irq_is_pending(), which for a level SPI includes
    /// line_level. A resampled line stays high until the notifier lowers it, so the notifier never fires (hazard 2).</summary>
    InactiveAndLineLow,
}

/// <summary>
/// How a virtual level SPI is presented to the IRS (SEMANTICS.md §2, §3.2 hazard 3: UNVERIFIED which applies).
/// </summary>
public enum VirtualLevelPolicy
{
    /// <summary>The virtual ISTE is HM=Edge; KVM emulates the level with VDPEND (assert -> VDPEND(1), lower ->
    /// VDPEND(0)), and a still-high line is re-presented through the resampler. Fabric's default.</summary>
    EdgeEmulated,
    /// <summary>The virtual ISTE is HM=Level: an acknowledge keeps Pending, so after CDDI the interrupt is pending
    /// again at once while KVM's line is high, and is re-delivered before the resampler can lower it.</summary>
    HardwareLevel,
}

/// <summary>Who tells the SPI AP list that a tracked SPI was consumed (DESIGN.md §3).</summary>
public enum TrackingPolicy
{
    /// <summary>The IRS reports each deactivation (and each return to idle) of a tracked SPI as it happens.</summary>
    Push,
    /// <summary>KVM's way: at every vCPU exit the list reads every entry with VDRCFG and prunes.</summary>
    Fold,
}
