using Fabric.Hardware.Deterministic;
using Fabric.Hardware.Kvm;
using System.CommandLine;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Host.Hosting;
using Fabric.Host.Reporting;
using Fabric.Host.Scenarios;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Fabric.Host.Cli;

/// <summary>
/// The CLI of DESIGN.md §5. No arguments runs the default scenario; <c>run</c>, <c>validate</c>, <c>check</c>.
/// Exit codes: 0 every invariant held, 1 an invariant was violated, 2 bad input (the message names the file, the HOCON
/// path or log line, and what was expected), 3 every invariant held but an artefact (--report, --events, --trace,
/// --plot) could not be written. The verdict is decided and printed before any artefact is written, and a violation is
/// exit 1 whatever becomes of the artefacts. Only <c>run</c> (and no arguments) starts a host and an actor system —
/// and, with <c>--nodes N</c> or <c>fabric.cluster</c> on, the nodes of a cluster in this process; <c>--seed-nodes</c>
/// (one node of a cluster across processes) is refused as not supported yet.
/// </summary>
public static class FabricCli
{
    public const int Ok = 0, Violated = 1, BadInput = 2, WriteFailed = 3;

    /// <summary>Runs the CLI. <paramref name="stdout"/> / <paramref name="stderr"/> replace the console (for in-process
    /// use: no terminal, so no live progress and no colours).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var output = stdout ?? System.Console.Out;
        var error = stderr ?? System.Console.Error;
        var console = CreateConsole(stdout);

