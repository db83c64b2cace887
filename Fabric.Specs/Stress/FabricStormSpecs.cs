using Fabric.Hardware.Protocol;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Stress;

using Fabric.Specs.Actors;

public class FabricStormSpecs : TestKit
{
    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task An_edge_and_level_storm_over_several_vms_keeps_every_invariant(TrackingPolicy tracking)
    {
        var spec = FabricHarness.EdgeStorm(vcpus: 4, spis: 64, new FabricPolicies(Tracking: tracking), perDevice: 400);
        var run = await FabricHarness.RunAsync(Sys, vms: 4 * FabricHarness.Scale, spec);
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
            with { Host = new Fabric.Hardware.Protocol.HostSpec(PreemptPerSecond: 200) };
        var run = await FabricHarness.RunAsync(Sys, vms: 64 * FabricHarness.Scale, spec);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.True(run.Checker.ResidencyChanges > 64 * 4 * 2, run.Describe());
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task One_vm_under_64_concurrent_injectors_with_reprogramming_keeps_every_invariant(TrackingPolicy tracking)
    {
        // Contention: 64 devices (one per SPI), each its own actor, all injecting into one VM at once.
        var ids = Enumerable.Range(0, 64).Select(i => new IntIdRange(IntIdType.Spi, (uint)i, (uint)i)).ToArray();
        var spec = new VmSpec(4, 64, new FabricPolicies(Tracking: tracking),
            [new InterruptSpec(IntIdRange.Parse("spi:0-63"), HandlingMode.Edge, 8, null, true)],
            ids.Select(r => new DeviceSpec(DeviceKind.Irqfd, r, Window: 2)).ToArray(),
            new GuestSpec(TimeSpan.Zero, 31, ReprogramPerSecond: 200), new VcpuSpec(ExitsPerSecond: 300), new HostSpec(PreemptPerSecond: 100),
            FabricHarness.Seed, 60L * FabricHarness.Scale);
        var run = await FabricHarness.RunAsync(Sys, vms: 1, spec);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.Equal(64L * 60 * FabricHarness.Scale, run.Checker.Injected);
    }
}
