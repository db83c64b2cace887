using Fabric.Hardware.Deterministic;
using Fabric.Actors.Deterministic;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>
/// The deterministic schedule (DESIGN.md §6.5): the real actors on one thread, the seed choosing every delivery, timers
/// in virtual time. The same seed gives the same event log, event for event (time included); another seed another
/// order; and every order it produces keeps every invariant.
/// </summary>
public sealed class DeterministicScheduleSpecs
{
    private static (List<FabricEvent> Events, TimeSpan Took) Storm(long seed, ScheduleStrategy strategy = ScheduleStrategy.Random, TrackingPolicy tracking = TrackingPolicy.Push)
    {
        var spec = FabricHarness.Everything(new FabricPolicies(Tracking: tracking), perDevice: 150, ipis: 20) with { Seed = seed };
        using var run = DeterministicRun.Start(vms: 2, spec, seed, strategy);
        run.Fabric.StartDevices();
        run.RunUntil(() => false, run.Now + TimeSpan.FromMilliseconds(200));
        run.Fabric.StopDevices();
        run.RunUntil(() => false, run.Now + TimeSpan.FromSeconds(2));
        return (FabricHarness.Drained(run.Log), run.Now);
    }

    [Fact]
    public void Each_delivery_is_one_message()
    {
        using var run = DeterministicRun.Start(vms: 1, FabricHarness.Everything(FabricPolicies.Default, perDevice: 10, ipis: 0), seed: 1);
        Assert.Equal(1, run.System.Dispatchers.Lookup(DeterministicLoop.DispatcherId).Throughput);
    }

    [Fact]
    public void The_same_seed_gives_the_same_event_log_event_for_event()
    {
        var (a, _) = Storm(7);
        var (b, _) = Storm(7);
        Assert.True(a.Count > 1000, $"{a.Count} events");
        Assert.Equal(a.Select(e => e.ToString()), b.Select(e => e.ToString()));
    }

    [Fact]
    public void Another_seed_gives_another_order()
    {
        var (a, _) = Storm(7);
        var (b, _) = Storm(8);
        Assert.NotEqual(a.Select(e => (e.Ev, e.Vm, e.Vpe, e.IntId)), b.Select(e => (e.Ev, e.Vm, e.Vpe, e.IntId)));
    }

    [Theory]
    [InlineData(ScheduleStrategy.Random, TrackingPolicy.Push)]
    [InlineData(ScheduleStrategy.Random, TrackingPolicy.Fold)]
    [InlineData(ScheduleStrategy.Pct, TrackingPolicy.Push)]
    [InlineData(ScheduleStrategy.Pct, TrackingPolicy.Fold)]
    public void Every_schedule_keeps_every_invariant(ScheduleStrategy strategy, TrackingPolicy tracking)
    {
        for (var seed = 1; seed <= 5; seed++)
        {
            var (events, _) = Storm(seed, strategy, tracking);
            var checker = FabricHarness.Checked(events, new FabricShape(2, 4, 64), push: tracking == TrackingPolicy.Push);
            Assert.True(checker.Violations.Count == 0, $"seed {seed}: {string.Join("; ", checker.Violations.Take(5))}");
            Assert.True(checker.Acknowledged > 100, $"seed {seed}: {checker.Acknowledged} acknowledged");
        }
    }

    [Fact]
    public void Time_is_virtual_a_run_takes_as_long_as_its_work()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (events, took) = Storm(3);
        // 200 ms of devices and 2 s of drain, in virtual time (the timers of exits and preemption keep it moving); the
        // events carry it.
        Assert.True(took >= TimeSpan.FromMilliseconds(2200), $"virtual {took}");
        Assert.InRange(events[^1].T, 1L, (long)took.TotalNanoseconds);
        Assert.True(events.Select(e => e.T).Distinct().Count() > 1, "the events' times move with virtual time");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60));
    }
}
