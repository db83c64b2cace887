using Fabric.Hardware.Protocol;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Bench.Baseline;
using Fabric.Bench.FabricRuns;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Bench.Sections;

public sealed record ContentionResult(FabricResult Push, FabricResult Fold, BaselineResult Baseline,
    Percentiles PushNotify, Percentiles FoldNotify, BaselineResult MergedBaseline, FabricResult Merged);

public readonly record struct Percentiles(double P50, double P99, double P999, long Count);

/// <summary>
/// (d) One VM, 4 vCPUs, 64 SPIs each driven by its own irqfd (64 injectors, 64 SPIs in flight), WFI on (so that the
/// fold has exits to run at): the fabric with push tracking, the fabric with fold tracking, and the lock-based
/// baseline (one thread per vCPU and per injector: 68 threads) — the seed's lock design (v1-v3: AP list, fold) — and
/// the same threads under the merged design's locks (irq_lock only: no list, no fold, no notifier), the cost floor of
/// tracking nothing, beside the fabric under the same design (<c>kvm = merged</c>: no AP list actor work, no notifier;
/// each device paced by its own completions). Throughput with recording off; the notifier latency
/// (a consumption's CDDI to its notification) from a second, shorter run of each fabric with the event log recording.
/// </summary>
public static class Contention
{
    public const int Injectors = 64;

    public static async Task<ContentionResult> RunAsync(TimeSpan warmup, TimeSpan measure, TimeSpan latencyRun)
    {
        var push = await FabricRun.ClosedLoopAsync(1, Spec(TrackingPolicy.Push), warmup, measure).ConfigureAwait(false);
        var fold = await FabricRun.ClosedLoopAsync(1, Spec(TrackingPolicy.Fold), warmup, measure).ConfigureAwait(false);
        var baseline = BaselineRun.Measure(1, Spec(TrackingPolicy.Fold), BaselineThreading.ThreadPerVcpu, Injectors, warmup, measure, recordNotifyLatency: true);
        var pushLatency = await NotifyLatencyAsync(TrackingPolicy.Push, latencyRun).ConfigureAwait(false);
        var foldLatency = await NotifyLatencyAsync(TrackingPolicy.Fold, latencyRun).ConfigureAwait(false);
        var merged = BaselineRun.Measure(1, Merged(Spec(TrackingPolicy.Fold)), BaselineThreading.ThreadPerVcpu, Injectors, warmup, measure);
        var fabricMerged = await FabricRun.ClosedLoopAsync(1, Merged(Spec(TrackingPolicy.Push)), warmup, measure).ConfigureAwait(false);
        return new ContentionResult(push, fold, baseline, pushLatency, foldLatency, merged, fabricMerged);
    }

    public static Fabric.Hardware.Protocol.VmSpec Spec(TrackingPolicy tracking) => Workloads.Workloads.EdgeStorm(wfi: true, tracking, injectors: Injectors);

    private static Fabric.Hardware.Protocol.VmSpec Merged(Fabric.Hardware.Protocol.VmSpec spec) => spec with { Policies = spec.Policies with { Kvm = KvmDesign.Merged } };

    /// <summary>Runs the fabric with a recording log and pairs each SPI's first deactivation since its last notification
    /// with the next notification.</summary>
    private static async Task<Percentiles> NotifyLatencyAsync(TrackingPolicy tracking, TimeSpan run)
    {
        var log = new EventLog(record: true, count: true);
        var events = new List<FabricEvent>();
        var spec = Spec(tracking);
        using var system = Messaging.BenchSystems.Create("latency", countMessages: false);
        var rt = await Fabric.Actors.FabricRuntime.BuildAsync(system, 1, spec, log).ConfigureAwait(false);
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        rt.StartDevices();
        var histogram = new HdrHistogram.LongHistogram(60_000_000_000L, 3);
        var since = new long[spec.Spis];
        Array.Fill(since, -1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sequencer = new EventSequencer();
        void Pump()
        {
            events.Clear();
            log.Drain(events);
            foreach (var e in events) sequencer.Add(e);
            sequencer.Release(e =>
            {
                if (e.IntId is not { IsSpi: true } id) return;
                if (e.Ev == Ev.Deactivate && since[id.Id] < 0) since[id.Id] = e.T;
                else if (e.Ev == Ev.Notify && since[id.Id] >= 0)
                {
                    histogram.RecordValue(Math.Max(0, e.T - since[id.Id]));
                    since[id.Id] = -1;
                }
            });
        }
        while (clock.Elapsed < run)
        {
            await Task.Delay(10).ConfigureAwait(false);
            Pump();
        }
        rt.StopDevices();
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        Pump();
        await system.Terminate().ConfigureAwait(false);
        return Of(histogram, nanosPerUnit: 1);
    }

    public static Percentiles Of(HdrHistogram.LongHistogram h, double nanosPerUnit) =>
        h.TotalCount == 0 ? default :
        new Percentiles(h.GetValueAtPercentile(50) * nanosPerUnit / 1000, h.GetValueAtPercentile(99) * nanosPerUnit / 1000,
            h.GetValueAtPercentile(99.9) * nanosPerUnit / 1000, h.TotalCount);
}
