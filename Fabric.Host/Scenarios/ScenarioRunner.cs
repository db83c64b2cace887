using Fabric.Hardware.Deterministic;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors;
using Fabric.Actors.Cluster;
using Fabric.Actors.Deterministic;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Kvm;
using Fabric.Host.Hosting;
using Fabric.Host.Reporting;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Stopwatch = System.Diagnostics.Stopwatch;

namespace Fabric.Host.Scenarios;

/// <summary>Where a run writes its artefacts (each optional), and whether progress is drawn live.</summary>
public sealed record RunOptions(string? ReportPath = null, string? EventsPath = null, string? PlotPath = null, string? TracePath = null, bool LiveProgress = false)
{
    /// <summary>How the deterministic schedule chooses each delivery (<c>explore --strategy</c>).</summary>
    public ScheduleStrategy Strategy { get; init; } = ScheduleStrategy.Random;
}

/// <summary>The outcome of a run: the report, every violation, and how it ended. <see cref="StopSeq"/> is the event
/// log's last seq when the devices were told to stop (what an injection after the stop comes after);
/// <see cref="WriteFailures"/> names each artefact that could not be written (the verdict stands without it).</summary>
public sealed record RunResult(Scenario Scenario, RunReport Report, IReadOnlyList<Violation> Violations, TimeSpan BuildTime, bool Drained, bool Interrupted)
{
    public long StopSeq { get; init; }
    /// <summary>When the devices were told to stop, counted from their start.</summary>
    public TimeSpan StoppedAt { get; init; }
    public IReadOnlyList<string> WriteFailures { get; init; } = [];
    /// <summary>A directed scenario's steps, each passed, failed or not run; null for a storm.</summary>
    public Steps.DirectedOutcome? Directed { get; init; }

    /// <summary>Every invariant held and every step passed: exit 0.</summary>
    public bool Passed => Violations.Count == 0 && Directed?.Passed != false;
}

