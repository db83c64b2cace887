using System.Text;
using CsCheck;
using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// Fuzzing the two inputs a user hands Fabric: scenario text (random HOCON built from its syntax and Fabric's keys, and
/// random values for every key of a healthy scenario) must load or be refused with a <see cref="ScenarioException"/>
/// naming where, never anything else; an event log with random corruptions must be checked (exit 0 or 1) or refused
/// (exit 2), never crash. Iterations stay small in CI; FABRIC_FUZZ_ITER raises them.
/// </summary>
public sealed class FuzzSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int Iter(int ci) => int.TryParse(Environment.GetEnvironmentVariable("FABRIC_FUZZ_ITER"), out var n) && n > 0 ? n : ci;

    private static readonly string[] Keys =
    [
        "name", "seed", "vms", "vcpus-per-vm", "spis-per-vm", "tracking", "max-memory", "stop-after", "stop-after.injections", "stop-after.duration",
        "stop-after.drain-timeout", "interrupts", "devices", "guest", "guest.handler-time", "guest.priority-mask", "guest.reprogram-per-second",
        "guest.ipi-per-second", "guest.ipis", "vcpu", "vcpu.exits-per-second", "vcpu.wfi-when-idle", "host", "host.preempt-per-second",
        "host.preempt-for", "vcpu.ids", "migrate", "migrate.every", "migrate.at", "migrate.vms", "policies", "policies.notify", "policies.virtual-level", "policies.dbpm",
    ];

    /// <summary>Values of every kind a key could be given, well-formed or not.</summary>
    private static readonly Gen<string> GenValue = Gen.OneOf(
        Gen.OneOf("0", "1", "-1", "31", "32", "1024", "65536", "4294967296", "9223372036854775808", "1e308", "-0", "0.5", "1e-300", "NaN", "Infinity"),
        Gen.OneOf("push", "fold", "edge", "level", "true", "off", "auto", "all", "unlimited", "round-robin", "strict", "inclusive", "on-deactivate"),
        Gen.OneOf("10ms", "0s", "5s", "-1s", "1us", "999999999d", "1.5s", "ms", "10 ms", "20GiB", "1KB"),
        Gen.OneOf("\"\"", "\"spi:0-31\"", "\"lpi:8192-8199\"", "\"ppi:3\"", "\"spi:7-3\"", "\"spi:0-99999999999\"", "\"\\u0000\"", "null"),
        Gen.OneOf("[]", "[ ]", "[\n]", "[1, 2]", "[ { } ]", "{}", "{ a = 1 }", "[ { intids = \"spi:0-7\", mode = edge, priority = 8, affinity = 0, enabled = true } ]",
            "[ { kind = irqfd, intids = \"spi:0-7\", rate = 0 } ]", "${fabric.scenario.vms}", "${?nothing}", "${fabric.scenario}"),
        Gen.Int[0, 100_000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.String[Gen.Char.AlphaNumeric, 0, 12]);

    [Fact]
    public void Random_values_for_every_key_load_or_are_refused_with_the_key_named() =>
        Gen.Select(Gen.OneOf(Keys), GenValue).Array[1, 4].Sample(sets =>
        {
            var text = Scenarios.Healthy + "\n" + string.Join("\n", sets.Select(s => $"fabric.scenario.{s.Item1} = {s.Item2}")) + "\n";
            var file = _dir.Write("values.hocon", text);
            Load(file, text);
        }, iter: Iter(200), threads: 1, print: s => string.Join("; ", s.Select(x => $"{x.Item1} = {x.Item2}")));

    /// <summary>Random text from HOCON's syntax and Fabric's own keys: most of it is not valid HOCON at all.</summary>
    private static readonly Gen<string> GenToken = Gen.OneOf(
        Gen.OneOf("{", "}", "[", "]", "=", ":", ",", "\n", " ", "\"", "\"\"\"", "#", "//", "${", "${?", ".", "+=", "include ", "null", "\\"),
        Gen.OneOf("fabric", "scenario", "fabric.scenario", "cluster", "akka", "vms", "seed", "devices", "interrupts", "guest", "migrate", "at", "steps"),
        GenValue);

    [Fact]
    public void Random_HOCON_text_loads_or_is_refused_never_crashes() =>
        GenToken.Array[1, 60].Sample(tokens =>
        {
            var text = "fabric.scenario { name = \"fuzz\"\n" + string.Concat(tokens) + "\n}\n";
            Load(_dir.Write("random.hocon", text), text);
        }, iter: Iter(300), threads: 1, print: t => string.Concat(t));

    /// <summary>Loads <paramref name="file"/>: a scenario, or a <see cref="ScenarioException"/> whose every message names
    /// the file; anything else fails, and so does a load that has not finished within 30 s (a hang: the loader gives
    /// Akka's parser 10 s).</summary>
    private static void Load(string file, string text)
    {
        var load = Task.Run(() => ScenarioLoader.Load(file));
        try
        {
            Assert.True(load.Wait(TimeSpan.FromSeconds(30)), "the load did not finish within 30 s:\n" + text);
        }
        catch (AggregateException e) when (e.InnerException is ScenarioException bad)
        {
            Assert.All(bad.Errors, m => Assert.True(m.StartsWith(file, StringComparison.Ordinal), $"'{m}' does not name the file\n{text}"));
        }
    }

    [Fact]
    public async Task A_real_event_log_with_random_corruptions_is_checked_or_refused_never_crashes()
    {
        var log = _dir.File("real.jsonl");
        var run = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy), "--events", log);
        Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
        var lines = File.ReadAllLines(log);
        var corruptions = Gen.Select(Gen.Int[0, 7], Gen.Int[0, lines.Length - 1], Gen.Int[0, lines.Length - 1], Gen.String[Gen.Char, 0, 20]).Array[1, 5];
        corruptions.Sample(cs =>
        {
            var l = lines.ToList();
            foreach (var (kind, i, j, junk) in cs)
            {
                if (l.Count == 0) break;
                var (a, b) = (i % l.Count, j % l.Count);
                switch (kind)
                {
                    case 0: l.RemoveAt(a); break;
                    case 1: l.Insert(b, l[a]); break;
                    case 2: (l[a], l[b]) = (l[b], l[a]); break;
                    case 3: l[a] = l[a][..(l[a].Length * (b % 10) / 10)]; break;
                    case 4: l[a] = l[a].Insert(b % (l[a].Length + 1), junk); break;
                    case 5: l[a] = System.Text.RegularExpressions.Regex.Replace(l[a], "\"(vm|vpe|seq|t)\":[0-9-]+", m => $"\"{m.Groups[1].Value}\":{b - a}"); break;
                    case 6: l[a] = System.Text.RegularExpressions.Regex.Replace(l[a], "\"(intid|arg|ev)\":\"[^\"]*\"", m => $"\"{m.Groups[1].Value}\":\"{junk.Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal)}\""); break;
                    default: l.Insert(b, junk); break;
                }
            }
            var file = _dir.Write("corrupt.jsonl", string.Join('\n', l) + "\n");
            var outcome = Cli.RunAsync("check", file, "--vms", "2", "--vcpus", "2", "--spis", "32").GetAwaiter().GetResult();
            Assert.True(outcome.ExitCode is FabricCli.Ok or FabricCli.Violated or FabricCli.BadInput, outcome.ToString());
            Assert.DoesNotContain("   at ", outcome.All);   // no stack trace
            if (outcome.ExitCode == FabricCli.BadInput) Assert.Contains(file, outcome.Err);
        }, iter: Iter(150), threads: 1, print: cs => string.Join("; ", cs.Select(c => c.ToString())));
    }
}
