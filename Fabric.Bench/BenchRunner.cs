using System.Diagnostics;
using System.Globalization;
using Fabric.Bench.Baseline;
using Fabric.Bench.Messaging;
using Fabric.Bench.Raw;
using Fabric.Bench.Reporting;
using Fabric.Bench.Sections;

namespace Fabric.Bench;

/// <summary>Runs the sections the options ask for, in one process, fills the report, prints the tables and the targets.</summary>
public sealed class BenchRunner(BenchOptions options, TextWriter output, TextWriter progress)
{
    private readonly BenchReport _report = new();

    public async Task<BenchReport> RunAsync(string command)
    {
        var clock = Stopwatch.StartNew();
        _report.Command = command;
        _report.Quick = options.Quick;
        _report.Machine.DispatcherThroughput = BenchSystems.Throughput;
        _report.Machine.LoadAverageAtStart = LoadAverage();
        Note($"Fabric.Bench{(options.Quick ? " --quick" : "")}: {_report.Machine.Cores} cores, {_report.Machine.Runtime}, Akka {_report.Machine.Akka}, load average {_report.Machine.LoadAverageAtStart:F1}");

        if (options.Runs("raw")) await RawAsync().ConfigureAwait(false);
        if (options.Runs("storm")) await StormAsync().ConfigureAwait(false);
        if (options.Runs("contention")) await ContentionAsync().ConfigureAwait(false);
        if (options.Runs("latency")) await LatencyAsync().ConfigureAwait(false);
        if (options.Runs("memory")) await MemoryAsync().ConfigureAwait(false);
        if (options.Runs("cluster")) await ClusterAsync().ConfigureAwait(false);
        Targets();
        _report.TotalSeconds = clock.Elapsed.TotalSeconds;
        Print();
        return _report;
    }

