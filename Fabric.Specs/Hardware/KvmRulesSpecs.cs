using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Xunit;
using static Fabric.Hardware.Interrupts.HandlingMode;
using static Fabric.Hardware.Kvm.NotifyPolicy;

namespace Fabric.Specs.Hardware;

/// <summary>KVM's bookkeeping for GICv5 SPIs (SEMANTICS.md §3.2, §3.3): injection, the fold step and push reports.</summary>
public class KvmRulesSpecs
{
    private static Icsr Icsr(bool pending, bool active) =>
        Fabric.Hardware.Interrupts.Icsr.From(IstEntry.Zero.WithEnabled(true).WithPending(pending).WithActive(active));

    [Theory]
    [InlineData(Edge, false, false, false)]
    [InlineData(Edge, true, false, true)]
    [InlineData(Edge, false, true, false)]
    [InlineData(Level, false, false, false)]
    [InlineData(Level, true, false, true)]
    [InlineData(Level, false, true, true)]
    [InlineData(Level, true, true, true)]
    public void irq_is_pending_is_the_latch_for_edge_and_latch_or_line_for_level(HandlingMode config, bool latch, bool line, bool pending) =>
        Assert.Equal(pending, new KvmIrq(config, line, latch, false).IsPending);

    [Theory]
    [InlineData(Level, false, true, true)]
    [InlineData(Level, true, false, true)]
    [InlineData(Level, true, true, false)]
    [InlineData(Level, false, false, false)]
    [InlineData(Edge, false, true, true)]
    [InlineData(Edge, true, true, true)]
    [InlineData(Edge, false, false, false)]
    [InlineData(Edge, true, false, false)]
    public void Validation_level_acts_on_a_change_only_edge_on_level_1_only(HandlingMode config, bool line, bool level, bool valid) =>
        Assert.Equal(valid, KvmRules.ValidateInjection(new KvmIrq(config, line, false, false), level));

    [Theory]
    //          config  line   latch  onList level  | accepted lineAfter latchAfter vdpend(-1 none) queued onListAfter
    [InlineData(Edge, false, false, false, true, true, false, true, 1, true, true)]
    [InlineData(Edge, false, true, true, true, true, false, true, 1, false, true)]
    [InlineData(Edge, false, false, true, true, true, false, true, 1, false, true)]
    [InlineData(Edge, false, false, false, false, false, false, false, -1, false, false)]
    [InlineData(Edge, false, true, true, false, false, false, true, -1, false, true)]
    [InlineData(Level, false, false, false, true, true, true, false, 1, true, true)]
    [InlineData(Level, true, false, true, false, true, false, false, 0, false, true)]
    [InlineData(Level, true, true, true, false, true, false, true, 1, false, true)]
    [InlineData(Level, true, true, false, false, true, false, true, 1, true, true)]
    [InlineData(Level, true, false, true, true, false, true, false, -1, false, true)]
    [InlineData(Level, false, false, false, false, false, false, false, -1, false, false)]
    // Fabric's departure from S1: a lowering that leaves the SPI not pending is not queued (DESIGN.md I3).
    [InlineData(Level, true, false, false, false, true, false, false, 0, false, false)]
    public void Inject_edge_sets_the_latch_level_sets_the_line_VDPEND_is_irq_is_pending_and_only_a_pending_SPI_is_queued(
        HandlingMode config, bool line, bool latch, bool onList, bool level,
        bool accepted, bool lineAfter, bool latchAfter, int vdpend, bool queued, bool onListAfter)
    {
        var before = new KvmIrq(config, line, latch, onList);
        var inj = KvmRules.Inject(before, level);
        Assert.Equal(accepted, inj.Accepted);
        Assert.Equal(vdpend < 0 ? null : vdpend == 1, inj.Vdpend);
        Assert.Equal(queued, inj.Queued);
        Assert.Equal(accepted ? new KvmIrq(config, lineAfter, latchAfter, onListAfter) : before, inj.Irq);
    }

    [Fact]
    public void Only_the_first_injection_queues_however_often_it_is_injected()
    {
        var irq = new KvmIrq(Edge, false, false, false);
        var queued = new List<bool>();
        for (var i = 0; i < 4; i++)
        {
            var inj = KvmRules.Inject(irq, true);
            queued.Add(inj.Queued);
            irq = inj.Irq;
        }
        Assert.Equal(new[] { true, false, false, false }, queued);
    }

