using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Observation;

/// <summary>The checker must have teeth: each invariant is broken on purpose in a hand-written log.</summary>
public class InvariantCheckerSpecs
{
    private readonly List<FabricEvent> _log = new();
    private static readonly IntId S5 = IntId.Spi(5);

    private InvariantCheckerSpecs E(Ev ev, int? vpe = null, IntId? id = null, string? arg = null, int vm = 0)
    {
        _log.Add(new FabricEvent(_log.Count + 1, _log.Count * 10, ev, vm, vpe, id, arg));
        return this;
    }

    /// <summary>Guest boot of spi:5 (priority 8, VPE 0, enabled) and the VPE resident.</summary>
    private InvariantCheckerSpecs Boot() =>
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0);

    /// <summary>One whole edge lifecycle of spi:5 on VPE 0 under push tracking.</summary>
    private InvariantCheckerSpecs Lifecycle() =>
        E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Offer, 0, S5, "8")
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5).E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5);

    private IReadOnlyList<Violation> Check(bool push = true, FabricShape? shape = null)
    {
        var c = new InvariantChecker(shape, push);
        foreach (var e in _log) c.Observe(e);
        return c.Finish();
    }

    private void Broken(string invariant, string text, bool push = true, FabricShape? shape = null)
    {
        var v = Check(push, shape);
        Assert.Contains(v, x => x.Invariant == invariant && x.Message.Contains(text));
    }

    [Fact]
    public void I3_an_spi_kvm_makes_pending_while_off_the_ap_list_was_untracked_under_an_injection_in_flight()
    {
        // A deactivation report judged against the wrong injection took spi:5 off the list; KVM's next VDPEND pends it.
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5, FabricEvent.ByVdpend).E(Ev.Offer, 0, S5, "8")
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Inject, null, S5, "edge").E(Ev.Deactivate, 0, S5)
            .E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5).E(Ev.Pend, 0, S5, FabricEvent.ByVdpend);
        Broken("I3", "made pending by KVM's VDPEND while not on the AP list");
    }

    [Fact]
    public void A_guest_cdpend_of_an_untracked_spi_is_no_ap_list_matter() =>
        Assert.DoesNotContain(Boot().E(Ev.Pend, 0, S5).Check(), v => v.Invariant == "I3" && v.Message.Contains("VDPEND"));

    [Fact]
    public void A_whole_lifecycle_keeps_every_invariant() => Assert.Empty(Boot().Lifecycle().Lifecycle().Check());

    [Fact]
    public void I1_an_injection_neither_acknowledged_nor_coalesced_is_lost()
    {
        Boot().Lifecycle().E(Ev.Inject, null, S5, "edge");
        Broken("I1", "injected 2 != acknowledged 1 + coalesced 0");
    }

    [Fact]
    public void I1_a_coalesce_counted_twice_breaks_conservation()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Inject, null, S5, "edge")
            .E(Ev.Coalesce, 0, S5).E(Ev.Coalesce, 0, S5)
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0).E(Ev.Deactivate, 0, S5).E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5);
        Broken("I1", "injected 2 != acknowledged 1 + coalesced 2");
    }

    [Fact]
    public void I2_a_deactivation_that_does_not_notify_is_caught()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Deactivate, 0, S5).E(Ev.Untrack, null, S5);
        Broken("I2", "never notified");
    }

    [Fact]
    public void I2_a_notifier_fired_twice_is_caught()
    {
        Boot().Lifecycle().E(Ev.Notify, null, S5);
        Broken("I2", "without a consumption");
    }

    [Fact]
    public void I2_under_fold_two_consumptions_may_share_one_notification()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Deactivate, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Deactivate, 0, S5).E(Ev.Exit, 0).E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5);
        Assert.Empty(Check(push: false));
        Broken("I2", "notified 1 times for 2 deactivations", push: true);
    }

    [Fact]
    public void I3_an_spi_left_on_the_ap_list_is_caught() { Boot().Lifecycle().E(Ev.Track, null, S5); Broken("I3", "still on the AP list"); }

    [Fact]
    public void I3_an_spi_queued_twice_is_caught() { Boot().E(Ev.Track, null, S5).E(Ev.Track, null, S5); Broken("I3", "twice"); }

    [Fact]
    public void I4_an_enabled_interrupt_still_pending_at_the_end_is_stuck()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5);
        Broken("I4", "still pending");
    }

    [Fact]
    public void I4_a_disabled_pending_interrupt_is_not_stuck()
    {
        Boot().E(Ev.Disable, null, S5).E(Ev.Pend, 0, S5);
        Assert.DoesNotContain(Check(), v => v.Invariant == "I4");
    }

    [Fact]
    public void I5_a_level_line_asserted_but_never_delivered_is_caught()
    {
        Boot().E(Ev.Inject, null, S5, "level").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Unpend, 0, S5).E(Ev.Untrack, null, S5);
        Broken("I5", "never delivered");
    }

    [Fact]
    public void I5_a_level_spi_delivered_after_its_line_was_lowered_is_caught()
    {
        Boot().E(Ev.Inject, null, S5, "level").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Deactivate, 0, S5).E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5).E(Ev.Resample, null, S5, "1")
            .E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0).E(Ev.Deactivate, 0, S5);
        Broken("I5", "after its line was lowered");
    }

    [Fact]
    public void I6_acknowledging_a_lower_priority_while_a_higher_one_waits_is_caught()
    {
        var s6 = IntId.Spi(6);
        Boot().E(Ev.Priority, null, s6, "2").E(Ev.Affinity, 0, s6, "0").E(Ev.Enable, null, s6)
            .E(Ev.Pend, 0, S5).E(Ev.Pend, 0, s6).E(Ev.Ack, 0, S5, "edge");
        Broken("I6", "while spi:6 at priority 2 was pending");
    }

    [Fact]
    public void I6_acknowledging_below_the_running_priority_is_caught()
    {
        var s6 = IntId.Spi(6);
        Boot().E(Ev.Priority, null, s6, "9").E(Ev.Affinity, 0, s6, "0").E(Ev.Enable, null, s6)
            .E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Pend, 0, s6).E(Ev.Ack, 0, s6, "edge");
        Broken("I6", "not above the running priority 8");
    }

    [Fact]
    public void I7_a_missed_doorbell_is_caught()
    {
        Boot().E(Ev.Nonresident, 0, null, "db:31").E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Resident, 0);
        Broken("I7", "missed doorbell");
    }

    [Fact]
    public void I7_a_doorbell_for_a_vpe_that_requested_none_is_caught()
    {
        Boot().E(Ev.Nonresident, 0, null, "nodb").E(Ev.Pend, 0, S5).E(Ev.Doorbell, 0, S5);
        Broken("I7", "requested none");
    }

    [Fact]
    public void I7_a_second_doorbell_in_one_period_is_caught()
    {
        Boot().E(Ev.Nonresident, 0, null, "db:31").E(Ev.Pend, 0, S5).E(Ev.Doorbell, 0, S5).E(Ev.Doorbell, 0, S5);
        Broken("I7", "second doorbell");
    }

    [Fact]
    public void I8_an_event_outside_the_fabric_is_caught()
    {
        Boot().E(Ev.Pend, 0, IntId.Spi(40));
        Broken("I8", "beyond the VM's 32 SPIs", shape: new FabricShape(1, 1, 32));
    }

    [Fact]
    public void I8_a_log_out_of_order_is_caught()
    {
        Boot();
        _log.Add(_log[0]);
        Broken("I8", "out of order");
    }

    [Fact]
    public void I2_under_push_two_consumptions_may_precede_their_two_notifications()
    {
        // A re-injection overtakes the first deactivation's report: deactivate, deactivate, notify, notify.
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Deactivate, 0, S5).E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0)
            .E(Ev.Deactivate, 0, S5).E(Ev.Notify, null, S5).E(Ev.Notify, null, S5).E(Ev.Untrack, null, S5);
        Assert.Empty(Check(push: true));
    }

    // ---- moves between nodes and lost nodes: what a log owes, and for which VM ----

    [Fact]
    public void A_vm_handed_off_and_restored_in_the_same_log_is_checked_straight_across_the_move()
    {
        // spi:5 pending when the VM leaves (gen 0) and arrives (gen 1); it is never acknowledged: owed at the end.
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5)
            .E(Ev.Migrate, null, null, "handoff-out gen=0").E(Ev.Migrate, null, null, "bytes=900 us=5 gen=1 handoff");
        Broken("I4", "still pending");
    }

    [Fact]
    public void A_vm_that_left_this_log_for_another_node_owes_nothing_here()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Track, null, S5).E(Ev.Pend, 0, S5).E(Ev.Migrate, null, null, "handoff-out gen=0");
        Assert.Empty(Check());
    }

    [Fact]
    public void A_vm_that_comes_back_after_a_life_elsewhere_or_arrives_never_seen_is_not_checked_here()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Migrate, null, null, "handoff-out gen=0")
            .E(Ev.Migrate, null, null, "bytes=900 us=5 gen=3 handoff")         // generations 1 and 2 ran elsewhere
            .E(Ev.Ack, 0, S5, "edge")                                           // acknowledged there? not this log's to say
            .E(Ev.Migrate, null, null, "bytes=900 us=5 gen=7 handoff", vm: 1)   // VM 1: never seen here
            .E(Ev.Ack, 0, S5, "edge", vm: 1);
        var c = new InvariantChecker();
        foreach (var e in _log) c.Observe(e);
        Assert.Empty(c.Finish());
        Assert.Equal([0, 1], c.JoinedVms.Order());
    }

    [Fact]
    public void A_lost_vm_owes_nothing_from_before_the_loss_and_is_checked_again_from_its_recreation()
    {
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Lost, null, null, "the node that ran it was lost");
        Assert.Empty(Check());
        Boot().E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5);                 // the recreated VM: checked again
        Broken("I4", "still pending");
    }
}

