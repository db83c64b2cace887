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
    /// <summary>As the seed's series (v1-v3) does it: at every vCPU exit the list reads every entry with VDRCFG and prunes.
    /// (The merged design has no fold: <see cref="KvmDesign.Merged"/>.)</summary>
    Fold,
}

/// <summary>
/// Which KVM design runs the fabric (SEMANTICS.md §0.1, DESIGN.md §6.2). Both inject an SPI the same way (validate,
/// update <c>line_level</c> / <c>pending_latch</c>, <c>VDPEND(intid, irq_is_pending(irq))</c>); they differ in what KVM
/// keeps after that.
/// </summary>
public enum KvmDesign
{
    /// <summary>The seed's design, patch 28/43 of v1 and kept through v3: a per-VM SPI AP list tracks every in-flight
    /// SPI until the guest consumes it (pushed or folded, <see cref="TrackingPolicy"/>), and then fires the
    /// deactivation notifier (<c>kvm_notify_acked_irq</c>). Fabric's default.</summary>
    ApList,
    /// <summary>The series as merged (v4 onwards, Linux v7.4, <c>kvm-arm64/gicv5-7.4</c>): no AP list, no fold (the
    /// host has no VDRCFG), and nothing calls the notifier for an SPI — yet a resample irqfd is still accepted, so its
    /// resamplefd is never signalled.</summary>
    Merged,
}

/// <summary>
/// How the seed's AP list judges a report of an SPI's end (a push report or a fold's VDRCFG) against KVM's later
/// injections of that SPI. In KVM the list lock and the SPI's irq_lock order them; Fabric's stand-in for those locks is
/// the per-SPI injection sequence number the IRS slice returns with each report (DESIGN.md §3).
/// </summary>
public enum InjectionSequence
{
    /// <summary>A report that predates the last VDPEND KVM sent is stale: the SPI stays tracked. Fabric's default.</summary>
    Checked,
    /// <summary>The hazard: every report is taken as current, so a deactivation that crossed a fresh injection in flight
    /// untracks (and notifies) an interrupt the guest has not consumed — the race the locks exist for. A planted bug for
    /// <c>explore</c> to find (scenarios/README.md).</summary>
    Ignored,
}