        var seed = new Option<long?>("--seed") { Description = "Override the scenario's seed (the same seed replays the same injection schedule)" };
        var set = new Option<string[]>("--set") { Description = "Override one key, relative to fabric.scenario: --set policies.dbpm=strict (repeatable)", HelpName = "KEY=VALUE" };
        var report = new Option<string?>("--report") { Description = "Write the report as JSON (DESIGN.md §5)", HelpName = "FILE.json" };
        var events = new Option<string?>("--events") { Description = "Write the event log as JSON Lines (DESIGN.md §5)", HelpName = "FILE.jsonl" };
        var plot = new Option<string?>("--plot") { Description = "Draw the latency distribution and the throughput over time", HelpName = "FILE.png" };
        var trace = new Option<string?>("--trace") { Description = "Write a Perfetto trace (ui.perfetto.dev): a track per VPE, a slice per interrupt, flows, counters; Chrome JSON if FILE ends in .json", HelpName = "FILE" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log what the host does (to stderr)" };
        var nodes = new Option<int?>("--nodes")
        {
            Description = "Shard the VMs over a cluster of N nodes in this process (1..16): fabric.cluster { enabled = on, nodes = N }",
            HelpName = "N",
        };
        var seedNodes = new Option<string?>("--seed-nodes")
        {
            Description = "Join a cluster that runs in other processes (this process runs --nodes nodes, 1 by default, and checks what its own log sees)",
            HelpName = "akka.tcp://fabric@HOST:PORT,...",
        };
        var port = new Option<int?>("--port") { Description = "Where this process's first node listens, for others to join (default: any free port)", HelpName = "PORT" };
        var schedule = new Option<string?>("--schedule")
        {
            Description = "threaded (the actor system's threads) or deterministic (one thread, the seed chooses every delivery, virtual time): --set schedule=...",
            HelpName = "threaded|deterministic",
        };
        schedule.AcceptOnlyFromAmong("threaded", "deterministic");
        var strategy = new Option<string>("--strategy") { Description = "How the deterministic schedule picks each delivery: random, or pct (priority-based, a few priority changes)", DefaultValueFactory = _ => "random" };
        strategy.AcceptOnlyFromAmong("random", "pct");
        Option[] runOptions = [seed, set, schedule, strategy, nodes, seedNodes, port, report, events, plot, trace, verbose];
        string[] Sets(ParseResult pr) => [.. pr.GetValue(set) ?? [], .. pr.GetValue(schedule) is { } sc ? new[] { "schedule=" + sc } : []];
        ScheduleStrategy Strategy(ParseResult pr) =>
            pr.GetValue(strategy) == "pct" ? ScheduleStrategy.Pct : ScheduleStrategy.Random;

        Task<int> Run(ParseResult pr, string? file) =>
            RunScenarioAsync(file, pr.GetValue(seed), Sets(pr), pr.GetValue(nodes), pr.GetValue(seedNodes), pr.GetValue(port),
                new RunOptions(pr.GetValue(report), pr.GetValue(events), pr.GetValue(plot), pr.GetValue(trace), LiveProgress: IsTerminal(console, stdout)) { Strategy = Strategy(pr) },
                pr.GetValue(verbose), console, error);

        var scenarioArg = new Argument<string>("scenario") { Description = "A HOCON scenario file, merged over akka.hocon, or a folder of them" };
        var tap = new Option<bool>("--tap") { Description = "Print TAP version 13: a test per scenario of a folder, or per step of one directed scenario" };
        var run = new Command("run", "Run a scenario (or every scenario of a folder), check every invariant, report") { scenarioArg, tap };
        foreach (var o in runOptions) run.Options.Add(o);
        async Task<int> Refuse(string why)
        {
            await error.WriteLineAsync(why).ConfigureAwait(false);
            return BadInput;
        }
        run.SetAction((pr, _) => pr.GetValue(tap) || Directory.Exists(pr.GetValue(scenarioArg))
            ? SuiteOptionsRefused(pr, [report, events, plot, trace, nodes, seedNodes, port]) is { } refused
                ? Refuse(refused)
                : SuiteRun.RunAsync(pr.GetValue(scenarioArg)!, pr.GetValue(seed), Sets(pr), pr.GetValue(tap), output, error)
            : Run(pr, pr.GetValue(scenarioArg)));

        var validateArg = new Argument<string>("scenario") { Description = "A HOCON scenario file" };
        var validate = new Command("validate", "Parse and check a scenario only; list every error") { validateArg, set, nodes };
        validate.SetAction(pr => Validate(pr.GetValue(validateArg)!, pr.GetValue(set) ?? [], pr.GetValue(nodes), console, error));

        var logArg = new Argument<string>("log") { Description = "An event log (JSON Lines) written by --events" };
        var tracking = new Option<string>("--tracking") { Description = "The tracking policy of the run that wrote the log", DefaultValueFactory = _ => "push" };
        tracking.AcceptOnlyFromAmong("push", "fold");
        var kvm = new Option<string>("--kvm") { Description = "The KVM design of the run that wrote the log (what I2 promises)", DefaultValueFactory = _ => "ap-list" };
        kvm.AcceptOnlyFromAmong("ap-list", "merged");
        var vms = new Option<int?>("--vms") { Description = "With --vcpus and --spis: also check every event's VM, VPE and SPI range (I8)" };
        var vcpus = new Option<int?>("--vcpus") { Description = "vCPUs per VM" };
        var spis = new Option<int?>("--spis") { Description = "SPIs per VM" };
        var check = new Command("check", "Re-check every invariant (I1-I8) from an event log alone") { logArg, tracking, kvm, vms, vcpus, spis };
        check.SetAction(pr => Check(pr.GetValue(logArg)!, pr.GetValue(tracking) == "fold", pr.GetValue(kvm) == "merged", pr.GetValue(vms), pr.GetValue(vcpus), pr.GetValue(spis), console, error));

        var exploreArg = new Argument<string>("scenario") { Description = "A HOCON scenario file" };
        var schedules = new Option<int>("--schedules") { Description = "How many schedules (seeds) to try at most", DefaultValueFactory = _ => 1000 };
        var budget = new Option<string>("--budget") { Description = "How long to explore at most (a duration: 60s, 5m)", DefaultValueFactory = _ => "60s" };
        var outFile = new Option<string?>("--out") { Description = "Where to write the smallest failing scenario (default: NAME.explore-seedS.hocon here)", HelpName = "FILE.hocon" };
        var exploreStrategy = new Option<string>("--strategy")
        {
            Description = "How schedules are chosen: random or pct (one seeded schedule per seed), or exhaustive (every delivery order of a tiny " +
                          "scenario without timers, with partial-order reduction; --schedules bounds the orders)",
            DefaultValueFactory = _ => "random",
        };
        exploreStrategy.AcceptOnlyFromAmong("random", "pct", "exhaustive");
        var explore = new Command("explore", "Run deterministic schedules of a scenario, seeds S, S+1, ..., until an invariant breaks; then shrink it and write the smallest failing case")
            { exploreArg, seed, schedules, exploreStrategy, budget, set, outFile };
        explore.SetAction(async (pr, _) =>
        {
            if (pr.GetValue(schedules) < 1) { await error.WriteLineAsync("--schedules: expected 1 or more").ConfigureAwait(false); return BadInput; }
            if (!ScenarioLoader.TryDuration(pr.GetValue(budget)!, out var limit) || limit <= TimeSpan.Zero)
            {
                await error.WriteLineAsync($"--budget {pr.GetValue(budget)}: expected a positive duration such as 60s or 5m").ConfigureAwait(false);
                return BadInput;
            }
            if (pr.GetValue(exploreStrategy) == "exhaustive")
                return await Explore.ExhaustiveAsync(pr.GetValue(exploreArg)!, pr.GetValue(schedules), limit, pr.GetValue(set) ?? [], console, error).ConfigureAwait(false);
            return await Explore.RunAsync(pr.GetValue(exploreArg)!, pr.GetValue(seed) ?? 1, pr.GetValue(schedules),
                pr.GetValue(exploreStrategy) == "pct" ? ScheduleStrategy.Pct : ScheduleStrategy.Random, limit,
                pr.GetValue(set) ?? [], console, error, pr.GetValue(outFile)).ConfigureAwait(false);
        });

        var root = new RootCommand("Fabric: the Arm GICv5 virtual interrupt fabric, and KVM's handling of it, as actors. " +
                                   "With no command: run the default mixed storm (scenarios/default-mixed-storm.hocon, embedded).") { run, validate, check, explore };
        foreach (var o in runOptions) root.Options.Add(o);
        root.SetAction((pr, _) => Run(pr, null));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            await error.WriteLineAsync("Try --help.").ConfigureAwait(false);
            return BadInput;
        }
        // The host handles Ctrl-C (it drains first), so System.CommandLine must not.
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null })
            .ConfigureAwait(false);
    }

    /// <summary>A folder of scenarios, or <c>--tap</c>, writes no artefacts and runs no cluster: an option that would
    /// be silently dropped there is refused instead.</summary>
    private static string? SuiteOptionsRefused(ParseResult pr, Option[] options) =>
        options.FirstOrDefault(o => pr.GetResult(o) is { Implicit: false }) is { } given
            ? $"{given.Name}: not with a folder of scenarios or --tap (they print TAP or a summary, and write no artefacts); run one file without --tap for it"
            : null;

    internal static IAnsiConsole CreateConsole(TextWriter? stdout)
    {
        if (stdout is null)
        {
            var terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Out) });
            // Not a terminal (CI, a pipe): no width to detect, so do not wrap the report at 80 columns.
            if (System.Console.IsOutputRedirected) terminal.Profile.Width = 160;
            return terminal;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(stdout),
        });
        console.Profile.Width = 160;
        return console;
    }

    /// <summary>Live progress only on a real terminal; CI, pipes and in-process callers get plain lines.</summary>
    private static bool IsTerminal(IAnsiConsole console, TextWriter? stdout) =>
        stdout is null && !System.Console.IsOutputRedirected && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;

    private static int Validate(string file, string[] sets, int? nodes, IAnsiConsole console, TextWriter error)
    {
        try
        {
            var (s, _) = ScenarioLoader.Load(file, sets: sets, nodes: nodes);
            WarnAboutTimers(s, error);
            console.WriteLine($"{file}: valid ({s.Name}: {s.Vms} VMs x {s.Vm.Vcpus} vCPUs, {s.Vm.Spis} SPIs, " +
                              $"{s.Vm.Interrupts.Count} interrupt ranges, {s.Vm.Devices.Count} devices, kvm {Fabric.Hardware.Kvm.KvmDesignRules.Name(s.Vm.Policies.Kvm)}, tracking {ScenarioRunner.Lower(s.Vm.Policies.Tracking)}" +
                              (s.MigrationSummary is { } m ? ", " + m : "") + (s.ClusterSummary is { } c ? ", cluster of " + c : "") + ")");
            return Ok;
        }
        catch (ScenarioException ex)
        {
            foreach (var e in ex.Errors) error.WriteLine(e);
            error.WriteLine($"{ex.Errors.Count} error(s)");
            return BadInput;
        }
    }

    private static async Task<int> RunScenarioAsync(string? file, long? seed, string[] sets, int? nodes, string? seedNodes, int? port, RunOptions options,
        bool verbose, IAnsiConsole console, TextWriter error)
    {
        Scenario scenario;
        Akka.Configuration.Config config;
        try
        {
            (scenario, config) = ScenarioLoader.Load(file, seed, sets, nodes, seedNodes, port);
            CheckOutputs(options, file);
            CheckPort(port);
            WarnAboutTimers(scenario, error);
        }
        catch (ScenarioException ex)
        {
            foreach (var e in ex.Errors) await error.WriteLineAsync(e).ConfigureAwait(false);
            return BadInput;
        }

        var builder = FabricHostingExtensions.CreateBuilder(verbose ? LogLevel.Information : LogLevel.Warning);
        var run = new FabricRun(scenario, config, options, console);
        builder.AddFabric(run);
        try
        {
            using var host = builder.Build();
            await host.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!run.Completion.IsCompleted)
        {
            // The host could not start: in practice the actor system refusing an akka.* setting of the scenario.
            var cause = ex;
            while (cause.InnerException is not null) cause = cause.InnerException;
            await error.WriteLineAsync($"{scenario.File ?? ScenarioLoader.DefaultSource}: the actor system could not start: {cause.Message}").ConfigureAwait(false);
            return BadInput;
        }
        try
        {
            var result = await run.Completion.ConfigureAwait(false);
            foreach (var f in result.WriteFailures) await error.WriteLineAsync(f).ConfigureAwait(false);
            return !result.Passed ? Violated : result.WriteFailures.Count > 0 ? WriteFailed : Ok;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var what = scenario.Cluster is not null ? "the cluster could not start or run" : "the run could not complete";
            await error.WriteLineAsync($"{scenario.File ?? ScenarioLoader.DefaultSource}: {what}: {OneLine(ex)}").ConfigureAwait(false);
            return BadInput;
        }
    }

    /// <summary>An exception and its causes in one line: Akka's start-up wraps a socket error in four
    /// AggregateExceptions and a RemoteTransportException that says "See InnerException".</summary>
    public static string OneLine(Exception ex)
    {
        var parts = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AggregateException) continue;
            var text = e.Message.Replace("See InnerException for details.", "", StringComparison.Ordinal).Split('\n', 2)[0].Trim().TrimEnd('.');
            if (text.Length > 0 && !parts.Any(p => p.Contains(text, StringComparison.Ordinal))) parts.Add(text);
        }
        return parts.Count > 0 ? string.Join(": ", parts) : ex.GetType().Name;
    }

    private static void WarnAboutTimers(Scenario s, TextWriter error)
    {
        if (s.TimerFiringsPerSecond <= Scenario.TimerFiringsWarning) return;
        error.WriteLine($"{s.File ?? ScenarioLoader.DefaultSource}: warning: the scenario's timers (device rates, exits, preemption, " +
                        $"reprogramming, IPIs) fire about {s.TimerFiringsPerSecond:N0} times a second over {s.Vms} VMs, more than " +
                        $"{Scenario.TimerFiringsWarning:N0}: they will arrive late and in bursts, and the drain may end before a backlog of " +
                        "timer messages does (see scenarios/README.md, \"Timers\")");
    }

    /// <summary>
    /// Every artefact path is checked before the run, not found bad after it: a file name (not empty, not a folder) in a
    /// folder that exists, that can be opened for writing, different from every other artefact's and from the scenario
    /// file (one file written twice, or the input overwritten, would corrupt both). A file that did not exist is not
    /// left behind by the check.
    /// </summary>
    private static void CheckOutputs(RunOptions o, string? scenarioFile)
    {
        var errors = new List<string>();
        var taken = new Dictionary<string, string>(OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
        if (scenarioFile is not null) taken[Path.GetFullPath(scenarioFile)] = "the scenario file";
        foreach (var (option, path) in new[] { ("--report", o.ReportPath), ("--events", o.EventsPath), ("--plot", o.PlotPath), ("--trace", o.TracePath) })
        {
            if (path is null) continue;
            if (string.IsNullOrWhiteSpace(path)) { errors.Add($"{option} '{path}': expected a file name"); continue; }
            string full;
            try { full = Path.GetFullPath(path); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { errors.Add($"{option} {path}: not a file name ({e.Message})"); continue; }
            // A device (/dev/null, /dev/full) may take several artefacts; a file may not.
            if (taken.TryGetValue(full, out var other) && !full.StartsWith("/dev/", StringComparison.Ordinal)) { errors.Add($"{option} {path}: is also {other}: expected a file of its own"); continue; }
            taken[full] = option + "'s file";
            var dir = Path.GetDirectoryName(full);
            if (dir is not null && !Directory.Exists(dir)) { errors.Add($"{option} {path}: the folder {dir} does not exist"); continue; }
            if (Directory.Exists(full)) { errors.Add($"{option} {path}: is a folder: expected a file name"); continue; }
            var existed = File.Exists(full);
            try
            {
                using (new FileStream(full, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite)) { }
                if (!existed) File.Delete(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"{option} {path}: cannot be written ({e.Message.Trim()})");
            }
        }
        if (errors.Count > 0) throw new ScenarioException(errors);
    }

    /// <summary>A port to listen on (<c>--port</c>) that something else holds is found before any node starts (Akka's
    /// remoting would report it in a page of nested exceptions).</summary>
    private static void CheckPort(int? port)
    {
        if (port is not (> 0 and <= 65535)) return;
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port.Value);
        try
        {
            probe.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new ScenarioException([$"--port {port}: cannot listen on 127.0.0.1:{port} ({e.Message})"]);
        }
        finally
        {
            probe.Stop();
        }
    }

    /// <summary>The shape <c>check</c> is given is one a scenario could have (the loader's ranges): a shape of no VMs
    /// would report every event as a violation.</summary>
    private static List<string> ShapeErrors(int vms, int vcpus, int spis)
    {
        var errors = new List<string>();
        if (vms is < 1 or > ScenarioLoader.MaxVms) errors.Add($"--vms {vms}: expected 1..{ScenarioLoader.MaxVms} VMs (vms)");
        if (vcpus is < 1 or > VmLimits.MaxVcpus) errors.Add($"--vcpus {vcpus}: expected 1..{VmLimits.MaxVcpus} vCPUs per VM (vcpus-per-vm)");
        if (!VmLimits.IsValidSpiCount(spis)) errors.Add($"--spis {spis}: expected {VmLimits.SpiRule} SPIs per VM (spis-per-vm)");
        return errors;
    }

        private static int Check(string file, bool fold, bool merged, int? vms, int? vcpus, int? spis, IAnsiConsole console, TextWriter error)
    {
        if (!File.Exists(file)) { error.WriteLine($"{file}: no such file"); return BadInput; }
        FabricShape? shape = null;
        if (vms is not null || vcpus is not null || spis is not null)
        {
            if (vms is not { } v || vcpus is not { } c || spis is not { } s) { error.WriteLine("--vms, --vcpus and --spis go together (the shape the log is checked against for I8)"); return BadInput; }
            if (ShapeErrors(v, c, s) is { Count: > 0 } bad)
            {
                foreach (var b in bad) error.WriteLine(b);
                return BadInput;
            }
            shape = new FabricShape(v, c, s);
        }
        var checker = new InvariantChecker(shape, pushTracking: !fold, merged ? Fabric.Hardware.Kvm.KvmDesign.Merged : Fabric.Hardware.Kvm.KvmDesign.ApList);
        var report = new ReportBuilder();
        var consumers = new EventConsumers(checker, [report]);
        try
        {
            foreach (var e in EventLogReader.Read(file)) consumers.Observe(e);
        }
        catch (EventLogFormatException ex)
        {
            error.WriteLine(ex.Message);
            return BadInput;
        }
        if (checker.Events == 0) { error.WriteLine($"{file}: no events (an event log has one JSON object per line)"); return BadInput; }
        var violations = checker.Finish();
        ReportConsole.PrintCheck(console, file, checker, report, violations);
        return violations.Count == 0 ? Ok : Violated;
    }
}
