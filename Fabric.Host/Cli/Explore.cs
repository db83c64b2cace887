using Fabric.Hardware.Deterministic;
using System.Globalization;
using Fabric.Actors.Deterministic;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Host.Scenarios;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace Fabric.Host.Cli;

/// <summary>
/// <c>explore SCENARIO</c> (DESIGN.md §6.5): runs the scenario on the deterministic schedule with seeds S, S+1, ... until
/// an invariant breaks, the number of schedules or the time budget runs out. On a violation it prints the invariant, the
/// seed and the exact replay command, then shrinks the case (fewer VMs, vCPUs and injections, each kept only if the same
/// seed still fails) and writes the smallest failing scenario it found (<c>--out FILE</c>, by default
/// <c>NAME.explore-seedS.hocon</c> in the working folder).
/// </summary>
public static class Explore
{
    public static async Task<int> RunAsync(string file, long seed, int schedules, ScheduleStrategy strategy, TimeSpan budget, string[] sets,
        IAnsiConsole console, TextWriter error, string? output = null)
    {
        var deterministic = sets.Append("schedule=deterministic").ToArray();
        if (await LoadAsync(file, seed, deterministic, error).ConfigureAwait(false) is not { } first) return FabricCli.BadInput;
        var strategyName = ScenarioRunner.Lower(strategy);
        console.WriteLine($"explore {first.Name}: up to {schedules:N0} schedules from seed {seed}, strategy {strategyName}, budget {ScenarioLoader.Show(budget)}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shown = TimeSpan.Zero;
        for (var i = 0; i < schedules && clock.Elapsed < budget; i++)
        {
            var s = seed + i;
            var scenario = WithSeed(first, s);
            var result = await RunOneAsync(scenario, strategy).ConfigureAwait(false);
            if (clock.Elapsed - shown >= TimeSpan.FromSeconds(1) || !result.Passed)
            {
                shown = clock.Elapsed;
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {i + 1:N0} schedules in {clock.Elapsed.TotalSeconds:F1} s ({(i + 1) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1}/s)"));
            }
            if (result.Passed) continue;
            var v = result.First;
            console.WriteLine(v is null ? $"seed {s}: a directed step failed" : $"seed {s}: {Describe(v)}");
            console.WriteLine("replay: " + Replay(scenario, strategy));
            var (smallest, extra) = await ShrinkAsync(file, s, deterministic, scenario, strategy, () => clock.Elapsed < budget).ConfigureAwait(false);
            var path = Path.GetFullPath(output ?? $"{Path.GetFileNameWithoutExtension(file)}.explore-seed{s}.hocon");
            await File.WriteAllTextAsync(path, await File.ReadAllTextAsync(file).ConfigureAwait(false) +
                $"\n# explore: the smallest failing case found from seed {s} ({strategyName}): {smallest.Vms} VMs x {smallest.Vm.Vcpus} vCPUs, " +
                $"{smallest.StopAfterInjections} injections\nfabric.scenario {{ {string.Join(", ", extra.Append($"seed = {s}").Append("schedule = deterministic"))} }}\n")
                .ConfigureAwait(false);
            console.WriteLine($"smallest failing scenario: {path} ({smallest.Vms} VMs x {smallest.Vm.Vcpus} vCPUs, {smallest.StopAfterInjections} injections); " +
                              $"replay: dotnet run --project Fabric.Host -- run {path}" + (strategy == ScheduleStrategy.Pct ? " --strategy pct" : ""));
            return FabricCli.Violated;
        }
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"no violation in the schedules run ({clock.Elapsed.TotalSeconds:F1} s)"));
        return FabricCli.Ok;
    }

    /// <summary><c>explore SCENARIO --strategy exhaustive</c>: every delivery order of a tiny scenario without timers, on the
    /// units' own interpreter, with partial-order reduction (<see cref="ExhaustiveExploration"/>), until every order has run,
    /// one breaks an invariant, <paramref name="maxOrders"/> have run or the budget is spent. The search is itself
    /// deterministic: the same command finds the same failing order again.</summary>
    public static async Task<int> ExhaustiveAsync(string file, int maxOrders, TimeSpan budget, string[] sets, IAnsiConsole console, TextWriter error)
    {
        if (await LoadAsync(file, null, sets.Append("schedule=deterministic").ToArray(), error).ConfigureAwait(false) is not { } s) return FabricCli.BadInput;
        if (UnitFabric.Refusal(s.Vm) is { } why)
        {
            await error.WriteLineAsync($"{file}: --strategy exhaustive runs on the units' own interpreter: {why}").ConfigureAwait(false);
            return FabricCli.BadInput;
        }
        console.WriteLine($"explore {s.Name}: every delivery order (partial-order reduction), up to {maxOrders:N0} orders, budget {ScenarioLoader.Show(budget)}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ExhaustiveResult result;
        try
        {
            result = ExhaustiveExploration.Run(s.Vms, s.Vm with { InjectionsPerDevice = Math.Min(s.Vm.InjectionsPerDevice, s.StopAfterInjections) },
                () => ScenarioRunner.CheckerFor(s), maxOrders, budget,
                progress: (orders, pruned) => console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {orders:N0} orders run, {pruned:N0} cut as equivalent, in {clock.Elapsed.TotalSeconds:F1} s")));
        }
        catch (TimerRefusedException ex)
        {
            await error.WriteLineAsync($"{file}: {ex.Message}").ConfigureAwait(false);
            return FabricCli.BadInput;
        }
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Orders:N0} distinct orders run ({result.Pruned:N0} cut as equivalent to one run, {result.Deliveries:N0} deliveries) in {clock.Elapsed.TotalSeconds:F1} s; ") +
            (result.Complete ? "every order enumerated" : result.Passed ? "stopped before every order was enumerated (--schedules or --budget)" : "stopped at a violation"));
        if (result.Passed) return FabricCli.Ok;
        var v = result.Violations[0];
        console.WriteLine($"order {result.Orders}: {Describe(v)}");
        console.WriteLine($"its deliveries (units in build order): {string.Join(' ', result.FailingOrder!)}");
        console.WriteLine($"replay: the same command finds it again: dotnet run --project Fabric.Host -- explore {file} --strategy exhaustive" +
                          string.Concat(sets.Select(x => " --set " + x)));
        return FabricCli.Violated;
    }

    /// <summary>The scenario, or null once its errors are written.</summary>
    private static async Task<Scenario?> LoadAsync(string file, long? seed, string[] sets, TextWriter error)
    {
        try
        {
            return ScenarioLoader.Load(file, seed, sets).Scenario;
        }
        catch (ScenarioException ex)
        {
            foreach (var e in ex.Errors) await error.WriteLineAsync(e).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>A violation as explore prints it.</summary>
    private static string Describe(Violation v) =>
        $"{v.Invariant} violated: VM {v.Vm}, VPE {v.Vpe?.ToString(CultureInfo.InvariantCulture) ?? "-"}, {v.IntId?.ToString() ?? "-"}: {v.Message}";

    private static string Replay(Scenario s, ScheduleStrategy strategy) =>
        s.ReplayCommand + (strategy == ScheduleStrategy.Pct ? " --strategy pct" : "");

    /// <summary>The scenario as loaded with <paramref name="seed"/> (a seed changes nothing else the loader makes), without
    /// parsing the file again for each schedule.</summary>
    private static Scenario WithSeed(Scenario s, long seed) => s with { Seed = seed, Vm = s.Vm with { Seed = seed } };

    /// <summary>A schedule's verdict: whether it passed, and its first violation.</summary>
    private sealed record Outcome(bool Passed, Violation? First);

    /// <summary>One schedule, silently. A storm the units' own schedule runs goes straight to the checks (no host, no
    /// report, no actor system: thousands of schedules a second); anything else runs as <c>run</c> runs it. Both drive the
    /// fabric by <see cref="ScenarioRunner.DriveDeterministic"/>, so a schedule's verdict here is its replay's.</summary>
    private static async Task<Outcome> RunOneAsync(Scenario s, ScheduleStrategy strategy)
    {
        if (UnitFabric.Runs(s.Vm) && s.Directed is null) return OnUnits(s, strategy);
        var result = await RunOnRunnerAsync(s, strategy).ConfigureAwait(false);
        return new Outcome(result.Passed, result.Violations.FirstOrDefault());
    }

    private static Outcome OnUnits(Scenario s, ScheduleStrategy strategy)
    {
        var checker = ScenarioRunner.CheckerFor(s);
        long activity = 0;
        using var run = new UnitRun(s.Vms, s.Vm, s.Seed, strategy, e =>
        {
            if (e.Ev != Ev.Exit) activity++;
            checker.Observe(e);
        });
        ScenarioRunner.DriveDeterministic(s, run, () => { }, () => checker.Injected, () => activity, CancellationToken.None);
        var violations = checker.Finish();
        return new Outcome(violations.Count == 0, violations.FirstOrDefault());
    }

    private static Task<RunResult> RunOnRunnerAsync(Scenario s, ScheduleStrategy strategy)
    {
        var quiet = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(TextWriter.Null) });
        var runner = new ScenarioRunner(s, new RunOptions { Strategy = strategy }, quiet, NullLogger.Instance);
        return runner.RunAsync(null, CancellationToken.None);
    }

    /// <summary>Fewer VMs, vCPUs and injections, halved while the same seed still fails and time is left; the keys that
    /// made it smaller.</summary>
    private static async Task<(Scenario, List<string>)> ShrinkAsync(string file, long seed, string[] sets, Scenario failing, ScheduleStrategy strategy,
        Func<bool> timeLeft)
    {
        var (vms, vcpus, injections) = (failing.Vms, failing.Vm.Vcpus, failing.StopAfterInjections);
        var smallest = failing;
        var extra = new List<string>();
        for (var changed = true; changed && timeLeft();)
        {
            changed = false;
            foreach (var (key, value) in new[] { ("vms", (long)vms / 2), ("vcpus-per-vm", (long)vcpus / 2), ("stop-after.injections", injections / 2) })
            {
                if (value < (key == "stop-after.injections" ? 10 : 1) || !timeLeft()) continue;
                var trial = new List<string>(extra.Where(e => !e.StartsWith(key + " ", StringComparison.Ordinal))) { $"{key} = {value}" };
                Scenario candidate;
                try
                {
                    (candidate, _) = ScenarioLoader.Load(file, seed, [.. sets, .. trial.Select(t => t.Replace(" = ", "=", StringComparison.Ordinal))]);
                }
                catch (ScenarioException)
                {
                    continue;   // smaller than the scenario allows (an interrupt's affinity names a vCPU that is gone)
                }
                if ((await RunOneAsync(candidate, strategy).ConfigureAwait(false)).Passed) continue;
                (smallest, extra, changed) = (candidate, trial, true);
                (vms, vcpus, injections) = (candidate.Vms, candidate.Vm.Vcpus, candidate.StopAfterInjections);
            }
        }
        return (smallest, extra);
    }
}
