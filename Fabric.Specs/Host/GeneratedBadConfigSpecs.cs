using CsCheck;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// Generated bad configuration: a healthy scenario with one key given a value of the wrong type, out of range, or a
/// key that does not exist. Every one must be refused with exit 2, a message naming the HOCON path, and nothing run.
/// </summary>
public sealed class GeneratedBadConfigSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Scalar keys with their kind: integer range, number, bool, enum, duration.</summary>
    private static readonly (string Key, string Kind, long Min, long Max)[] Keys =
    [
        ("seed", "int", 0, long.MaxValue), ("vms", "int", 1, 65536), ("vcpus-per-vm", "int", 1, 512),
        ("spis-per-vm", "int", 32, 1024), ("stop-after.injections", "int", 1, long.MaxValue),
        ("guest.priority-mask", "int", 0, 31), ("vcpu.exits-per-second", "num", 0, 10_000), ("host.preempt-per-second", "num", 0, 10_000),
        ("vcpu.wfi-when-idle", "bool", 0, 0), ("tracking", "enum", 0, 0), ("policies.notify", "enum", 0, 0),
        ("policies.virtual-level", "enum", 0, 0), ("policies.dbpm", "enum", 0, 0),
        ("stop-after.duration", "duration", 0, 0), ("guest.handler-time", "duration", 0, 0), ("migrate.every", "duration", 0, 0),
    ];

    private static readonly Gen<(string Path, string Value)> GenBad = Gen.Int[0, 3].SelectMany(what => what switch
    {
        // An unknown key, anywhere under fabric.scenario.
        0 => Gen.Select(Gen.OneOf("", "guest.", "vcpu.", "host.", "policies.", "stop-after.", "migrate."), Gen.Char["abcdefghijklmnopqrstuvwxyz"].Array[3, 12].Select(c => new string(c)))
                .Where(t => !Keys.Any(k => k.Key == t.Item1 + t.Item2)
                            && !new[] { "name", "interrupts", "devices", "guest", "vcpu", "host", "policies", "stop-after", "drain-timeout",
                                        "reprogram-per-second", "ipi-per-second", "ipis", "preempt-for", "migrate", "every", "at" }.Contains(t.Item2))
                .Select(t => ("fabric.scenario." + t.Item1 + "x" + t.Item2, "1")),
        // A word where a number, bool, enum or duration belongs.
        1 => Gen.Select(Gen.OneOf(Keys), Gen.OneOf("lots", "maybe", "pull", "soon", "\"\"", "1.5.2", "ten"))
                .Select(t => ("fabric.scenario." + t.Item1.Key, t.Item2)),
        // A number out of its range.
        2 => Gen.Select(Gen.OneOf(Keys.Where(k => k.Kind is "int" or "num" && k.Max != long.MaxValue).ToArray()), Gen.Bool, Gen.Long[1, 1_000_000])
                .Select(t => ("fabric.scenario." + t.Item1.Key, (t.Item2 ? t.Item1.Max + t.Item3 : t.Item1.Min - t.Item3).ToString(System.Globalization.CultureInfo.InvariantCulture))),
        // An object or a list where a value belongs.
        _ => Gen.Select(Gen.OneOf(Keys), Gen.OneOf("{ a = 1 }", "[1, 2]")).Select(t => ("fabric.scenario." + t.Item1.Key, t.Item2)),
    });

    [Fact]
    public void Any_bad_value_or_unknown_key_is_refused_with_exit_2_naming_its_path_and_nothing_runs() =>
        GenBad.Sample(bad =>
        {
            var file = _dir.Write("bad.hocon", Scenarios.Healthy + "\n" + bad.Path + (bad.Value.StartsWith('{') ? " " : " = ") + bad.Value + "\n");
            var outcome = Cli.RunAsync("run", file).GetAwaiter().GetResult();
            Assert.True(outcome.ExitCode == 2, outcome.ToString());
            Assert.Contains(bad.Path, outcome.Err);
            Assert.DoesNotContain("injected", outcome.Out);
            Assert.DoesNotContain("invariants", outcome.Out);
        }, iter: 60, threads: 1, print: b => $"{b.Path} = {b.Value}");
}