    private void Note(string line) => progress.WriteLine("  " + line);

    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture); }
        catch (IOException) { return 0; }
    }

    // ---- (a) ---------------------------------------------------------------------------------------------------------

    private async Task RawAsync()
    {
        const int pairs = 1024, batchedPairs = 64, batched = 64;
        var limit = await PingPong.RunAsync(pairs, 1, options.Warmup, options.Measure).ConfigureAwait(false);
        Note($"raw ping-pong {pairs} pairs x 1 in flight: {limit.MessagesPerSecond:N0} msg/s (counted {limit.Counted:N0}, delivered {limit.Delivered:N0})");
        var ceiling = await PingPong.RunAsync(batchedPairs, batched, options.Warmup, options.Measure).ConfigureAwait(false);
        Note($"raw ping-pong {batchedPairs} pairs x {batched} in flight: {ceiling.MessagesPerSecond:N0} msg/s");
        var atomic = await PingPong.RunAsync(pairs, 1, options.Warmup, options.Measure, sharedAtomic: true).ConfigureAwait(false);
        Note($"raw ping-pong {pairs} pairs x 1, one shared atomic per message: {atomic.MessagesPerSecond:N0} msg/s");
        _report.RawAkkaMessagesPerSecond = limit.MessagesPerSecond;
        _report.RawAkka = new RawAkkaReport
        {
            Pairs = pairs, InFlightPerPair = 1, MessagesPerSecond = limit.MessagesPerSecond,
            CountedMessages = limit.Counted, DeliveredMessages = limit.Delivered,
            BatchedPairs = batchedPairs, BatchedInFlightPerPair = batched, BatchedMessagesPerSecond = ceiling.MessagesPerSecond,
            WithSharedAtomicMessagesPerSecond = atomic.MessagesPerSecond,
        };
    }

    // ---- (b) + (c) -----------------------------------------------------------------------------------------------------

    private async Task StormAsync()
    {
        // Prime the JIT (tiered compilation) on both sides, untimed, so that the first measured point is not run in tier-0 code.
        foreach (var wfi in new[] { false, true })
        {
            await FabricRuns.FabricRun.ClosedLoopAsync(16, Workloads.Workloads.EdgeStorm(wfi), TimeSpan.Zero, TimeSpan.FromSeconds(0.5)).ConfigureAwait(false);
            BaselineRun.Measure(16, Workloads.Workloads.EdgeStorm(wfi, Fabric.Hardware.Kvm.TrackingPolicy.Fold), BaselineThreading.ThreadsPerCore, Storm.MaxInjectorThreads, TimeSpan.Zero, TimeSpan.FromSeconds(0.3));
        }
        Note("primed the JIT: 16 VMs, fabric and baseline, with and without WFI");
        foreach (var wfi in new[] { false, true })
            foreach (var vms in options.StormVms)
            {
                var p = await Storm.RunAsync(vms, wfi, options.Warmup, options.Measure, Note).ConfigureAwait(false);
                var f = p.Fabric;
                if (f.Check.Failure is { } ff) _report.Failures.Add($"fabric storm {vms} VMs wfi={wfi}: {ff}");
                foreach (var (threading, b, skipped) in p.Baselines)
                {
                    if (b?.Failure is { } bf) _report.Failures.Add($"baseline storm {vms} VMs {b.ThreadingName} wfi={wfi}: {bf}");
                    _report.Storm.Add(new StormRow
                    {
                        Vms = vms, VcpusPerVm = Workloads.Workloads.Vcpus, WfiWhenIdle = wfi,
                        FabricLifecyclesPerSecond = f.LifecyclesPerSecond, MessagesPerLifecycle = f.MessagesPerLifecycle,
                        FabricMessagesPerSecond = f.MessagesPerSecond,
                        FabricEventsPerLifecycle = f.EventsPerLifecycle,
                        FabricGcPauseFraction = f.GcPauseFraction,
                        FabricOverLimit = Ratio(f.MessagesPerSecond, _report.RawAkkaMessagesPerSecond),
                        FabricOverBatchedCeiling = Ratio(f.MessagesPerSecond, _report.RawAkka.BatchedMessagesPerSecond),
                        BaselineVariant = threading == BaselineThreading.ThreadPerVcpu ? "thread-per-vcpu" : "threads-per-core",
                        BaselineThreads = b?.Threads,
                        BaselineLifecyclesPerSecond = b?.LifecyclesPerSecond,
                        FabricOverBaseline = b is null ? null : Ratio(f.LifecyclesPerSecond, b.LifecyclesPerSecond),
                        BaselineFoldStepsPerLifecycle = b is null ? null : Ratio(b.Counts.FoldSteps, b.Counts.Deactivated),
                        BaselineSkipped = skipped,
                        FabricCheck = f.Check.Failure ?? "ok",
                        BaselineCheck = b is null ? "not run" : b.Failure ?? "ok",
                    });
                }
            }
        foreach (var wfi in new[] { false, true })
        {
            var (run, byType) = await Storm.BreakdownAsync(wfi, options.Quick ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            _report.MessageBreakdown.Add(new BreakdownReport
            {
                Vms = run.Vms, WfiWhenIdle = wfi, MessagesPerLifecycle = run.MessagesPerLifecycle,
                PerLifecycleByType = byType.ToDictionary(t => t.Type, t => Math.Round(t.PerLifecycle, 3)),
            });
            Note($"message breakdown 16 VMs wfi={wfi}: {run.MessagesPerLifecycle:F2} per lifecycle ({string.Join(", ", byType.Select(t => $"{t.Type} {t.PerLifecycle:F2}"))})");
        }
        foreach (var vms in new[] { 16, 4096 })
            _report.SeqCost.Add(await Storm.SeqCostAsync(vms, options.Quick ? 1 : 3, options.Warmup, options.Measure, Note).ConfigureAwait(false));
    }

    private static double Ratio(double a, double b) => b <= 0 ? 0 : a / b;

    // ---- (d) -------------------------------------------------------------------------------------------------------------

    private async Task ContentionAsync()
    {
        var c = await Contention.RunAsync(options.Warmup, options.Measure, options.Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        var checks = new List<string>
        {
            $"fabric push: {c.Push.Check.Failure ?? "ok"}", $"fabric fold: {c.Fold.Check.Failure ?? "ok"}", $"baseline: {c.Baseline.Failure ?? "ok"}", $"merged baseline: {c.MergedBaseline.Failure ?? "ok"}",
        };
        if (c.Push.Check.Failure is { } a) _report.Failures.Add($"contention push: {a}");
        if (c.Fold.Check.Failure is { } b) _report.Failures.Add($"contention fold: {b}");
        if (c.Baseline.Failure is { } d) _report.Failures.Add($"contention baseline: {d}");
        if (c.MergedBaseline.Failure is { } m) _report.Failures.Add($"contention merged baseline: {m}");
        if (c.Merged.Check.Failure is { } fm) _report.Failures.Add($"contention fabric merged: {fm}");
        checks.Add($"fabric merged: {c.Merged.Check.Failure ?? "ok"}");
        _report.Contention = new ContentionReport
        {
            Injectors = Contention.Injectors, InFlightSpis = Workloads.Workloads.Spis,
            PushLifecyclesPerSecond = c.Push.LifecyclesPerSecond, FoldLifecyclesPerSecond = c.Fold.LifecyclesPerSecond,
            BaselineLifecyclesPerSecond = c.Baseline.LifecyclesPerSecond, BaselineThreads = c.Baseline.Threads,
            PushNotifyLatencyMicrosP50 = c.PushNotify.P50, FoldNotifyLatencyMicrosP50 = c.FoldNotify.P50,
            BaselineNotifyLatencyMicrosP50 = c.Baseline.NotifyLatencyMicrosP50,
            PushNotifyLatencyMicrosP99 = c.PushNotify.P99, FoldNotifyLatencyMicrosP99 = c.FoldNotify.P99,
            BaselineNotifyLatencyMicrosP99 = c.Baseline.NotifyLatencyMicrosP99,
            PushMessagesPerLifecycle = c.Push.MessagesPerLifecycle, FoldMessagesPerLifecycle = c.Fold.MessagesPerLifecycle,
            PushOverBaseline = Ratio(c.Push.LifecyclesPerSecond, c.Baseline.LifecyclesPerSecond),
            FoldOverBaseline = Ratio(c.Fold.LifecyclesPerSecond, c.Baseline.LifecyclesPerSecond),
            BaselineFoldStepsPerLifecycle = Ratio(c.Baseline.Counts.FoldSteps, c.Baseline.Counts.Deactivated),
            MergedBaselineLifecyclesPerSecond = c.MergedBaseline.LifecyclesPerSecond,
            MergedOverBaseline = Ratio(c.MergedBaseline.LifecyclesPerSecond, c.Baseline.LifecyclesPerSecond),
            FabricMergedLifecyclesPerSecond = c.Merged.LifecyclesPerSecond, FabricMergedMessagesPerLifecycle = c.Merged.MessagesPerLifecycle,
            FabricMergedOverBaseline = Ratio(c.Merged.LifecyclesPerSecond, c.Baseline.LifecyclesPerSecond),
            FabricMergedOverMergedLocks = Ratio(c.Merged.LifecyclesPerSecond, c.MergedBaseline.LifecyclesPerSecond),
            Checks = checks,
        };
        Note($"contention: push {c.Push.LifecyclesPerSecond:N0}/s, fold {c.Fold.LifecyclesPerSecond:N0}/s, baseline {c.Baseline.LifecyclesPerSecond:N0}/s ({c.Baseline.Threads} threads); notify p50 push {c.PushNotify.P50:F1} us, fold {c.FoldNotify.P50:F1} us, baseline {c.Baseline.NotifyLatencyMicrosP50:F1} us");
    }

    // ---- (e) -------------------------------------------------------------------------------------------------------------

    private async Task LatencyAsync()
    {
        const int vms = 16;
        // Half the closed-loop throughput of the same VMs: from the storm section if it ran, else measured here.
        var closed = _report.Storm.FirstOrDefault(r => r.Vms == vms && r.WfiWhenIdle)?.FabricLifecyclesPerSecond
                     ?? (await FabricRuns.FabricRun.ClosedLoopAsync(vms, Workloads.Workloads.EdgeStorm(wfi: true), options.Warmup, options.Measure).ConfigureAwait(false)).LifecyclesPerSecond;
        var r = await OpenLoopLatency.RunAsync(vms, closed / 2, options.Warmup, options.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (!r.Drained) _report.Failures.Add("open-loop latency run did not drain");
        _report.Latency = new LatencyReport
        {
            P50 = r.Latency.P50, P99 = r.Latency.P99, P999 = r.Latency.P999, Vms = vms,
            ClosedLoopLifecyclesPerSecond = closed, OfferedPerSecond = r.OfferedPerSecond, AchievedPerSecond = r.AchievedPerSecond, Samples = r.Latency.Count,
        };
        Note($"open-loop latency at {r.OfferedPerSecond:N0}/s offered ({r.AchievedPerSecond:N0}/s acknowledged): p50 {r.Latency.P50:F1} us, p99 {r.Latency.P99:F1} us, p99.9 {r.Latency.P999:F1} us");
    }

    // ---- (f) -------------------------------------------------------------------------------------------------------------

    private async Task MemoryAsync()
    {
        // The breakdown first: a 65,536-VM system still being torn down would be counted in its heap measurements.
        _report.MemoryBreakdown = await MemoryBench.BreakdownAsync().ConfigureAwait(false);
        var b = _report.MemoryBreakdown;
        Note($"memory breakdown: {b.ActorsPerVm} actors x {b.BytesPerEmptyActor:N0} bytes (empty actor) = {b.ActorBytesPerVm:N0}; hardware state {b.HardwareStateBytesPerVm:N0} bytes");
        foreach (var n in options.MemoryVms)
        {
            var m = await MemoryBench.RunAsync(n).ConfigureAwait(false);
            _report.Memory.Add(new MemoryRow
            {
                Vms = n, BytesPerVm = m.BytesPerVm, BuildSeconds = m.BuildSeconds, CreateSeconds = m.CreateSeconds,
                GcPauseSeconds = m.GcPauseSeconds, Gen0Collections = m.Gen0, Gen1Collections = m.Gen1, Gen2Collections = m.Gen2,
            });
            Note($"memory {n:N0} VMs: {m.BytesPerVm:N0} bytes per VM, built in {m.BuildSeconds:F1} s (actors created in {m.CreateSeconds:F1} s, then boot); GC paused {m.GcPauseSeconds:F1} s ({m.Gen0}/{m.Gen1}/{m.Gen2} gen0/1/2)");
        }
    }

    // ---- (g) -------------------------------------------------------------------------------------------------------------

    private async Task ClusterAsync()
    {
        // Without the storm section nothing has primed the JIT: the local run would be measured in tier-0 code.
        if (!options.Runs("storm"))
            await FabricRuns.FabricRun.ClosedLoopAsync(16, Workloads.Workloads.EdgeStorm(wfi: false), TimeSpan.Zero, TimeSpan.FromSeconds(0.5)).ConfigureAwait(false);
        var r = await ClusterBench.RunAsync(options.ClusterVms, options.ClusterNodes, options.LocalMoves, options.LeaveVms, options.Warmup, options.Measure, Note).ConfigureAwait(false);
        var (local, sharded, leave) = (r.Local, r.Sharded, r.Leave);
        var failures = new List<string>();
        if (local.Check.Failure is { } a) failures.Add($"local: {a}");
        if (sharded.Run.Check.Failure is { } b) failures.Add($"sharded: {b}");
        if (leave.Check.Failure is { } c) failures.Add($"leave: {c}");
        if (r.LocalMovesCheck.Failure is { } d) failures.Add($"local moves: {d}");
        if (r.LocalMovesRefused > 0) failures.Add($"local moves: {r.LocalMovesRefused} refused");
        if (leave.Handoffs.Count < leave.OnLeavingNode) failures.Add($"leave: {leave.Handoffs.Count} handoffs logged, the leaving node ran {leave.OnLeavingNode} VMs");
        if (leave.VmsPerNodeAfter.Values.Sum() != leave.Vms) failures.Add($"leave: {leave.VmsPerNodeAfter.Values.Sum()} VMs run after it, not {leave.Vms}");
        _report.Failures.AddRange(failures.Select(f => "cluster " + f));
        _report.Cluster = new ClusterReport
        {
            LocalLifecyclesPerSecond = local.LifecyclesPerSecond, ShardedLifecyclesPerSecond = sharded.Run.LifecyclesPerSecond,
            MoveMillisP50 = leave.Handoffs.P50,
            ShardedOverLocal = Ratio(sharded.Run.LifecyclesPerSecond, local.LifecyclesPerSecond),
            MoveMillisP99 = leave.Handoffs.P99, MoveMillisMax = leave.Handoffs.Max, Moves = leave.Handoffs.Count,
            LocalMoveMillisP50 = r.LocalMoves.P50, LocalMoveMillisP99 = r.LocalMoves.P99, LocalMoveMillisMax = r.LocalMoves.Max, LocalMoves = r.LocalMoves.Count,
            Vms = options.ClusterVms, Nodes = options.ClusterNodes, VcpusPerVm = Workloads.Workloads.Vcpus,
            LocalMessagesPerLifecycle = local.MessagesPerLifecycle, ShardedMessagesPerLifecycle = sharded.Run.MessagesPerLifecycle,
            ShardedVmsPerNode = sharded.VmsPerNode.ToDictionary(), ShardsBalanced = sharded.Balanced, ShardedStartSeconds = sharded.StartSeconds,
            ShardedUnreachable = sharded.Unreachable,
            LeaveVms = leave.Vms, LeaveEdgesPerSpiPerSecond = ClusterBench.PacedEdgesPerSpiPerSecond, LeavingNodeVms = leave.OnLeavingNode,
            LeaveSeconds = leave.LeaveSeconds, VmsPerNodeAfterLeave = leave.VmsPerNodeAfter.ToDictionary(), LeaveUnreachable = leave.Unreachable,
            Checks = failures.Count == 0 ? ["ok"] : failures,
        };
    }

    // ---- targets -----------------------------------------------------------------------------------------------------------

    private void Targets()
    {
        var t = _report.Targets;
        var storm = _report.Storm;
        if (storm.Count > 0)
        {
            var best = storm.MaxBy(r => r.FabricOverLimit)!;
            var noWfi = storm.Where(r => !r.WfiWhenIdle).Select(r => r.FabricOverLimit).DefaultIfEmpty().Max();
            t.Add(new TargetRow
            {
                Target = "fabric messages/s >= 0.5 x the limit",
                Met = best.FabricOverLimit >= 0.5,
                Reached = F($"best {best.FabricOverLimit:F2} x ({best.Vms} VMs, wfi={best.WfiWhenIdle}); without WFI up to {noWfi:F2} x; vs the batched ceiling up to {storm.Max(r => r.FabricOverBatchedCeiling):F2} x"),
            });
            var over = storm.Where(r => r.BaselineVariant == "thread-per-vcpu" && r.BaselineThreads > Environment.ProcessorCount && r.FabricOverBaseline is not null).ToList();
            if (over.Count > 0)
                t.Add(new TargetRow
                {
                    Target = "fabric >= baseline when vCPU threads exceed cores",
                    Met = over.All(r => r.FabricOverBaseline >= 1),
                    Reached = F($"fabric/baseline {string.Join(", ", over.Select(r => $"{r.Vms} VMs{(r.WfiWhenIdle ? " wfi" : "")} {r.FabricOverBaseline:F2}"))}"),
                });
            foreach (var wfi in new[] { false, true })
            {
                var rows = storm.Where(r => r.WfiWhenIdle == wfi && r.Vms >= 16).GroupBy(r => r.Vms).Select(g => g.First()).ToList();
                if (rows.Count < 2) continue;
                var (min, max) = (rows.Min(r => r.FabricLifecyclesPerSecond), rows.Max(r => r.FabricLifecyclesPerSecond));
                t.Add(new TargetRow
                {
                    Target = $"throughput within 20 % from 16 to {rows.Max(r => r.Vms)} VMs ({(wfi ? "WFI" : "no WFI")})",
                    Met = min >= 0.8 * max,
                    Reached = F($"{string.Join(", ", rows.Select(r => $"{r.Vms}: {r.FabricLifecyclesPerSecond:N0}/s"))}; min/max {min / max:F2}"),
                });
            }
        }
        if (_report.Contention is { } c)
            t.Add(new TargetRow
            {
                Target = "fabric >= baseline in the fold-heavy case (1 VM, 64 injectors; push or fold tracking)",
                Met = Math.Max(c.PushOverBaseline, c.FoldOverBaseline) >= 1,
                Reached = F($"fold tracking/baseline {c.FoldOverBaseline:F2}, push tracking/baseline {c.PushOverBaseline:F2}; notifier p50 push {c.PushNotifyLatencyMicrosP50:F1} us, fold {c.FoldNotifyLatencyMicrosP50:F1} us, baseline {c.BaselineNotifyLatencyMicrosP50:F1} us"),
            });
        if (_report.Memory.FirstOrDefault(m => m.Vms == Fabric.Hardware.Kvm.VmLimits.MaxVms) is { } big)
        {
            t.Add(new TargetRow { Target = "<= 8 KiB per VM at 65,536 VMs (the issue's 100k: one IRS holds 65,536)", Met = big.BytesPerVm <= 8192, Reached = F($"{big.BytesPerVm:N0} bytes per VM") });
            t.Add(new TargetRow { Target = "65,536 VMs built in under 10 s (100k: beyond one IRS's 16-bit VM_ID)", Met = big.BuildSeconds < 10, Reached = F($"{big.BuildSeconds:F1} s") });
        }
        else if (_report.Memory.Count > 0)
        {
            var m = _report.Memory[^1];
            t.Add(new TargetRow { Target = "<= 8 KiB per VM (65,536 VMs: full run only)", Met = m.BytesPerVm <= 8192, Reached = F($"{m.BytesPerVm:N0} bytes per VM at {m.Vms:N0} VMs") });
        }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    // ---- the tables ----------------------------------------------------------------------------------------------------------

    private void Print()
    {
        var o = output;
        o.WriteLine();
        o.WriteLine($"Fabric.Bench{(_report.Quick ? " --quick" : "")} — {_report.Machine.Cores} cores, {_report.Machine.Runtime}, Akka {_report.Machine.Akka}, dispatcher throughput {_report.Machine.DispatcherThroughput}, load average at start {_report.Machine.LoadAverageAtStart:F1}");
        if (options.Runs("raw"))
        {
            var r = _report.RawAkka;
            o.WriteLine();
            o.WriteLine("(a) raw Akka (Tell ping-pong; counting mailbox)");
            o.WriteLine($"  limit: {r.Pairs} pairs x {r.InFlightPerPair} in flight     {r.MessagesPerSecond,14:N0} msg/s   ({CountCheck(r)})");
            o.WriteLine($"  batched: {r.BatchedPairs} pairs x {r.BatchedInFlightPerPair} in flight     {r.BatchedMessagesPerSecond,14:N0} msg/s");
            o.WriteLine($"  limit + 1 shared atomic per message  {r.WithSharedAtomicMessagesPerSecond,14:N0} msg/s");
        }
        if (_report.Storm.Count > 0)
        {
            o.WriteLine();
            o.WriteLine("(b)+(c) closed-loop edge storm, 4 vCPUs x 64 SPIs per VM; fabric = push tracking; baseline = the seed's lock design (v1-v3: AP list lock, irq_lock, fold on every exit)");
            o.WriteLine("  WFI  VMs  | fabric lc/s  msg/lc  ev/lc  GC %  msg/s       /limit /batched | baseline           threads  lc/s        fold steps/lc  fabric/base | checks");
            foreach (var r in _report.Storm)
                o.WriteLine(F($"  {(r.WfiWhenIdle ? "yes" : "no "),-3}  {r.Vms,4} | {r.FabricLifecyclesPerSecond,11:N0}  {r.MessagesPerLifecycle,6:F2}  {r.FabricEventsPerLifecycle,5:F1}  {100 * r.FabricGcPauseFraction,4:F1}  {r.FabricMessagesPerSecond,11:N0}  {r.FabricOverLimit,5:F2}  {r.FabricOverBatchedCeiling,5:F2} | {r.BaselineVariant,-17}  {Opt(r.BaselineThreads),7}  {Opt(r.BaselineLifecyclesPerSecond, "N0"),10}  {Opt(r.BaselineFoldStepsPerLifecycle, "F1"),13}  {Opt(r.FabricOverBaseline, "F2"),11} | {(r.FabricCheck == "ok" && r.BaselineCheck is "ok" or "not run" ? "ok" : r.FabricCheck + " / " + r.BaselineCheck)}"));
            foreach (var r in _report.Storm.Where(r => r.BaselineSkipped is not null))
                o.WriteLine($"  baseline {r.Vms} VMs {r.BaselineVariant} WFI {(r.WfiWhenIdle ? "yes" : "no")} not run: {r.BaselineSkipped}");
            foreach (var b in _report.MessageBreakdown)
                o.WriteLine($"  messages per lifecycle, {b.Vms} VMs, WFI {(b.WfiWhenIdle ? "yes" : "no")}: {b.MessagesPerLifecycle:F2} = " +
                            string.Join(" + ", b.PerLifecycleByType.Select(kv => F($"{kv.Value:F2} {kv.Key}"))));
            foreach (var s in _report.SeqCost)
                o.WriteLine(F($"  the log's shared seq, {s.Vms} VMs, WFI no ({s.Rounds} paired runs, {s.EventsPerSecond:N0} events/s): with it {s.SequencedLifecyclesPerSecond:N0} lc/s, without {s.UnsequencedLifecyclesPerSecond:N0} lc/s; without/with {s.UnsequencedOverSequenced:F3} (rounds {string.Join(", ", s.RoundRatios.Select(x => x.ToString("F3", CultureInfo.InvariantCulture)))})"));
        }
        if (_report.Contention is { } c)
        {
            o.WriteLine();
            o.WriteLine($"(d) contention: 1 VM, 4 vCPUs, {c.Injectors} injectors, {c.InFlightSpis} SPIs in flight, WFI");
            o.WriteLine("                 lc/s        msg/lc  notify p50 us  notify p99 us   vs baseline");
            o.WriteLine(F($"  fabric push  {c.PushLifecyclesPerSecond,10:N0}  {c.PushMessagesPerLifecycle,8:F2}  {c.PushNotifyLatencyMicrosP50,13:F1}  {c.PushNotifyLatencyMicrosP99,13:F1}  {c.PushOverBaseline,12:F2}"));
            o.WriteLine(F($"  fabric fold  {c.FoldLifecyclesPerSecond,10:N0}  {c.FoldMessagesPerLifecycle,8:F2}  {c.FoldNotifyLatencyMicrosP50,13:F1}  {c.FoldNotifyLatencyMicrosP99,13:F1}  {c.FoldOverBaseline,12:F2}"));
            o.WriteLine(F($"  fabric mrgd  {c.FabricMergedLifecyclesPerSecond,10:N0}  {c.FabricMergedMessagesPerLifecycle,8:F2}  {"-",13}  {"-",13}  {c.FabricMergedOverBaseline,12:F2}   (kvm = merged; {c.FabricMergedOverMergedLocks:F2} x the merged locks)"));
            o.WriteLine(F($"  baseline     {c.BaselineLifecyclesPerSecond,10:N0}  {"-",8}  {c.BaselineNotifyLatencyMicrosP50,13:F1}  {c.BaselineNotifyLatencyMicrosP99,13:F1}  {1.0,12:F2}   (the seed's locks, v1-v3: {c.BaselineThreads} threads, {c.BaselineFoldStepsPerLifecycle:F1} fold steps per lifecycle)"));
            o.WriteLine(F($"  merged locks {c.MergedBaselineLifecyclesPerSecond,10:N0}  {"-",8}  {"-",13}  {"-",13}  {c.MergedOverBaseline,12:F2}   (the merged design, v4+/Linux v7.4: irq_lock only, no list, no fold, no notifier: the cost floor of tracking nothing)"));
            o.WriteLine($"  checks: {string.Join("; ", c.Checks)}");
        }
        if (_report.Latency is { } l)
        {
            o.WriteLine();
            o.WriteLine(F($"(e) open-loop latency, {l.Vms} VMs, WFI, push: offered {l.OfferedPerSecond:N0}/s (half of closed loop {l.ClosedLoopLifecyclesPerSecond:N0}/s), acknowledged {l.AchievedPerSecond:N0}/s"));
            o.WriteLine(F($"  trigger -> acknowledge: p50 {l.P50:F1} us   p99 {l.P99:F1} us   p99.9 {l.P999:F1} us   ({l.Samples:N0} samples)"));
        }
        if (_report.Memory.Count > 0)
        {
            o.WriteLine();
            o.WriteLine("(f) memory: VMs of the storm workload (4 vCPUs, 64 SPIs, 1 irqfd), built and booted, devices not started");
            foreach (var m in _report.Memory)
                o.WriteLine(F($"  {m.Vms,7:N0} VMs  {m.BytesPerVm,8:N0} bytes/VM  ({m.BytesPerVm / 1024:F1} KiB)  built in {m.BuildSeconds:F1} s (actors created in {m.CreateSeconds:F1} s, then the guests' boot); GC paused {m.GcPauseSeconds:F1} s, {m.Gen0Collections}/{m.Gen1Collections}/{m.Gen2Collections} gen0/1/2 ({(m.ServerGc ? "server" : "workstation")}, {(m.ConcurrentGc ? "concurrent" : "non-concurrent")})"));
            if (_report.MemoryBreakdown is { } b)
                o.WriteLine(F($"  where: {b.ActorsPerVm} actors/VM x {b.BytesPerEmptyActor:N0} bytes per empty actor (Akka's own mailbox: {b.BytesPerEmptyActorAkkaMailbox:N0}) = {b.ActorBytesPerVm:N0}; {b.TimerSchedulersPerVm} timer schedulers x {b.BytesPerTimerScheduler:N0}; hardware state {b.HardwareStateBytesPerVm:N0}; the rest is actor state, props and topology"));
        }
        if (_report.Cluster is { } k)
        {
            o.WriteLine();
            o.WriteLine(F($"(g) cluster: closed-loop edge storm, no WFI, {k.Vms} VMs x {k.VcpusPerVm} vCPUs x 64 SPIs; sharded = {k.Nodes} nodes in this process on loopback"));
            o.WriteLine(F($"{"",21}{"lc/s",11}  {"msg/lc",8}  {"/local",8}"));
            o.WriteLine(F($"  local (1 runtime)  {k.LocalLifecyclesPerSecond,11:N0}  {k.LocalMessagesPerLifecycle,8:F2}  {1.0,8:F2}"));
            o.WriteLine(F($"  sharded ({k.Nodes} nodes)  {k.ShardedLifecyclesPerSecond,11:N0}  {k.ShardedMessagesPerLifecycle,8:F2}  {k.ShardedOverLocal,8:F2}   (VMs per node {ClusterBench.Spread(k.ShardedVmsPerNode)}{(k.ShardsBalanced ? "" : ", shards not balanced")}; up, booted and balanced in {k.ShardedStartSeconds:F1} s; unreachable seen {k.ShardedUnreachable} times)"));
            o.WriteLine(F($"  move blackout, ms  {"p50",11}  {"p99",8}  {"max",8}  {"moves",6}"));
            o.WriteLine(F($"  node to node (leave) {k.MoveMillisP50,9:F2}  {k.MoveMillisP99,8:F2}  {k.MoveMillisMax,8:F2}  {k.Moves,6}   ({k.LeaveVms} VMs, {k.LeaveEdgesPerSpiPerSecond:F0} edges/s per SPI; node {k.Nodes - 1} ran {k.LeavingNodeVms}, left in {k.LeaveSeconds:F1} s; after: {ClusterBench.Spread(k.VmsPerNodeAfterLeave)}; unreachable seen {k.LeaveUnreachable} times)"));
            o.WriteLine(F($"  local (Migrate)    {k.LocalMoveMillisP50,11:F2}  {k.LocalMoveMillisP99,8:F2}  {k.LocalMoveMillisMax,8:F2}  {k.LocalMoves,6}   (one at a time, {k.LeaveVms} VMs in one runtime, the same paced storm)"));
            o.WriteLine($"  checks (local, sharded, leave, local moves): {string.Join("; ", k.Checks)}");
        }
        o.WriteLine();
        o.WriteLine("targets");
        foreach (var t in _report.Targets) o.WriteLine($"  [{(t.Met ? "met" : "not met")}] {t.Target}: {t.Reached}");
        o.WriteLine();
        o.WriteLine(_report.Failures.Count == 0 ? "invariants: every run's conservation checks held" : "INVARIANT FAILURES:\n  " + string.Join("\n  ", _report.Failures));
        o.WriteLine(F($"total {_report.TotalSeconds:F0} s"));
    }

    /// <summary>The counting mailbox against the players' own count; a few more can be Akka's start-up messages.</summary>
    private static string CountCheck(RawAkkaReport r) => r.CountedMessages == r.DeliveredMessages
        ? $"counting mailbox {r.CountedMessages:N0} = received {r.DeliveredMessages:N0}"
        : $"counting mailbox {r.CountedMessages:N0}, received {r.DeliveredMessages:N0}: {r.CountedMessages - r.DeliveredMessages:N0} more are Akka's own start-up messages";

    private static string Opt(int? v) => v is { } x ? x.ToString("N0", CultureInfo.InvariantCulture) : "-";
    private static string Opt(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";
}
