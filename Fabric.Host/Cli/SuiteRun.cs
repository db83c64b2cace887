using System.Text.Json;
using Akka.Actor;
using Fabric.Host.Hosting;
using Fabric.Host.Scenarios;
using Fabric.Host.Scenarios.Steps;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fabric.Host.Cli;

/// <summary>
/// <c>run DIR/</c> runs every scenario (<c>*.hocon</c>) of a folder, in name order, each in an actor system of its own;
/// <c>--tap</c> prints TAP version 13 (https://testanything.org/tap-version-13-specification.html), which kselftest-style
/// runners and CI read: one test per scenario for a folder, one per step (and one for the end-of-run invariants) for a
/// directed scenario run alone. A failure's step, line, expected and actual value, or its violations, or its load
/// errors, go in the test's YAML block. Exit 0 only if every scenario passed; 2 if any was bad input; else 1.
/// </summary>
public static class SuiteRun
{
    private sealed record Outcome(string File, int Code, RunResult? Result, IReadOnlyList<string> Errors, string Output);

    public static async Task<int> RunAsync(string path, long? seed, string[] sets, bool tap, TextWriter output, TextWriter error)
    {
        var folder = Directory.Exists(path);
        var files = folder ? Directory.GetFiles(path, "*.hocon").Order(StringComparer.Ordinal).ToArray() : [path];
        if (files.Length == 0)
        {
            await error.WriteLineAsync($"{path}: no scenarios (*.hocon) in this folder").ConfigureAwait(false);
            return FabricCli.BadInput;
        }
        if (tap) await output.WriteLineAsync("TAP version 13").ConfigureAwait(false);
        if (!folder) return await SingleAsync(files[0], seed, sets, tap, output, error).ConfigureAwait(false);

        if (tap) await output.WriteLineAsync($"1..{files.Length}").ConfigureAwait(false);
        var outcomes = new List<Outcome>();
        for (var i = 0; i < files.Length; i++)
        {
            var o = await RunOneAsync(files[i], seed, sets, tap ? null : output).ConfigureAwait(false);
            outcomes.Add(o);
            if (tap) await output.WriteAsync(Test(i + 1, o.Code == FabricCli.Ok, files[i], o.Code == FabricCli.Ok ? null : Why(o))).ConfigureAwait(false);
            else if (o.Errors.Count > 0) foreach (var e in o.Errors) await error.WriteLineAsync(e).ConfigureAwait(false);
        }
        var failed = outcomes.Where(o => o.Code != FabricCli.Ok).ToList();
        var summary = $"{files.Length} scenarios in {path}: {files.Length - failed.Count} passed, {failed.Count} failed" +
                      (failed.Count > 0 ? $" ({string.Join(", ", failed.Select(f => Path.GetFileName(f.File)))})" : "");
        await output.WriteLineAsync(tap ? "# " + summary : summary).ConfigureAwait(false);
        return failed.Count == 0 ? FabricCli.Ok : failed.Any(f => f.Code == FabricCli.BadInput) ? FabricCli.BadInput : FabricCli.Violated;
    }

    /// <summary>One scenario: per step under <c>--tap</c> when it is directed, else the run's own output.</summary>
    private static async Task<int> SingleAsync(string file, long? seed, string[] sets, bool tap, TextWriter output, TextWriter error)
    {
        var o = await RunOneAsync(file, seed, sets, tap ? null : output).ConfigureAwait(false);
        if (!tap)
        {
            foreach (var e in o.Errors) await error.WriteLineAsync(e).ConfigureAwait(false);
            return o.Code;
        }
        if (o.Result is null)
        {
            await output.WriteLineAsync($"Bail out! {Line(Why(o))}").ConfigureAwait(false);
            return o.Code;
        }
        var r = o.Result;
        if (r.Directed is not { } d)
        {
            await output.WriteLineAsync("1..1").ConfigureAwait(false);
            await output.WriteAsync(Test(1, r.Passed, file, r.Passed ? null : Why(o))).ConfigureAwait(false);
            return o.Code;
        }
        await output.WriteLineAsync($"1..{d.Steps.Count + 1}").ConfigureAwait(false);
        var n = 0;
        foreach (var s in d.Steps)
        {
            var name = $"{s.Step.Where}: {s.Step.Text}";
            await output.WriteAsync(s.Status switch
            {
                StepStatus.NotRun => $"ok {++n} - {Line(name)} # SKIP not run: {d.Failure!.Step.Where} failed\n",
                _ => Test(++n, s.Status == StepStatus.Passed, name, s.Message),
            }).ConfigureAwait(false);
        }
        var held = r.Violations.Count == 0;
        await output.WriteAsync(Test(++n, held, "invariants I1-I8" + (r.Scenario.Directed!.CheckEnd ? " and the end-of-run checks" : ""),
            held ? null : string.Join("\n", r.Violations))).ConfigureAwait(false);
        return o.Code;
    }

    /// <summary>Loads and runs one scenario in an actor system of its own; its console output goes to
    /// <paramref name="output"/>, or is kept (TAP) for a failure's diagnostics.</summary>
    private static async Task<Outcome> RunOneAsync(string file, long? seed, string[] sets, TextWriter? output)
    {
        Scenario scenario;
        Akka.Configuration.Config config;
        try
        {
            (scenario, config) = ScenarioLoader.Load(file, seed, sets);
        }
        catch (ScenarioException ex)
        {
            return new Outcome(file, FabricCli.BadInput, null, ex.Errors, "");
        }
        var kept = new StringWriter();
        var console = FabricCli.CreateConsole(output ?? kept);
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(FabricHostingExtensions.ActorSystemName, config);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // An akka.* setting the actor system refuses: bad input, as a single run reports it.
            return new Outcome(file, FabricCli.BadInput, null, [$"{file}: the actor system could not start: {FabricCli.OneLine(ex)}"], kept.ToString());
        }
        try
        {
            var result = await new ScenarioRunner(scenario, new RunOptions(), console, NullLogger.Instance, config).RunAsync(system, CancellationToken.None)
                .ConfigureAwait(false);
            return new Outcome(file, result.Passed ? FabricCli.Ok : FabricCli.Violated, result, [], kept.ToString());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new Outcome(file, FabricCli.BadInput, null, [$"{file}: the run could not complete: {ex.Message}"], kept.ToString());
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    /// <summary>Why a scenario did not pass: its load errors, its failed step, its violations.</summary>
    private static string Why(Outcome o)
    {
        if (o.Result is not { } r) return string.Join("\n", o.Errors);
        var lines = new List<string>();
        if (r.Directed?.Failure is { } f) lines.Add($"{f.Step.Where}: {f.Step.Text}: {f.Message}");
        lines.AddRange(r.Violations.Select(v => v.ToString()));
        return string.Join("\n", lines);
    }

    /// <summary>A TAP test line, and for a failure a YAML block with the message.</summary>
    private static string Test(int n, bool ok, string name, string? message) =>
        $"{(ok ? "ok" : "not ok")} {n} - {Line(name)}\n" +
        (message is null ? "" : $"  ---\n  message: {JsonSerializer.Serialize(message, Yaml)}\n  severity: fail\n  ...\n");

    /// <summary>A JSON string is a YAML double-quoted scalar; quotes and non-ASCII are left readable.</summary>
    private static readonly JsonSerializerOptions Yaml = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A description on one line, without the '#' that would start a TAP directive.</summary>
    private static string Line(string text) => text.Replace('\n', ' ').Replace("#", "\\#", StringComparison.Ordinal);
}
