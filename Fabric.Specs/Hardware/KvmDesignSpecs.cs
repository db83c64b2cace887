using Fabric.Hardware.Protocol;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Reference;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The two KVM designs (SEMANTICS.md §0.1, DESIGN.md §6.2): the seed's AP list (v1-v3) and the series as
/// merged (v4+, Linux v7.4). Both inject with VDPEND(intid, irq_is_pending(irq)); only the seed's tracks and notifies.</summary>
public sealed class KvmDesignSpecs
{
    private static readonly KvmIrq Level = new(HandlingMode.Level, false, false, false);
    private static readonly KvmIrq Edge = new(HandlingMode.Edge, false, false, false);

    [Fact]
    public void Merged_injection_issues_the_same_vdpend_as_the_seed_and_queues_nothing()
    {
        foreach (var (irq, level) in new[] { (Level, true), (Edge, true) })
        {
            var seed = KvmRules.Inject(irq, level, KvmDesign.ApList);
            var merged = KvmRules.Inject(irq, level, KvmDesign.Merged);
            Assert.Equal(seed.Vdpend, merged.Vdpend);
            Assert.True(seed.Queued);
            Assert.False(merged.Queued);
            Assert.False(merged.Irq.OnApList);
        }
    }

    [Fact]
    public void Merged_design_keeps_line_level_and_pending_latch_and_lowering_a_level_line_issues_vdpend_0()
    {
        var raised = KvmRules.Inject(Level, true, KvmDesign.Merged);
        Assert.True(raised.Irq.LineLevel);
        Assert.True(raised.Vdpend);
        var lowered = KvmRules.Inject(raised.Irq, false, KvmDesign.Merged);
        Assert.False(lowered.Irq.LineLevel);
        Assert.False(lowered.Vdpend);
        Assert.Null(KvmRules.Inject(lowered.Irq, false, KvmDesign.Merged).Vdpend);   // no change of level: dropped
        Assert.True(KvmRules.Inject(Edge, true, KvmDesign.Merged).Irq.PendingLatch);
    }

    [Fact]
    public void Merged_design_neither_folds_nor_notifies_whatever_the_tracking_policy()
    {
        foreach (var tracking in new[] { TrackingPolicy.Push, TrackingPolicy.Fold })
        {
            var merged = new FabricPolicies(Tracking: tracking, Kvm: KvmDesign.Merged);
            Assert.False(KvmDesignRules.Folds(merged));
            Assert.False(KvmDesignRules.ReportsEnd(merged, deactivation: false, causedByKvm: true));
        }
        Assert.True(KvmDesignRules.Folds(new FabricPolicies(Tracking: TrackingPolicy.Fold)));
        Assert.False(KvmDesignRules.Notifies(KvmDesign.Merged));
        Assert.True(KvmDesignRules.Notifies(KvmDesign.ApList));
    }

    [Fact]
    public void Under_merged_only_the_devices_own_completion_path_sees_a_consumption()
    {
        Assert.True(KvmDesignRules.DeviceSeesConsumption(KvmDesign.Merged, deactivation: true));
        Assert.False(KvmDesignRules.DeviceSeesConsumption(KvmDesign.Merged, deactivation: false));
        Assert.False(KvmDesignRules.DeviceSeesConsumption(KvmDesign.ApList, deactivation: true));   // the notifier does it
    }

    [Fact]
    public void A_merged_spi_list_restored_with_entries_is_refused()
    {
        var irqs = new[] { Level with { LineLevel = true, OnApList = true } };
        Assert.False(SpiApList.TryRestore(NotifyPolicy.OnDeactivate, irqs, [0u], out _, out var error, KvmDesign.Merged));
        Assert.Contains("merged design keeps no SPI AP list", error);
        Assert.True(SpiApList.TryRestore(NotifyPolicy.OnDeactivate, [Level], [], out var list, out _, KvmDesign.Merged));
        Assert.Equal(KvmDesign.Merged, list.Design);
    }

    /// <summary>The reference fabric, one resampled level SPI consumed once: the seed's design notifies it (and the
    /// resampler would lower the line); the merged one never does, and its line stays high with nothing tracked.</summary>
    [Theory]
    [InlineData(KvmDesign.ApList, TrackingPolicy.Push, 1)]
    [InlineData(KvmDesign.ApList, TrackingPolicy.Fold, 1)]
    [InlineData(KvmDesign.Merged, TrackingPolicy.Push, 0)]
    [InlineData(KvmDesign.Merged, TrackingPolicy.Fold, 0)]
    public void A_consumed_level_spi_is_notified_under_the_seeds_design_and_never_under_the_merged_one(KvmDesign design, TrackingPolicy tracking, long notified)
    {
        var vm = new VmModel(0, new VirtualIrsConfig(32, 1), new FabricPolicies(Tracking: tracking, Kvm: design));
        Assert.Null(vm.ConfigureSpi(3, HandlingMode.Level));
        Assert.Null(vm.Guest(new IrsProtocol.CdPriority(IntId.Spi(3), 4)));
        Assert.Null(vm.Guest(new IrsProtocol.CdEnable(IntId.Spi(3), true)));
        vm.Load(0);

        Assert.Null(vm.Inject(3, level: true));
        Assert.Equal(design == KvmDesign.ApList ? 1 : 0, vm.ApList.Count);
        Assert.Equal(IntId.Spi(3), vm.Cdia(0));
        vm.Cdeoi(0);
        Assert.Null(vm.Cddi(0, IntId.Spi(3)));
        vm.Exit();

        Assert.Equal(notified, vm.Counters.Notified);
        Assert.True(vm.ApList[3].LineLevel);             // KVM still holds the line high: only the notifier's resampler lowers it
        Assert.Equal(0, vm.ApList.Count);                // consumed and notified (seed), or never listed (merged)
    }
}
