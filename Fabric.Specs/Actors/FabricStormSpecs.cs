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
}