/// <summary>
/// Builds the fabric for a scenario in an actor system — or, with <c>fabric.cluster</c> on, sharded over a cluster of
/// nodes started in this process (<see cref="FabricCluster"/>; each node takes the akka settings of
/// <paramref name="config"/>) — starts its devices, and pumps the event stream through the checker and the report (and
/// the event log and trace, when asked) while it runs, showing progress; a cluster's nodes leave or crash at their
/// times. At stop-after — or when <c>stopInjecting</c> fires (Ctrl-C, CoordinatedShutdown) — it stops every device,
/// drains until nothing has happened for a while, finishes the checks, prints the report and writes the artefacts.
/// Both fabrics are driven through <see cref="IFabric"/>. <c>injecting</c> is called once the devices start injecting
/// (or a directed run's steps start).
/// </summary>
public sealed class ScenarioRunner(Scenario scenario, RunOptions options, IAnsiConsole console, ILogger logger, Config? config = null,
    Action? injecting = null)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(500), PumpEvery = TimeSpan.FromMilliseconds(20);

    /// <summary>How long a drain goes on once a shutdown has been requested (Ctrl-C, SIGTERM), over the guest's handler
    /// time: a drain that has not ended by then (a livelock) is cut short, the run reported as interrupted and not
    /// drained, rather than left to the host's shutdown timeout.</summary>
    public static readonly TimeSpan DrainAfterSignal = TimeSpan.FromSeconds(3);

    // Small enough that one batch, through every consumer (the event-log writer is the slowest), takes about a pump
    // period even on a loaded machine (a batch of 4096 took 40-200 ms at a load average of 18 on 2 cores; 65536, the
    // earlier size, made stop-after 0.1-0.2 s late): stop-after and a shutdown request are seen on time however far the
    // pump lags behind the fabric.
    private const int PumpBatch = 1 << 10;

    public async Task<RunResult> RunAsync(ActorSystem? system, CancellationToken stopInjecting)
    {
        var s = scenario;
        // On the deterministic schedule the log's time is the run's virtual time (its scheduler exists once the run does).
        Func<TimeSpan>? virtualTime = null;
        var log = s.Deterministic ? new EventLog(clock: () => virtualTime?.Invoke() ?? TimeSpan.Zero) : new EventLog();
        var checker = CheckerFor(s);
        using var metrics = new FabricMetrics();
        var report = new ReportBuilder(metrics);
        using var events = options.EventsPath is { } ep ? new ArtefactSink<EventLogWriter>("--events", ep, () => new EventLogWriter(ep)) : null;
        using var trace = options.TracePath is { } tp ? new ArtefactSink<ITraceSink>("--trace", tp, () => ITraceSink.Open(tp)) : null;
        var counts = s.Directed is null ? null : new Steps.StepEventCounts();
        var consumers = new EventConsumers(checker, new IEventSink?[] { report, events, trace, counts }.OfType<IEventSink>());
        var pump = new EventPump(log, e => consumers.Observe(e));

        var p = s.Vm.Policies;
        console.MarkupLine($"[bold]{Markup.Escape(s.Name)}[/]: {s.Vms} VMs x {s.Vm.Vcpus} vCPUs, {s.Vm.Spis} SPIs, kvm {Markup.Escape(KvmDesignRules.Describe(p.Kvm))}, " +
                           (KvmDesignRules.Tracks(p.Kvm) ? $"tracking {Lower(p.Tracking)}, notify {Lower(p.Notify)}, " : "") +
                           $"virtual-level {Lower(p.VirtualLevel)}, dbpm {Lower(p.Dbpm)}" + (p.Sequence == InjectionSequence.Ignored ? ", injection-sequence ignored" : "") + $", seed {s.Seed}" +
                           (s.MigrationSummary is { } m ? ", " + Markup.Escape(m) : "") +
                           (s.ClusterSummary is { } c ? ", cluster of " + Markup.Escape(c) : ""));
        var building = Stopwatch.StartNew();
        FabricCluster? cluster = null;
        IFabric fabric;
        IDeterministicRun? onLoop = null;
        if (s.Deterministic)
        {
            // The deterministic schedule: its own actor system, built and driven on one thread (the loop's owner).
            var loopThread = new LoopThread();
            onLoop = await loopThread.Run(() => IDeterministicRun.Start(s.Vms, s.Vm, s.Seed, options.Strategy, NodeOverrides(null),
                clock => { virtualTime = clock; return log; })).ConfigureAwait(false);
            fabric = onLoop.Fabric;
            _loopThread = loopThread;
        }
        else if (s.Cluster is { } spec)
        {
            fabric = cluster = await FabricCluster.StartAsync(spec.Nodes, s.Vms, s.Vm, log, spec.SeedNodes.Count > 0 ? spec.SeedNodes : null, spec.Port,
                NodeOverrides(config), timeout: TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            console.MarkupLine(Markup.Escape($"node 0 of this process: {cluster.AddressOf(0)}" +
                                             (spec.SeedNodes.Count > 0 ? $" (joined {string.Join(", ", spec.SeedNodes)})" : "")));
        }
        else fabric = await FabricRuntime.BuildAsync(system ?? throw new ArgumentNullException(nameof(system), "a threaded run needs the host's actor system"),
            s.Vms, s.Vm, log, TimeSpan.FromMinutes(5),
            progress: new BuildProgress(console, s.Vms, building), cancel: stopInjecting).ConfigureAwait(false);
        var buildTime = building.Elapsed;
        // Ctrl-C or SIGTERM during the build: the VMs built so far are stopped and reported, nothing is started.
        var buildNote = fabric.VmCount < s.Vms ? $"stopped during the build: {fabric.VmCount:N0} of {s.Vms:N0} VMs built; " : "";
        logger.LogInformation("Built {Vms} VMs ({Vcpus} vCPUs) on {Nodes} node(s) in {Seconds:F2} s", s.Vms, s.TotalVcpus, s.Cluster?.Nodes ?? 1, buildTime.TotalSeconds);

        DriveOutcome drive;
        IReadOnlyDictionary<int, int>? vmsPerNode = null;
        var exits = new NodeExits(cluster, s.Cluster?.Exits ?? [], logger);
        Steps.DirectedOutcome? directed = null;
        try
        {
            if (s.Directed is not null)
            {
                // A directed scenario: its steps, on the local fabric (the loader refuses a cluster), then the end checks.
                // A shutdown request stops it between two steps (each step settles the fabric, so nothing is left to drain).
                // On the deterministic schedule the steps run on the loop's thread, which delivers their answers too.
                injecting?.Invoke();
                directed = onLoop is null
                    ? await RunSteps(new Steps.ThreadedSteps((FabricRuntime)fabric, stopInjecting)).ConfigureAwait(false)
                    : await _loopThread!.Run(() =>
                    {
                        var outcome = RunSteps(new Steps.LoopSteps((DeterministicRun)onLoop, stopInjecting)).GetAwaiter().GetResult();
                        PrintDeliveries(onLoop);
                        return outcome;
                    }).ConfigureAwait(false);
                drive = new DriveOutcome(Interrupted: directed.Stopped, StoppedEarly: directed.Stopped, Drained: true, CutShort: false, TimeSpan.Zero, log.LastSeq);

                async Task<Steps.DirectedOutcome> RunSteps(Steps.IStepSchedule steps)
                {
                    using (steps)
                        return await new Steps.DirectedRunner(s, (FabricRuntime)fabric, steps, pump, checker, counts!, console).RunAsync(stopInjecting).ConfigureAwait(false);
                }
            }
            else if (onLoop is not null) drive = await _loopThread!.Run(() => DriveOnLoop(onLoop, pump, checker, report, stopInjecting)).ConfigureAwait(false);
            else drive = await Task.Factory.StartNew(() => Drive(fabric, exits, pump, checker, report, stopInjecting),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            if (cluster is not null) vmsPerNode = await cluster.VmsPerNodeAsync().ConfigureAwait(false);
        }
        finally
        {
            if (cluster is not null) await cluster.DisposeAsync().ConfigureAwait(false);
            if (onLoop is not null)
            {
                await _loopThread!.Run(() => { onLoop.Dispose(); return 0; }).ConfigureAwait(false);
                _loopThread.Dispose();
            }
        }
        if (pump.Held > 0) logger.LogWarning("{Held} events are still waiting for an earlier seq at the end of the run", pump.Held);
        pump.PumpAll();
        var during = checker.Violations.Count;
        IReadOnlyList<Violation> violations = checker.Finish();
        // check-end = false, or a step failed: what was violated during the run counts, the end-of-run checks (nothing
        // pending, the AP list empty) do not (after a failed step they would only repeat it).
        // A run stopped between two steps is judged like check-end = false: its last steps, which would have finished
        // the work, did not run.
        if (s.Directed is { CheckEnd: false } || directed is { Passed: false } || directed is { Stopped: true }) violations = [.. violations.Take(during)];
        var (interrupted, drained) = (drive.Interrupted, drive.Drained);
        var result = new RunResult(s, RunReport.From(s, checker, violations, report, vmsPerNode, drained, interrupted), violations, buildTime, drained, interrupted)
        {
            StopSeq = drive.StopSeq,
            StoppedAt = drive.StoppedAt,
            Directed = directed,
        };

        var notes = string.Create(CultureInfo.InvariantCulture, $"built in {buildTime.TotalSeconds:F2} s; {buildNote}") +
                    (directed is { } d ? (d.Failure is { } f ? $"{f.Step.Where} failed; " : $"{d.Steps.Count} steps passed; ") : "") +
                    (interrupted ? (drive.StoppedEarly ? "stopped early by a shutdown request; " : "a shutdown request came during the drain; ") : "") +
                    string.Concat(exits.Notes.Select(n => n + "; ")) +
                    (drained ? "drained"
                        : drive.CutShort ? "did not drain (cut short by the shutdown request)"
                        : $"did not drain within {s.DrainTimeout.TotalSeconds:F0} s of the devices stopping (still busy: a livelock?)");
        // Where the stop falls in the event log: an injection with a higher seq came after it.
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"devices stopped {drive.StoppedAt.TotalSeconds:F2} s after they started, at event seq {drive.StopSeq}"));
        // The verdict is printed next, and stands whatever becomes of the artefacts.
        ReportConsole.Print(console, result.Report, violations, notes);
        return result with { WriteFailures = await WriteArtefactsAsync(result, report, events, trace).ConfigureAwait(false) };
    }

    /// <summary>
    /// What every node of a clustered run is configured with, over <see cref="FabricCluster.NodeConfig"/>'s settings:
    /// the scenario's akka settings; Akka's log on stderr (stdout carries the report), errors only unless <c>-v</c>; no
    /// shutdown of its own at the process's exit (Ctrl-C and SIGTERM reach the host, which stops the injections,
    /// drains, reports and only then stops the nodes).
    /// </summary>
    private Config NodeOverrides(Config? scenarioConfig) =>
        ConfigurationFactory.ParseString($"""
            akka.loggers = ["{NodeLogger.TypeName}"]
            akka.loglevel = {(logger.IsEnabled(LogLevel.Information) ? "INFO" : "ERROR")}
            akka.stdout-loglevel = OFF
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            """).WithFallback(scenarioConfig ?? Config.Empty);

    /// <summary>How the driving loop ended: a shutdown request, whether the fabric drained (and whether a shutdown
    /// request cut the drain short), and when the devices were told to stop (time since they started, the log's seq).</summary>
    internal sealed record DriveOutcome(bool Interrupted, bool StoppedEarly, bool Drained, bool CutShort, TimeSpan StoppedAt, long StopSeq);

    /// <summary>How long nothing may happen before the fabric counts as drained: a guest's handler runs
    /// <c>guest.handler-time</c> between an acknowledge and its end with nothing logged, so the quiet period is longer
    /// than two of them (a handler, and the timer tick that ends it late).</summary>
    public static TimeSpan QuietPeriod(Scenario s) => Quiet + 2 * s.Vm.Guest.HandlerTime;

    /// <summary>A deterministic run's drive (<see cref="DriveDeterministic"/>), its events pumped to the checks and the report.</summary>
    private DriveOutcome DriveOnLoop(IDeterministicRun run, EventPump pump, InvariantChecker checker, ReportBuilder report, CancellationToken stopInjecting)
    {
        var drive = DriveDeterministic(scenario, run, () => pump.Pump(PumpBatch), () => checker.Injected, () => report.Activity, stopInjecting, injecting);
        pump.PumpAll();
        PrintDeliveries(run);
        return drive;
    }

    /// <summary>The deterministic schedule's drive (DESIGN.md §6.5), the same for <c>run</c> and <c>explore</c>: the devices
    /// start, the schedule delivers until stop-after (its injections, as <paramref name="injected"/> counts them, or its
    /// duration in virtual time) or a shutdown request, the devices stop, and it drains until nothing but exits has
    /// happened (<paramref name="activity"/>) for the quiet period of virtual time, nothing is left to do, or the drain
    /// timeout passes. <paramref name="pump"/> takes the events logged so far to the checks, before every decision;
    /// <paramref name="started"/> is told when the devices have been started.</summary>
    internal static DriveOutcome DriveDeterministic(Scenario s, IDeterministicRun run, Action pump, Func<long> injected, Func<long> activity,
        CancellationToken stopInjecting, Action? started = null)
    {
        var start = run.Now;
        run.Fabric.StartDevices();
        started?.Invoke();
        run.RunUntil(() =>
        {
            pump();
            return injected() >= s.StopAfterInjections || stopInjecting.IsCancellationRequested;
        }, start + s.StopAfterDuration);
        var (stoppedAt, stopSeq, interrupted) = (run.Now - start, run.Log.LastSeq, stopInjecting.IsCancellationRequested);
        run.Fabric.StopDevices();
        var quiet = QuietPeriod(s);
        var (seen, since, deadline) = (activity(), run.Now, run.Now + s.DrainTimeout);
        var quietReached = run.RunUntil(() =>
        {
            pump();
            if (activity() != seen) (seen, since) = (activity(), run.Now);
            // Nothing left to do (no message, no timer) is drained too: idle, the loop would jump to the deadline.
            return run.Now - since >= quiet || run.Idle;
        }, deadline);
        return new DriveOutcome(interrupted, interrupted, quietReached, CutShort: false, stoppedAt, stopSeq);
    }

    /// <summary>What the deterministic schedule did: its seed and strategy, deliveries and virtual time.</summary>
    private void PrintDeliveries(IDeterministicRun run) =>
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"schedule deterministic (seed {scenario.Seed}, {Lower(options.Strategy)}, {run.Interpreter}): {run.Steps:N0} deliveries in {run.Now.TotalSeconds:F3} s of virtual time"));

    private LoopThread? _loopThread;

    /// <summary>One thread that owns a deterministic run from its start to its end (the loop takes work only from its
    /// owner): each <see cref="Run{T}"/> executes there, in order.</summary>
    private sealed class LoopThread : IDisposable
    {
        private readonly System.Collections.Concurrent.BlockingCollection<Action> _work = new();
        private readonly Thread _thread;

        public LoopThread()
        {
            _thread = new Thread(() => { foreach (var work in _work.GetConsumingEnumerable()) work(); }) { IsBackground = true, Name = "deterministic-loop" };
            _thread.Start();
        }

        public Task<T> Run<T>(Func<T> work)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _work.Add(() =>
            {
                try { done.SetResult(work()); }
                catch (Exception e) { done.SetException(e); }
            });
            return done.Task;
        }

        public void Dispose() => _work.CompleteAdding();
    }

    /// <summary>
    /// Starts the devices, pumps the event stream and shows progress until stop-after (or a shutdown request), taking a
    /// cluster's leaves and kills at their times, then stops the devices and drains. On a thread of its own, scheduled
    /// as often as each of the actors' threads: the pump must keep pace with a storm that keeps every core busy, or the
    /// checks and the progress would lag behind the run (a thread-pool continuation, queued behind the storm's work,
    /// would).
    /// </summary>
    private DriveOutcome Drive(IFabric fabric, NodeExits exits, EventPump pump, InvariantChecker checker, ReportBuilder report, CancellationToken stopInjecting)
    {
        var s = scenario;
        var clock = Stopwatch.StartNew();
        var rate = new RateMeter();
        var progress = ProgressView.Create(console, options.LiveProgress, s.MigrationSummary is not null || s.Cluster is not null,
            KvmDesignRules.Name(s.Vm.Policies.Kvm));
        try
        {
            void Show(string phase, bool all = false, TimeSpan? by = null)
            {
                // What has been logged, a bounded batch at a time, for at most one period (and not past stop-after), so
                // that stop-after and Ctrl-C are seen even when the pump is slower than the fabric (a large event log): it
                // catches up during the drain, and at the end takes everything.
                var until = clock.Elapsed + PumpEvery;
                if (by is { } b && b < until) until = b;
                while (pump.Pump(PumpBatch) == PumpBatch && (all || clock.Elapsed < until)) { }
                progress.Update(new ProgressSnapshot(clock.Elapsed, phase, checker.Injected, checker.Acknowledged, checker.Doorbells,
                    report.InFlight, rate.Sample(clock.Elapsed, checker.Acknowledged), checker.Migrations));
            }

            var interrupted = false;
            // A shutdown requested while the VMs were being built: nothing is started.
            if (!stopInjecting.IsCancellationRequested)
            {
                fabric.StartDevices();
                injecting?.Invoke();
            }
            while (true)
            {
                // Wake at stop-after rather than up to a pump period after it.
                var left = s.StopAfterDuration - clock.Elapsed;
                stopInjecting.WaitHandle.WaitOne(left < PumpEvery ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : PumpEvery);
                exits.Step(clock.Elapsed, devicesRunning: true, report.Handoffs + checker.LostVms);
                Show(exits.Phase ?? "running", by: s.StopAfterDuration);
                if (stopInjecting.IsCancellationRequested) { interrupted = true; break; }
                if (clock.Elapsed >= s.StopAfterDuration || checker.Injected >= s.StopAfterInjections) break;
            }
            // A node leaving or crashing is let finish first: its VMs run again before they are told to stop.
            while (exits.InFlight)
            {
                Thread.Sleep(PumpEvery);
                exits.Step(clock.Elapsed, devicesRunning: false, report.Handoffs + checker.LostVms);
                Show(exits.Phase ?? "stopping");
            }
            if (interrupted) logger.LogInformation("Stopping injection (shutdown requested); draining");
            var stoppedAt = clock.Elapsed;
            var stopSeq = fabric.Log.LastSeq;
            fabric.StopDevices();
            var (drained, cutShort) = Drain(clock, stopInjecting, QuietPeriod(s), () => report.Activity, () => pump.Held,
                () => Show(interrupted || stopInjecting.IsCancellationRequested ? "stopping" : "draining"));
            Show("done", all: true);
            return new DriveOutcome(interrupted || cutShort || stopInjecting.IsCancellationRequested, interrupted, drained, cutShort, stoppedAt, stopSeq);
        }
        finally
        {
            progress.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Drained: nothing but vCPU exits has happened for <paramref name="quiet"/> (every event logged so far has been
    /// pumped), within the scenario's drain timeout. A shutdown request (now or during the drain) bounds the drain to
    /// <see cref="DrainAfterSignal"/> past the later of the request and the drain's start (plus the quiet period): a
    /// drain that never ends (a livelock) is cut short, and says so.
    /// </summary>
    private (bool Drained, bool CutShort) Drain(Stopwatch clock, CancellationToken stopRequested, TimeSpan quiet, Func<long> activity, Func<int> held, Action show)
    {
        var deadline = clock.Elapsed + scenario.DrainTimeout;
        var seen = activity();
        var since = clock.Elapsed;
        TimeSpan? cutAt = null;
        while (clock.Elapsed < deadline)
        {
            Thread.Sleep(PumpEvery);
            show();
            if (activity() != seen || held() > 0) { seen = activity(); since = clock.Elapsed; }
            else if (clock.Elapsed - since >= quiet) return (true, false);
            if (stopRequested.IsCancellationRequested)
            {
                cutAt ??= clock.Elapsed + DrainAfterSignal + quiet;
                if (clock.Elapsed >= cutAt) return (false, true);
            }
        }
        return (false, false);
    }

    /// <summary>Writes the report and the plot, and closes the event log and the trace; returns what could not be
    /// written, each naming its option, file and why (the console says so too).</summary>
    private async Task<IReadOnlyList<string>> WriteArtefactsAsync(RunResult result, ReportBuilder report,
        ArtefactSink<EventLogWriter>? events, ArtefactSink<ITraceSink>? trace)
    {
        var failures = new List<string>();
        async Task Write(string option, string path, Func<Task> write, string done)
        {
            try
            {
                await write().ConfigureAwait(false);
                console.WriteLine(done);
            }
            catch (Exception ex) when (ArtefactSink<EventLogWriter>.IsWriteFailure(ex))
            {
                failures.Add(ArtefactSink<EventLogWriter>.Describe(option, path, ex));
            }
        }

        if (options.ReportPath is { } rp) await Write("--report", rp, () => result.Report.WriteAsync(rp), $"report: {rp}").ConfigureAwait(false);
        if (events is not null)
        {
            events.Dispose();
            if (events.Failure is { } f) failures.Add(f);
            else if (events.Inner is { } writer)
            {
                var s = result.Scenario;
                var tracking = (s.Vm.Policies.Tracking == TrackingPolicy.Fold ? " --tracking fold" : "") +
                               (s.Vm.Policies.Kvm == KvmDesign.Merged ? " --kvm merged" : "");
                console.WriteLine($"events: {writer.Path} ({writer.Written:N0} events); re-check with: " +
                                  $"dotnet run --project Fabric.Host -- check {writer.Path}{tracking} --vms {s.Vms} --vcpus {s.Vm.Vcpus} --spis {s.Vm.Spis}");
            }
        }
        if (trace is not null)
        {
            trace.Dispose();
            if (trace.Failure is { } f) failures.Add(f);
            else if (trace.Inner is { } tracer) console.WriteLine($"trace: {options.TracePath} ({tracer.Slices:N0} slices; open in https://ui.perfetto.dev or chrome://tracing)");
        }
        if (options.PlotPath is { } pp)
            await Write("--plot", pp, () => { PlotWriter.Write(pp, result.Scenario.Name, report); return Task.CompletedTask; }, $"plot: {pp}").ConfigureAwait(false);
        foreach (var f in failures) console.WriteLine($"not written: {f}");
        return failures;
    }

    /// <summary>The device that drives an INTID, as a VM names it (irqfd-resample-spi-0-31), for the checker's messages.</summary>
    /// <summary>The checks of I1-I8 for a run of <paramref name="s"/>: its shape, tracking, KVM design and devices.</summary>
    public static InvariantChecker CheckerFor(Scenario s) =>
        new(new FabricShape(s.Vms, s.Vm.Vcpus, s.Vm.Spis), s.Vm.Policies.Tracking == TrackingPolicy.Push, s.Vm.Policies.Kvm, DeviceOf(s));

    public static Func<Fabric.Hardware.Interrupts.IntId, string?> DeviceOf(Scenario s) =>
        id => Fabric.Hardware.Protocol.DeviceUnit.Driving(s.Vm, id);

    /// <summary>A policy as the scenario names it: InactiveAndLineLow -> inactive-and-line-low.</summary>
    public static string Lower(Enum value) =>
        string.Concat(value.ToString().Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>
    /// A cluster's leaves and kills (<see cref="ClusterSpec.Exits"/>), taken by the driving loop one at a time in time
    /// order: each starts at its time, counted from the start of the devices, or when the one before it has completed,
    /// whichever is later, and runs off the loop while the loop keeps pumping. It has completed when the node is gone
    /// and every VM it ran runs again elsewhere, as the event log says: one handoff (<c>migrate ... handoff</c>) or one
    /// <c>lost</c> per VM it ran (the region places a VM before the VM has loaded its snapshot, and a VM loading when
    /// the devices are told to stop would start them after the stop). If they are not all seen within
    /// <see cref="VmsTimeout"/> of the node going (a VM whose running marker was never stored is recreated as a new one,
    /// unreported), the run goes on and the notes say so. One that falls due after the devices stopped (the injection
    /// budget, a shutdown request) is not taken; the notes say so too. The node not going at all ends the run.
    /// </summary>
    private sealed class NodeExits(FabricCluster? cluster, IReadOnlyList<NodeExit> plan, ILogger logger)
    {
        private static readonly TimeSpan VmsTimeout = TimeSpan.FromSeconds(30);

        private sealed record Current(NodeExit Exit, TimeSpan Started, long Baseline, Task<int> Gone)
        {
            public TimeSpan? GoneAt;
        }

        private int _next;
        private Current? _current;
        private readonly List<string> _notes = new();

        public bool InFlight => _current is not null;

        /// <summary>The progress phase while a node goes ("leave 2", "kill 2"); null otherwise.</summary>
        public string? Phase => _current is { Exit: var x } ? (x.Kind == NodeExitKind.Leave ? "leave " : "kill ") + x.Node : null;

        /// <summary>What happened, for the report's notes: each node that went, when, with how many VMs, and how long
        /// until they all ran again; each exit not taken.</summary>
        public IEnumerable<string> Notes => _notes.Concat(plan.Skip(_next).Select(x => $"{x} not taken: the devices stopped first"));

        /// <param name="now">Time since the devices started.</param>
        /// <param name="devicesRunning">False once the devices stopped: an exit not yet taken is then not taken.</param>
        /// <param name="moved">VMs handed off or lost so far, as the pumped log says.</param>
        public void Step(TimeSpan now, bool devicesRunning, long moved)
        {
            if (_current is { } c && c.Gone.IsCompleted)
            {
                var vms = c.Gone.GetAwaiter().GetResult();
                c.GoneAt ??= now;
                var went = c.Exit.Kind == NodeExitKind.Leave ? "left" : "was killed";
                var back = moved - c.Baseline;
                if (back >= vms || now - c.GoneAt > VmsTimeout)
                {
                    _notes.Add(string.Create(CultureInfo.InvariantCulture, $"node {c.Exit.Node} {went} at {c.Started.TotalSeconds:F2} s: ") +
                               (back >= vms
                                   ? string.Create(CultureInfo.InvariantCulture, $"its {vms} VM(s) {(c.Exit.Kind == NodeExitKind.Leave ? "handed off" : "lost and recreated")}, all running again {(now - c.Started).TotalSeconds:F2} s later")
                                   : $"only {back} of its {vms} VM(s) were seen handed off or lost within {VmsTimeout.TotalSeconds:F0} s of the node going"));
                    logger.LogInformation("Node {Node} {Went} at {At:F2} s; {Back} of its {Vms} VM(s) run again", c.Exit.Node, went, c.Started.TotalSeconds, back, vms);
                    _current = null;
                }
            }
            if (_current is not null || !devicesRunning || _next >= plan.Count || now < plan[_next].At) return;
            var next = plan[_next++];
            var nodes = cluster ?? throw new InvalidOperationException("a node can leave or be killed only in a clustered run");
            logger.LogInformation("{Exit}: starting", next);
            _current = new Current(next, now, moved, Task.Run(async () =>
            {
                var vms = (await nodes.VmsPerNodeAsync().ConfigureAwait(false)).GetValueOrDefault(next.Node);
                if (next.Kind == NodeExitKind.Leave) await nodes.LeaveAsync(next.Node).ConfigureAwait(false);
                else await nodes.KillAsync(next.Node).ConfigureAwait(false);
                return vms;
            }));
        }
    }

    /// <summary>Acknowledges per second over the last second or so.</summary>
    private sealed class RateMeter
    {
        private readonly Queue<(TimeSpan At, long Acks)> _window = new();

        public double Sample(TimeSpan now, long acks)
        {
            _window.Enqueue((now, acks));
            while (_window.Count > 2 && now - _window.Peek().At > TimeSpan.FromSeconds(1)) _window.Dequeue();
            var (at, first) = _window.Peek();
            var dt = (now - at).TotalSeconds;
            return dt > 0 ? (acks - first) / dt : 0;
        }
    }
}

/// <summary>The build's progress on the console: a line at most once a second while a large fabric is built.</summary>
internal sealed class BuildProgress(IAnsiConsole console, int vms, Stopwatch clock) : IProgress<int>
{
    private TimeSpan _next = TimeSpan.FromSeconds(1);

    public void Report(int built)
    {
        if (built >= vms || clock.Elapsed < _next) return;
        _next = clock.Elapsed + TimeSpan.FromSeconds(1);
        console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"building: {built:N0} of {vms:N0} VMs ({clock.Elapsed.TotalSeconds:F1} s; Ctrl-C stops the build)")));
    }
}
