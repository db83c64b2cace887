namespace Fabric.Hardware.Kvm;

/// <summary>
/// What each KVM design (<see cref="KvmDesign"/>) does with an SPI after injecting it (SEMANTICS.md §0.1). The injection
/// itself is <see cref="KvmRules.Inject"/> under both; these say whether KVM tracks it, folds, hears of its end, and
/// fires the deactivation notifier.
/// </summary>
public static class KvmDesignRules
{
    /// <summary>The design as a scenario names it (<c>fabric.scenario.kvm</c>).</summary>
    public static string Name(KvmDesign design) => design == KvmDesign.Merged ? "merged" : "ap-list";

    /// <summary>What the design is, for a report's header: which revisions of the series it is.</summary>
    public static string Describe(KvmDesign design) => design == KvmDesign.Merged
        ? "merged (the series as merged, v4+/Linux v7.4: no AP list, no notifier for SPIs)"
        : "ap-list (the seed's design, v1-v3: per-VM SPI AP list and deactivation notifier)";

    /// <summary>Whether an injected SPI goes on the SPI AP list (<c>vgic_v5_spi_queue_irq_unlock</c>): under the seed's
    /// design it does; the merged one only drops <c>irq_lock</c> and returns [READ c9e4010b].</summary>
    public static bool Tracks(KvmDesign design) => design == KvmDesign.ApList;

    /// <summary>Whether a vCPU exit folds the SPI AP list with VDRCFG: only the seed's design under fold tracking. The
    /// merged <c>vgic_fold_state</c> folds PPI state only, and its hcall table has no VDRCFG [READ fccdedad].</summary>
    public static bool Folds(FabricPolicies p) => Tracks(p.Kvm) && p.Tracking == TrackingPolicy.Fold;

    /// <summary>Whether the guest's consumption of an SPI fires KVM's deactivation notifier (<c>kvm_notify_acked_irq</c>).
    /// Nothing calls it for a GICv5 SPI in the merged code.</summary>
    public static bool Notifies(KvmDesign design) => design == KvmDesign.ApList;

    /// <summary>
    /// Whether the IRS slice reports an SPI's end (a deactivation, or a return to idle) to KVM's SPI entry point. Under
    /// the seed's design: <see cref="KvmRules.ReportsEnd"/> (push: every end of a tracked SPI; fold: only KVM's own
    /// VDPEND(0)). Under the merged design KVM hears of nothing; a deactivation is passed on only so that a device paced
    /// by its own completions (an as-fast-as-accepted irqfd, see <see cref="DeviceSeesConsumption"/>) can write again.
    /// </summary>
    public static bool ReportsEnd(FabricPolicies p, bool deactivation, bool causedByKvm) =>
        Tracks(p.Kvm) ? KvmRules.ReportsEnd(p.Tracking, causedByKvm) : deactivation;

    /// <summary>Under the merged design, a device still learns that the guest consumed what it raised through its own
    /// completion path (a virtio used ring, a driver's write to the device) — which paces an edge irqfd written as fast
    /// as accepted — but not through KVM: a resampler, which only KVM's notifier signals, hears nothing.</summary>
    public static bool DeviceSeesConsumption(KvmDesign design, bool deactivation) => design == KvmDesign.Merged && deactivation;

    /// <summary>Why a resampled level device starves under the merged design (the I2 message).</summary>
    public const string NoNotifier =
        "the merged design (kvm = merged) has no deactivation notifier for an SPI, so the resamplefd is never signalled, " +
        "the line never lowered, the device never re-checked (irqfd-resample contract, SEMANTICS.md §3.3)";
}
