using System.Globalization;
using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Kvm;
using Fabric.Host.Reporting;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Stopwatch = System.Diagnostics.Stopwatch;

namespace Fabric.Host.Scenarios;

/// <summary>Where a run writes its artefacts (each optional), and whether progress is drawn live.</summary>
public sealed record RunOptions(string? ReportPath = null, string? EventsPath = null, string? PlotPath = null, string? TracePath = null, bool LiveProgress = false);

/// <summary>The outcome of a run: the report, every violation, and how it ended.</summary>
public sealed record RunResult(Scenario Scenario, RunReport Report, IReadOnlyList<Violation> Violations, TimeSpan BuildTime, bool Drained, bool Interrupted);

/// <summary>
/// Builds the fabric for a scenario in an actor system, starts its devices, and pumps the event stream through the
/// checker and the report (and the event log and trace, when asked) while it runs, showing progress. At stop-after —
/// or when <c>stopInjecting</c> fires (Ctrl-C, CoordinatedShutdown) — it stops every device, drains until nothing has
/// happened for a while, finishes the checks, prints the report and writes the artefacts.
/// </summary>
public sealed class ScenarioRunner(Scenario scenario, RunOptions options, IAnsiConsole console, ILogger logger)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(500), PumpEvery = TimeSpan.FromMilliseconds(20);
    private const int PumpBatch = 1 << 16;

    public async Task<RunResult> RunAsync(ActorSystem system, CancellationToken stopInjecting)
    {
        var s = scenario;
        var log = new EventLog();
        var checker = new InvariantChecker(new FabricShape(s.Vms, s.Vm.Vcpus, s.Vm.Spis), s.Vm.Policies.Tracking == TrackingPolicy.Push);
        var report = new ReportBuilder();
        using var events = options.EventsPath is { } ep ? new EventLogWriter(ep) : null;
        using var trace = options.TracePath is { } tp ? new TraceWriter(tp) : null;
        var consumers = new EventConsumers(checker, new IEventSink?[] { report, events, trace }.OfType<IEventSink>());
        var pump = new EventPump(log, e => consumers.Observe(e));

        var p = s.Vm.Policies;
        console.MarkupLine($"[bold]{Markup.Escape(s.Name)}[/]: {s.Vms} VMs x {s.Vm.Vcpus} vCPUs, {s.Vm.Spis} SPIs, tracking {Lower(p.Tracking)}, " +
                           $"notify {Lower(p.Notify)}, virtual-level {Lower(p.VirtualLevel)}, dbpm {Lower(p.Dbpm)}, seed {s.Seed}" +
                           (s.MigrationSummary is { } m ? ", " + Markup.Escape(m) : ""));
        var building = Stopwatch.StartNew();
        var rt = await FabricRuntime.BuildAsync(system, s.Vms, s.Vm, log, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var buildTime = building.Elapsed;
        logger.LogInformation("Built {Vms} VMs ({Vcpus} vCPUs) in {Seconds:F2} s", s.Vms, s.TotalVcpus, buildTime.TotalSeconds);

        var (interrupted, drained) = await Task.Factory.StartNew(() => Drive(rt, pump, checker, report, stopInjecting),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        if (pump.Held > 0) logger.LogWarning("{Held} events are still waiting for an earlier seq at the end of the run", pump.Held);
        var violations = checker.Finish();
        var result = new RunResult(s, RunReport.From(s, checker, violations, report), violations, buildTime, drained, interrupted);

        var notes = string.Create(CultureInfo.InvariantCulture, $"built in {buildTime.TotalSeconds:F2} s; ") +
                    (interrupted ? "stopped early by a shutdown request; " : "") +
                    (drained ? "drained" : $"did not drain within {s.DrainTimeout.TotalSeconds:F0} s of the devices stopping (still busy: a livelock?)");
        ReportConsole.Print(console, result.Report, violations, notes);
        await WriteArtefactsAsync(result, report, events, trace).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Starts the devices, pumps the event stream and shows progress until stop-after (or a shutdown request), then
    /// stops the devices and drains. On a thread of its own, scheduled as often as each of the actors' threads: the pump
    /// must keep pace with a storm that keeps every core busy, or the checks and the progress would lag behind the run
    /// (a thread-pool continuation, queued behind the storm's work, would).
    /// </summary>
    private (bool Interrupted, bool Drained) Drive(FabricRuntime rt, EventPump pump, InvariantChecker checker, ReportBuilder report, CancellationToken stopInjecting)
    {
        var s = scenario;
        var clock = Stopwatch.StartNew();
        var rate = new RateMeter();
        var progress = ProgressView.Create(console, options.LiveProgress, s.MigrationSummary is not null);
        try
        {
            void Show(string phase, bool all = false)
            {
                // What has been logged, a bounded batch at a time, for at most one period, so that stop-after and Ctrl-C are
                // seen even when the pump is slower than the fabric (a large event log): it catches up during the drain,
                // and at the end takes everything.
                var until = clock.Elapsed + PumpEvery;
                while (pump.Pump(PumpBatch) == PumpBatch && (all || clock.Elapsed < until)) { }
                progress.Update(new ProgressSnapshot(clock.Elapsed, phase, checker.Injected, checker.Acknowledged, checker.Doorbells,
                    report.InFlight, rate.Sample(clock.Elapsed, checker.Acknowledged), checker.Migrations));
            }

            var interrupted = false;
            // A shutdown requested while the VMs were being built: nothing is started.
            if (!stopInjecting.IsCancellationRequested) rt.StartDevices();
            while (true)
            {
                stopInjecting.WaitHandle.WaitOne(PumpEvery);
                Show("running");
                if (stopInjecting.IsCancellationRequested) { interrupted = true; break; }
                if (clock.Elapsed >= s.StopAfterDuration || checker.Injected >= s.StopAfterInjections) break;
            }
            if (interrupted) logger.LogInformation("Stopping injection (shutdown requested); draining");
            rt.StopDevices();
            // Drained: nothing but vCPU exits has happened for a while (every event logged so far has been pumped).
            var deadline = clock.Elapsed + s.DrainTimeout;
            var seen = report.Activity;
            var since = clock.Elapsed;
            var drained = false;
            while (clock.Elapsed < deadline)
            {
                Thread.Sleep(PumpEvery);
                Show(interrupted ? "stopping" : "draining");
                if (report.Activity != seen || pump.Held > 0) { seen = report.Activity; since = clock.Elapsed; }
                else if (clock.Elapsed - since >= Quiet) { drained = true; break; }
            }
            Show("done", all: true);
            return (interrupted, drained);
        }
        finally
        {
            progress.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private async Task WriteArtefactsAsync(RunResult result, ReportBuilder report, EventLogWriter? events, TraceWriter? trace)
    {
        if (options.ReportPath is { } rp)
        {
            await result.Report.WriteAsync(rp).ConfigureAwait(false);
            console.WriteLine($"report: {rp}");
        }
        if (events is not null)
        {
            var s = result.Scenario;
            var tracking = s.Vm.Policies.Tracking == TrackingPolicy.Fold ? " --tracking fold" : "";
            console.WriteLine($"events: {events.Path} ({events.Written:N0} events); re-check with: " +
                              $"dotnet run --project Fabric.Host -- check {events.Path}{tracking} --vms {s.Vms} --vcpus {s.Vm.Vcpus} --spis {s.Vm.Spis}");
        }
        if (trace is not null) console.WriteLine($"trace: {options.TracePath} ({trace.Slices:N0} slices; open in https://ui.perfetto.dev or chrome://tracing)");
        if (options.PlotPath is { } pp)
        {
            PlotWriter.Write(pp, result.Scenario.Name, report);
            console.WriteLine($"plot: {pp}");
        }
    }

    /// <summary>A policy as the scenario names it: InactiveAndLineLow -> inactive-and-line-low.</summary>
    public static string Lower(Enum value) =>
        string.Concat(value.ToString().Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

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