/// <summary>What I2 promises under each KVM design (DESIGN.md §6.2): the merged design notifies nothing, so a resampled
/// level line it lets the guest consume starves its device, and the checker says so at that consumption.</summary>
public class InvariantCheckerDesignSpecs
{
    private static readonly IntId S5 = IntId.Spi(5);
    private readonly List<FabricEvent> _log = new();

    private InvariantCheckerDesignSpecs E(Ev ev, int? vpe = null, IntId? id = null, string? arg = null)
    {
        _log.Add(new FabricEvent(_log.Count + 1, _log.Count * 10, ev, 0, vpe, id, arg));
        return this;
    }

    private InvariantCheckerDesignSpecs Consumed(string kind) =>
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Inject, null, S5, kind).E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);

    private (IReadOnlyList<Violation> Live, IReadOnlyList<Violation> End) Check(Fabric.Hardware.Kvm.KvmDesign design)
    {
        var c = new InvariantChecker(null, true, design, id => id == S5 ? "irqfd-resample-spi-5" : null);
        foreach (var e in _log) c.Observe(e);
        var live = c.Violations.ToArray();
        return (live, c.Finish());
    }

    [Fact]
    public void Under_merged_a_consumed_resampled_line_is_an_I2_violation_naming_the_device_the_spi_and_the_missing_notifier()
    {
        Consumed("level");
        var (live, end) = Check(Fabric.Hardware.Kvm.KvmDesign.Merged);

        var v = Assert.Single(live);                      // found at the consumption, not at the end of the run
        Assert.Equal(("I2", (IntId?)S5), (v.Invariant, v.IntId));
        Assert.Contains("irqfd-resample-spi-5", v.Message);
        Assert.Contains("merged design", v.Message);
        Assert.Contains("no deactivation notifier", v.Message);
        Assert.Single(end);
    }

    [Fact]
    public void Under_merged_a_second_consumption_of_the_starved_line_is_not_reported_again()
    {
        Consumed("level").E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        Assert.Single(Check(Fabric.Hardware.Kvm.KvmDesign.Merged).End);
    }

    [Fact]
    public void A_vcpu_kicked_awake_by_a_PPI_before_an_SPIs_offer_arrives_owes_no_doorbell()
    {
        var p3 = IntId.Ppi(3);
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Priority, 0, p3, "4").E(Ev.Enable, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")
            .E(Ev.Pend, 0, p3)                                  // KVM kicks the vCPU: no doorbell
            .E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5)   // owed a doorbell ...
            .E(Ev.Resident, 0, null, FabricEvent.ByKick)        // ... but the kick woke the vCPU first
            .E(Ev.Ack, 0, p3, "edge").E(Ev.Eoi, 0, null, "4").E(Ev.Deactivate, 0, p3)
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        Assert.Empty(Check(Fabric.Hardware.Kvm.KvmDesign.ApList).End);
    }

    [Fact]
    public void A_wfi_ended_by_a_kick_of_an_earlier_period_owes_no_doorbell_but_one_never_rung_is_caught_at_the_end()
    {
        var p3 = IntId.Ppi(3);
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Priority, 0, p3, "4").E(Ev.Enable, 0, p3)
            .E(Ev.Nonresident, 0, null, "nodb")                 // preempted, or stopped for a move
            .E(Ev.Pend, 0, p3).E(Ev.Coalesce, 0, p3)            // KVM kicks the vCPU, twice
            .E(Ev.Resident, 0, null, FabricEvent.ByKick)        // one kick's wake ...
            .E(Ev.Ack, 0, p3, "edge").E(Ev.Eoi, 0, null, "4").E(Ev.Deactivate, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")
            .E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5)   // owed a doorbell ...
            .E(Ev.Resident, 0, null, FabricEvent.ByKick)        // ... but the other kick's wake ended this WFI
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        Assert.Empty(Check(Fabric.Hardware.Kvm.KvmDesign.ApList).End);

        E(Ev.Nonresident, 0, null, "db:31").E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5);   // never woken, never rung
        Assert.Contains(Check(Fabric.Hardware.Kvm.KvmDesign.ApList).End, v => v.Invariant == "I7" && v.Message.Contains("still owed at the end"));
    }

    [Fact]
    public void A_wfi_owed_a_doorbell_that_no_wake_ends_fails_I7_though_a_PPI_was_pending_in_an_earlier_period()
    {
        var p3 = IntId.Ppi(3);
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Priority, 0, p3, "4").E(Ev.Enable, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")
            .E(Ev.Pend, 0, p3)                                  // a kick, which woke it
            .E(Ev.Resident, 0, null, FabricEvent.ByKick)
            .E(Ev.Ack, 0, p3, "edge").E(Ev.Eoi, 0, null, "4").E(Ev.Deactivate, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")
            .E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5)   // owed a doorbell, never rung ...
            .E(Ev.Resident, 0)                                  // ... and no wake ended this WFI
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        var v = Assert.Single(Check(Fabric.Hardware.Kvm.KvmDesign.ApList).End);
        Assert.Equal("I7", v.Invariant);
        Assert.Contains("missed doorbell", v.Message);
    }

    [Fact]
    public void A_wfi_ended_by_the_late_wake_of_an_earlier_doorbell_owes_no_doorbell()
    {
        var p3 = IntId.Ppi(3);
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Priority, 0, p3, "4").E(Ev.Enable, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")
            .E(Ev.Inject, null, S5, "edge").E(Ev.Pend, 0, S5).E(Ev.Doorbell, 0, S5, "31")
            .E(Ev.Pend, 0, p3)
            .E(Ev.Resident, 0, null, FabricEvent.ByKick)        // the kick's wake overtook the doorbell's
            .E(Ev.Ack, 0, p3, "edge").E(Ev.Eoi, 0, null, "4").E(Ev.Deactivate, 0, p3)
            .E(Ev.Nonresident, 0, null, "db:31")                // S5 still pending: owed a doorbell ...
            .E(Ev.Resident, 0, null, FabricEvent.ByDoorbell)    // ... and the doorbell's late wake ended this WFI
            .E(Ev.Ack, 0, S5, "edge").E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        Assert.Empty(Check(Fabric.Hardware.Kvm.KvmDesign.ApList).End);
    }

    [Fact]
    public void Under_merged_an_edge_irqfd_keeps_every_invariant()
    {
        Consumed("edge");
        Assert.Empty(Check(Fabric.Hardware.Kvm.KvmDesign.Merged).End);
    }

    [Fact]
    public void Under_merged_a_line_lowered_by_its_device_before_the_consumption_starves_nothing()
    {
        E(Ev.Priority, null, S5, "8").E(Ev.Affinity, 0, S5, "0").E(Ev.Enable, null, S5).E(Ev.Resident, 0)
            .E(Ev.Inject, null, S5, "level").E(Ev.Pend, 0, S5).E(Ev.Ack, 0, S5, "edge").E(Ev.Resample, null, S5, "1")
            .E(Ev.Eoi, 0, null, "8").E(Ev.Deactivate, 0, S5);
        Assert.Empty(Check(Fabric.Hardware.Kvm.KvmDesign.Merged).End);
    }
}
