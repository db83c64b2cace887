using Fabric.Hardware.Protocol;
using System.Diagnostics;
using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;
using Fabric.Bench.Messaging;
using Fabric.Hardware;
using Fabric.Hardware.Kvm;

namespace Fabric.Bench.FabricRuns;

/// <summary>What one fabric run counted after it drained: the event counts behind I1–I3, and whether they balance.</summary>
public sealed record FabricCheck(long Injected, long Coalesced, long Acknowledged, long Deactivated, long Notified, long Tracked, long Untracked, bool Quiesced, bool Push,
    bool Merged = false)
{
    /// <summary>I1 injected = acknowledged + coalesced; every acknowledged SPI deactivated; I3 the AP list empty; I2 under
    /// push notified = deactivated, under fold every consumption notified (in a window-1 closed loop, also equal); under
    /// the merged design nothing tracked and nothing notified (it keeps no AP list and no SPI notifier).</summary>
    public string? Failure =>
        !Quiesced ? "did not drain" :
        Merged && (Tracked != 0 || Notified != 0) ? $"merged design: tracked {Tracked}, notified {Notified} (expected none)" :
        Injected != Acknowledged + Coalesced ? $"I1: injected {Injected} != acknowledged {Acknowledged} + coalesced {Coalesced}" :
        Acknowledged != Deactivated ? $"acknowledged {Acknowledged} != deactivated {Deactivated}" :
        Tracked != Untracked ? $"I3: tracked {Tracked} != untracked {Untracked} (AP list not empty)" :
        Merged ? null :
        Push && Notified != Deactivated ? $"I2: notified {Notified} != deactivated {Deactivated} under push" :
        !Push && (Notified > Deactivated || (Deactivated > 0 && Notified == 0)) ? $"I2: notified {Notified} for {Deactivated} deactivations under fold" :
        null;

    public static FabricCheck From(EventLog log, bool quiesced, FabricPolicies policies) =>
        new(log.Count(Ev.Inject), log.Count(Ev.Coalesce), log.Count(Ev.Ack), log.Count(Ev.Deactivate), log.Count(Ev.Notify),
            log.Count(Ev.Track), log.Count(Ev.Untrack), quiesced, policies.Tracking == TrackingPolicy.Push, policies.Kvm == KvmDesign.Merged);
}

/// <summary>A closed-loop fabric measurement: lifecycles (acknowledged and deactivated SPIs) and counted actor messages
/// over the measured window, after a warm-up; then the drain and the conservation check.</summary>
/// <paramref name="Events"/>: events logged in the window (each one an increment of the log's shared seq counter);
/// <paramref name="GcPause"/>: the GC's pause time in the window; <paramref name="Gen2"/>: full collections in it.
public sealed record FabricResult(int Vms, double Seconds, long Lifecycles, long Messages, FabricCheck Check, double BuildSeconds, long Events, TimeSpan GcPause, int Gen2)
{
    public double EventsPerLifecycle => Lifecycles == 0 ? 0 : (double)Events / Lifecycles;
    public double GcPauseFraction => GcPause.TotalSeconds / Seconds;
    public double LifecyclesPerSecond => Lifecycles / Seconds;
    public double MessagesPerSecond => Messages / Seconds;
    public double MessagesPerLifecycle => Lifecycles == 0 ? 0 : (double)Messages / Lifecycles;
}

public static class FabricRun
{
    /// <summary>Builds <paramref name="vms"/> VMs from <paramref name="spec"/> in a fresh actor system with the counting
    /// mailbox and a counting, non-recording event log, starts the devices, measures, stops them, drains and checks.
    /// <paramref name="beforeDrain"/> runs after the measured window, the devices still running (the cluster section's
    /// local moves). The log, which does not record, takes no shared seq, as in the product (the baseline logs nothing);
    /// <paramref name="sequenced"/>: it takes one anyway (the storm's measure of what the counter costs).</summary>
    public static async Task<FabricResult> ClosedLoopAsync(int vms, VmSpec spec, TimeSpan warmup, TimeSpan measure, Action<FabricRuntime>? onBuilt = null,
        Func<FabricRuntime, Task>? beforeDrain = null, bool sequenced = false)
    {
        var log = new EventLog(record: false, count: true, sequenced: sequenced);
        using var system = BenchSystems.Create("fabric", countMessages: true);
        var build = Stopwatch.StartNew();
        var rt = await FabricRuntime.BuildAsync(system, vms, spec, log, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        // Boot (guest programming, vCPUs loaded) is asynchronous: wait until it has settled before injecting.
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        var buildSeconds = build.Elapsed.TotalSeconds;
        onBuilt?.Invoke(rt);
        var result = await MeasureAsync(rt, spec, buildSeconds, warmup, measure, beforeDrain is null ? null : () => beforeDrain(rt)).ConfigureAwait(false);
        await system.Terminate().ConfigureAwait(false);
        return result;
    }

    /// <summary>The measurement on a built and booted fabric, local or sharded, whose log counts: start the devices, warm
    /// up, count over the window, stop them, drain and check.</summary>
    public static async Task<FabricResult> MeasureAsync(IFabric fabric, VmSpec spec, double buildSeconds, TimeSpan warmup, TimeSpan measure, Func<Task>? beforeDrain = null)
    {
        var log = fabric.Log;
        fabric.StartDevices();
        await Task.Delay(warmup).ConfigureAwait(false);
        var (l0, m0, e0, p0, g0, t0) = (log.Count(Ev.Deactivate), MessageCounter.Total, log.LastSeq, GC.GetTotalPauseDuration(), GC.CollectionCount(2), Stopwatch.GetTimestamp());
        await Task.Delay(measure).ConfigureAwait(false);
        var (l1, m1, e1, p1, g1, seconds) = (log.Count(Ev.Deactivate), MessageCounter.Total, log.LastSeq, GC.GetTotalPauseDuration(), GC.CollectionCount(2), Stopwatch.GetElapsedTime(t0).TotalSeconds);
        if (beforeDrain is not null) await beforeDrain().ConfigureAwait(false);
        fabric.StopDevices();
        var quiesced = await fabric.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        var check = FabricCheck.From(log, quiesced, spec.Policies);
        return new FabricResult(fabric.VmCount, seconds, l1 - l0, m1 - m0, check, buildSeconds, e1 - e0, p1 - p0, g1 - g0);
    }
}