    [Theory]
    //          config line   latch  P      A      policy               | latchAfter notify
    [InlineData(Edge, false, true, true, false, OnDeactivate, true, false)]
    [InlineData(Edge, false, false, true, false, OnDeactivate, true, false)]
    [InlineData(Edge, false, true, false, true, OnDeactivate, false, false)]
    [InlineData(Edge, false, true, true, true, OnDeactivate, true, false)]
    [InlineData(Edge, false, true, false, false, OnDeactivate, false, true)]
    [InlineData(Edge, false, true, false, false, InactiveAndLineLow, false, true)]
    [InlineData(Level, true, true, true, false, OnDeactivate, true, false)]
    [InlineData(Level, false, true, false, true, OnDeactivate, true, false)]
    [InlineData(Level, true, true, false, false, OnDeactivate, false, true)]
    [InlineData(Level, false, false, false, false, InactiveAndLineLow, false, true)]
    [InlineData(Level, false, true, false, false, InactiveAndLineLow, false, true)]
    // Hazard 2: a level SPI whose line is still high, found inactive and not pending in the IRS.
    [InlineData(Level, true, false, false, false, OnDeactivate, false, true)]
    [InlineData(Level, true, false, false, false, InactiveAndLineLow, false, false)]
    public void Fold_edge_latches_pending_level_clears_the_latch_when_idle_and_the_policy_decides_the_notify(
        HandlingMode config, bool line, bool latch, bool pending, bool active, NotifyPolicy policy, bool latchAfter, bool notify)
    {
        var step = KvmRules.Fold(new KvmIrq(config, line, latch, true), Icsr(pending, active), policy);
        Assert.Equal(latchAfter, step.Irq.PendingLatch);
        Assert.Equal(line, step.Irq.LineLevel);
        Assert.Equal(notify, step.Notify);
        Assert.Equal(notify, step.Untrack);
        Assert.Equal(!notify, step.Irq.OnApList);
    }

    [Theory]
    [InlineData(Edge, false, OnDeactivate)]
    [InlineData(Edge, false, InactiveAndLineLow)]
    [InlineData(Level, false, OnDeactivate)]
    [InlineData(Level, false, InactiveAndLineLow)]
    public void Fold_with_a_VDPEND_in_flight_neither_notifies_nor_untracks(HandlingMode config, bool line, NotifyPolicy policy)
    {
        var step = KvmRules.Fold(new KvmIrq(config, line, true, true), Icsr(false, false), policy, vdpendInFlight: true);
        Assert.False(step.Notify);
        Assert.False(step.Untrack);
        Assert.True(step.Irq.OnApList);
    }

    [Theory]
    //          config line   latch  P      A      deact  policy             inFlight | notify untrack
    [InlineData(Edge, false, false, false, false, true, OnDeactivate, false, true, true)]
    [InlineData(Edge, false, true, true, false, true, OnDeactivate, false, true, false)]
    [InlineData(Edge, false, false, false, false, true, OnDeactivate, true, true, false)]
    [InlineData(Edge, false, false, false, false, false, OnDeactivate, false, false, true)]
    [InlineData(Edge, false, false, false, false, false, OnDeactivate, true, false, false)]
    [InlineData(Level, true, false, false, false, true, OnDeactivate, false, true, true)]
    [InlineData(Level, true, false, true, false, true, OnDeactivate, false, true, false)]
    [InlineData(Level, true, false, false, false, true, InactiveAndLineLow, false, false, false)]
    [InlineData(Level, false, false, false, false, true, InactiveAndLineLow, false, true, true)]
    [InlineData(Edge, false, true, false, false, true, InactiveAndLineLow, false, true, true)]
    [InlineData(Edge, false, true, false, false, true, InactiveAndLineLow, true, false, false)]
    // InactiveAndLineLow applies S1's fold predicate, which cannot tell a retire from a consumption.
    [InlineData(Edge, false, true, false, false, false, InactiveAndLineLow, false, true, true)]
    public void Pushed_every_deactivation_notifies_under_OnDeactivate_and_untracks_only_when_idle_with_nothing_in_flight(
        HandlingMode config, bool line, bool latch, bool pending, bool active, bool deactivated, NotifyPolicy policy,
        bool inFlight, bool notify, bool untrack)
    {
        var step = KvmRules.Pushed(new KvmIrq(config, line, latch, true), Icsr(pending, active), deactivated, policy, inFlight);
        Assert.Equal(notify, step.Notify);
        Assert.Equal(untrack, step.Untrack);
        Assert.Equal(!untrack, step.Irq.OnApList);
    }

    public static TheoryData<HandlingMode, bool, bool, bool, bool, bool> EveryKvmAndIrsState()
    {
        var data = new TheoryData<HandlingMode, bool, bool, bool, bool, bool>();
        foreach (var config in new[] { Edge, Level })
        foreach (var line in new[] { false, true })
        foreach (var latch in new[] { false, true })
        foreach (var pending in new[] { false, true })
        foreach (var active in new[] { false, true })
        foreach (var inFlight in new[] { false, true })
            data.Add(config, line, latch, pending, active, inFlight);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryKvmAndIrsState))]
    public void Under_OnDeactivate_a_deactivation_always_notifies_and_a_retire_never_does(HandlingMode config, bool line, bool latch,
        bool pending, bool active, bool inFlight)
    {
        var irq = new KvmIrq(config, line, latch, true);
        var icsr = Icsr(pending, active);
        var deactivation = KvmRules.Pushed(irq, icsr, deactivated: true, OnDeactivate, inFlight);
        var retire = KvmRules.Pushed(irq, icsr, deactivated: false, OnDeactivate, inFlight);
        Assert.True(deactivation.Notify);
        Assert.False(retire.Notify);
        var untrack = !inFlight && !pending && !active;
        Assert.Equal(untrack, deactivation.Untrack);
        Assert.Equal(untrack, retire.Untrack);
        // The latch follows the IRS state as the fold would.
        Assert.Equal(KvmRules.Fold(irq, icsr, OnDeactivate, true).Irq.PendingLatch, deactivation.Irq.PendingLatch);
    }
}
