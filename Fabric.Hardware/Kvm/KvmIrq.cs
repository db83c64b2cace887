using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Kvm;

/// <summary>
/// KVM's software state of one virtual SPI (<c>struct vgic_irq</c>, the part GICv5 keeps): its configured trigger,
/// <c>line_level</c>, <c>pending_latch</c>, and whether it is on the SPI AP list (<c>irq->vcpu != NULL</c>).
/// An immutable value; <see cref="KvmRules"/> holds the transitions.
/// </summary>
public readonly record struct KvmIrq(HandlingMode Config, bool LineLevel, bool PendingLatch, bool OnApList)
{
    /// <summary>irq_is_pending(): edge ? pending_latch : (pending_latch || line_level) — vgic.h.</summary>
    public bool IsPending => Config == HandlingMode.Edge ? PendingLatch : PendingLatch || LineLevel;
}

/// <summary>What an injection did in KVM.</summary>
public readonly record struct Injection(KvmIrq Irq, bool Accepted, bool VdpendValue, bool Queued)
{
    /// <summary>The VDPEND KVM issues for an accepted injection; none when validation dropped it.</summary>
    public bool? Vdpend => Accepted ? VdpendValue : null;
}

/// <summary>What one fold step over a tracked SPI concluded.</summary>
public readonly record struct FoldStep(KvmIrq Irq, bool Notify, bool Untrack);

/// <summary>
/// KVM's bookkeeping for GICv5 SPIs (SEMANTICS.md §3.2, S1): injection (validate, update line_level /
/// pending_latch, VDPEND(irq_is_pending), queue on the AP list) and the fold step (VDRCFG, update the latch,
/// decide whether the SPI was consumed: notify and leave the list).
/// </summary>
public static class KvmRules
{
    /// <summary>vgic_validate_injection (S8): a level line acts only on a change of level; an edge line only on level=1.</summary>
    public static bool ValidateInjection(KvmIrq irq, bool level) =>
        irq.Config == HandlingMode.Level ? irq.LineLevel != level : level;

    /// <summary>kvm_vgic_inject_irq for a GICv5 SPI (S1 vgic_v5_set_irq_pend, vgic_v5_spi_queue_irq_unlock): level
    /// config sets line_level, edge sets pending_latch; then VDPEND(irq_is_pending) and queue on the AP list.
    /// <para>Departure from S1, which queues regardless of the new pending value (even after a lowering VDPEND(0)):
    /// a lowered line would then sit on the list though neither pending nor active, and the next fold would fire a
    /// notifier for a consumption that never happened (after every resample). Fabric queues only what the VDPEND
    /// makes pending, so the list holds exactly the in-flight SPIs (DESIGN.md I3).</para>
    /// <para>Under <see cref="KvmDesign.Merged"/> the same bookkeeping and VDPEND, and nothing is queued: the merged
    /// <c>vgic_v5_spi_queue_irq_unlock</c> only drops irq_lock (SEMANTICS.md §0.1).</para></summary>
    public static Injection Inject(KvmIrq irq, bool level, KvmDesign design = KvmDesign.ApList)
    {
        if (!ValidateInjection(irq, level)) return new Injection(irq, false, false, false);
        var next = irq.Config == HandlingMode.Level ? irq with { LineLevel = level } : irq with { PendingLatch = true };
        var queued = next.IsPending && !next.OnApList && KvmDesignRules.Tracks(design);
        if (queued) next = next with { OnApList = true };
        return new Injection(next, true, next.IsPending, queued);
    }

    /// <summary>
    /// One step of vgic_v5_fold_irq_state over an entry (S1), given its ICSR from VDRCFG: edge latches the IRS's
    /// Pending; level clears the latch once neither pending nor active. Then the notify predicate:
    /// <list type="bullet">
    /// <item><see cref="NotifyPolicy.InactiveAndLineLow"/>: S1 verbatim, !active &amp;&amp; !irq_is_pending (includes line_level).</item>
    /// <item><see cref="NotifyPolicy.OnDeactivate"/>: consumed = the IRS holds it neither active nor pending.</item>
    /// </list>
    /// An entry that is notified leaves the list (list_del; irq->vcpu = NULL).
    /// <paramref name="vdpendInFlight"/>: an injection of this SPI was issued after the state read here (Fabric's
    /// asynchronous IRS; KVM's lock rules it out): it will be pending, so it is neither consumed nor leaves the list.
    /// </summary>
    public static FoldStep Fold(KvmIrq irq, Icsr icsr, NotifyPolicy policy, bool vdpendInFlight = false)
    {
        var next = irq;
        if (irq.Config == HandlingMode.Edge) next = next with { PendingLatch = icsr.Pending };
        else if (!(icsr.Pending || icsr.Active)) next = next with { PendingLatch = false };
        if (vdpendInFlight) return new FoldStep(next, false, false);
        var consumed = policy == NotifyPolicy.OnDeactivate
            ? !icsr.Active && !icsr.Pending
            : !icsr.Active && !next.IsPending;
        return consumed ? new FoldStep(next with { OnApList = false }, true, true) : new FoldStep(next, false, false);
    }

    /// <summary>Whether the IRS reports a tracked SPI's end to the AP list: under push every end; under fold only the
    /// retire caused by KVM's own VDPEND(0), whose result KVM sees (the rest the fold finds).</summary>
    public static bool ReportsEnd(TrackingPolicy tracking, bool causedByKvm) => tracking == TrackingPolicy.Push || causedByKvm;

    /// <summary>
    /// Push tracking: the IRS reported a change of a tracked SPI, with the ICSR right after it: a deactivation
    /// (CDDI: the guest consumed it) or a return to idle without one (VDPEND(0) / CDPEND(0) of a pending SPI: nothing
    /// consumed). Under <see cref="NotifyPolicy.OnDeactivate"/> every deactivation notifies, and the entry leaves
    /// the list once idle with no injection in flight; <see cref="NotifyPolicy.InactiveAndLineLow"/> applies S1's
    /// predicate as the fold would.
    /// </summary>
    public static FoldStep Pushed(KvmIrq irq, Icsr icsr, bool deactivated, NotifyPolicy policy, bool vdpendInFlight)
    {
        if (policy == NotifyPolicy.InactiveAndLineLow) return Fold(irq, icsr, policy, vdpendInFlight);
        var latched = Fold(irq, icsr, policy, vdpendInFlight: true).Irq;
        var untrack = !vdpendInFlight && !icsr.Active && !icsr.Pending;
        return new FoldStep(untrack ? latched with { OnApList = false } : latched, deactivated, untrack);
    }
}
