using Fabric.Bench.Baseline;
using Fabric.Bench.FabricRuns;
using Fabric.Bench.Messaging;
using Fabric.Hardware.Kvm;

namespace Fabric.Bench.Sections;

/// <summary>One VM count and WFI mode: the fabric once, the baseline in each threading.</summary>
public sealed record StormPoint(int Vms, bool Wfi, FabricResult Fabric, IReadOnlyList<(BaselineThreading Threading, BaselineResult? Result, string? Skipped)> Baselines);

/// <summary>
/// (b)+(c) The closed-loop edge storm at each VM count × 4 vCPUs, with and without WFI: the fabric (push tracking,
/// counted messages) and the lock-based baseline on the same spec (fold on every exit), one thread per vCPU and
/// threads = cores.
/// </summary>
public static class Storm
{
    /// <summary>Injector threads of the thread-per-vCPU baseline: one per VM's irqfd, up to this many (then shared).</summary>
    public const int MaxInjectorThreads = 256;

    public static async Task<StormPoint> RunAsync(int vms, bool wfi, TimeSpan warmup, TimeSpan measure, Action<string> progress)
    {
        var fabric = await FabricRun.ClosedLoopAsync(vms, Workloads.Workloads.EdgeStorm(wfi, TrackingPolicy.Push), warmup, measure).ConfigureAwait(false);
        progress($"fabric {vms} VMs wfi={wfi}: {fabric.LifecyclesPerSecond:N0} lifecycles/s");
        var baselines = new List<(BaselineThreading, BaselineResult?, string?)>();
        foreach (var threading in new[] { BaselineThreading.ThreadPerVcpu, BaselineThreading.ThreadsPerCore })
        {
            var spec = Workloads.Workloads.EdgeStorm(wfi, TrackingPolicy.Fold);
            if (threading == BaselineThreading.ThreadPerVcpu)
            {
                var needed = vms * spec.Vcpus + Math.Min(vms * spec.Devices.Count, MaxInjectorThreads);
                if (needed > ThreadBudget.Available())
                {
                    baselines.Add((threading, null, ThreadBudget.Shortfall(needed)));
                    progress($"baseline {vms} VMs thread-per-vcpu: skipped, {ThreadBudget.Shortfall(needed)}");
                    continue;
                }
            }
            var r = BaselineRun.Measure(vms, spec, threading, MaxInjectorThreads, warmup, measure);
            baselines.Add((threading, r, null));
            progress($"baseline {vms} VMs {r.ThreadingName} ({r.Threads} threads) wfi={wfi}: {r.LifecyclesPerSecond:N0} lifecycles/s");
            // The threads of a run are gone once it returns; let the runtime reclaim them before the next one.
            GC.Collect();
        }
        return new StormPoint(vms, wfi, fabric, baselines);
    }

    /// <summary>What the event log's shared seq counter costs: the storm (no WFI) on <paramref name="vms"/> VMs with the
    /// counter and without it (a counting log that orders nothing), <paramref name="rounds"/> pairs back to back, the
    /// order alternating so that a drift of the machine's load falls on both sides.</summary>
    public static async Task<Reporting.SeqCostRow> SeqCostAsync(int vms, int rounds, TimeSpan warmup, TimeSpan measure, Action<string> progress)
    {
        var spec = Workloads.Workloads.EdgeStorm(wfi: false, TrackingPolicy.Push);
        var row = new Reporting.SeqCostRow { Vms = vms, Rounds = rounds };
        double with = 0, without = 0, events = 0;
        for (var r = 0; r < rounds; r++)
        {
            FabricResult? a = null, b = null;
            foreach (var sequenced in r % 2 == 0 ? new[] { true, false } : [false, true])
            {
                var x = await FabricRun.ClosedLoopAsync(vms, spec, warmup, measure, sequenced: sequenced).ConfigureAwait(false);
                if (x.Check.Failure is { } f) throw new InvalidOperationException($"seq cost {vms} VMs sequenced={sequenced}: {f}");
                if (sequenced) a = x; else b = x;
            }
            with += a!.LifecyclesPerSecond;
            without += b!.LifecyclesPerSecond;
            events += a.Events / a.Seconds;
            row.RoundRatios.Add(Math.Round(b.LifecyclesPerSecond / a.LifecyclesPerSecond, 3));
            progress($"seq cost {vms} VMs round {r + 1}: with the shared counter {a.LifecyclesPerSecond:N0}/s, without {b.LifecyclesPerSecond:N0}/s");
        }
        row.SequencedLifecyclesPerSecond = with / rounds;
        row.UnsequencedLifecyclesPerSecond = without / rounds;
        row.UnsequencedOverSequenced = row.RoundRatios.Average();
        row.EventsPerSecond = events / rounds;
        return row;
    }

    /// <summary>The counted messages of one lifecycle, by message type (16 VMs, a short run with per-type counting on).</summary>
    public static async Task<(FabricResult Run, IReadOnlyList<(string Type, double PerLifecycle)> ByType)> BreakdownAsync(bool wfi, TimeSpan measure)
    {
        MessageCounter.ResetByType();
        MessageCounter.ByType = true;
        FabricResult r;
        try
        {
            r = await FabricRun.ClosedLoopAsync(16, Workloads.Workloads.EdgeStorm(wfi), TimeSpan.FromMilliseconds(200), measure).ConfigureAwait(false);
        }
        finally { MessageCounter.ByType = false; }
        // Per-type counts cover the whole run (build, boot, warm-up, drain); divide by all its lifecycles.
        var lifecycles = (double)Math.Max(1, r.Check.Deactivated);
        var by = MessageCounter.SnapshotByType()
            .Where(kv => kv.Value / lifecycles >= 0.01)
            .OrderByDescending(kv => kv.Value)
            .Select(kv => (Name(kv.Key), kv.Value / lifecycles))
            .ToList();
        MessageCounter.ResetByType();
        return (r, by);
    }

    private static string Name(Type t) => t.DeclaringType is { } d ? $"{d.Name}.{t.Name}" : t.Name;
}
