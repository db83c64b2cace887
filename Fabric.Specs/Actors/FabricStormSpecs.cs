using Akka.TestKit.Xunit2;
using Fabric.Actors.Observation;
using Fabric.Hardware;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Actors;

public class FabricStormSpecs : TestKit
{
    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task An_edge_and_level_storm_over_several_vms_keeps_every_invariant(TrackingPolicy tracking)
    {
        var spec = FabricHarness.EdgeStorm(vcpus: 4, spis: 64, new FabricPolicies(Tracking: tracking), perDevice: 400);
        var run = await FabricHarness.RunAsync(Sys, vms: 4, spec);
        Assert.True(run.Quiesced, run.Describe());
        Assert.Empty(run.Violations);
        Assert.Equal(run.Checker.Injected, run.Count(Ev.Inject));
        Assert.True(run.Checker.Acknowledged >= 4 * 400, run.Describe());
        Assert.True(run.Checker.Notified > 0);
        Assert.True(run.Count(Ev.Doorbell) > 0, "vCPUs idle in WFI must be woken by doorbells");
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task Every_path_at_once_with_reprogramming_ipis_ppis_and_preemption_keeps_every_invariant(TrackingPolicy tracking)
    {
        var spec = FabricHarness.Everything(new FabricPolicies(Tracking: tracking), perDevice: 1500, ipis: 200);
        var run = await FabricHarness.RunAsync(Sys, vms: 4, spec, runFor: TimeSpan.FromSeconds(1));
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        foreach (var ev in new[] { Ev.Priority, Ev.Affinity, Ev.Disable, Ev.Enable, Ev.Doorbell, Ev.Resample, Ev.Notify, Ev.Exit })
            Assert.True(run.Count(ev) > 0, $"no {ev} event: the storm did not exercise that path");
        Assert.Contains(run.Events, e => e.Ev == Ev.Ack && e.IntId is { IsLpi: true });
        Assert.Contains(run.Events, e => e.Ev == Ev.Ack && e.IntId is { IsPpi: true });
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task A_64_vm_storm_with_residency_churn_keeps_every_invariant(TrackingPolicy tracking)
    {
        var spec = FabricHarness.EdgeStorm(vcpus: 4, spis: 64, new FabricPolicies(Tracking: tracking), perDevice: 150, exitsPerSecond: 200)
            with { Host = new Fabric.Actors.Vm.HostSpec(PreemptPerSecond: 200) };
        var run = await FabricHarness.RunAsync(Sys, vms: 64, spec);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.True(run.Checker.ResidencyChanges > 64 * 4 * 2, run.Describe());
    }
}
