using System.Text.RegularExpressions;
using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// Input a careless or hostile user writes (issue 17): a key with nothing after '=', a list written <c>[ ]</c>, a null
/// object, a rate that rounds to nothing, an input without end. Each is refused with exit 2 naming the key or the file,
/// or read as what it says, never silently as something else.
/// </summary>
public sealed class CarelessInputSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private string With(string name, string set) => _dir.Write(name + ".hocon", Scenarios.Healthy + "\n" + set + "\n");

    public static TheoryData<string, string, string> Refused => new()
    {
        // name, what the file adds (as its last line), what the error must say
        { "empty-after-comment", "fabric.scenario.guest.priority-mask = # fill in later", "fabric.scenario.guest.priority-mask: empty (nothing after '=', or only a comment): expected a value" },
        { "empty-at-end", "fabric.scenario.vcpus-per-vm =", "fabric.scenario.vcpus-per-vm: empty" },
        { "empty-enum", "fabric.scenario.tracking = // later", "fabric.scenario.tracking: empty" },
        { "empty-duration", "fabric.scenario.stop-after.duration = # forever?", "fabric.scenario.stop-after.duration: empty" },
        // Akka's parser would take the next line as the value: name "vms", and vms = 1 dropped for the default.
        { "empty-over-the-next-key", "fabric.scenario {\n  name = # later\n  vms = 1\n}", "name: empty (nothing after '=', or only a comment)" },
        { "empty-object-value", "fabric.scenario.guest { priority-mask = }", "priority-mask: empty" },
        { "null-value", "fabric.scenario.guest.priority-mask = null", "fabric.scenario.guest.priority-mask: null: expected a value" },
        { "null-scenario", "fabric.scenario = null", "fabric.scenario: expected an object" },
        { "scenario-a-value", "fabric.scenario = 5", "fabric.scenario: expected an object" },
        { "null-block", "fabric.scenario.guest = null", "fabric.scenario.guest: null: expected an object" },
        { "null-akka", "akka = null", "akka: null: expected a value or an object of Akka's settings" },
        { "null-akka-setting", "akka.actor.provider = null", "akka.actor.provider: null: expected a value" },
        { "rate-rounding-to-nothing", "fabric.scenario.devices = [ { kind = irqfd, intids = \"spi:0-7\", rate = 1e-13 } ]",
            "fabric.scenario.devices[0].rate: 1e-13 per second is a period longer than Akka's scheduler can hold" },
        { "exit-rate-rounding-to-nothing", "fabric.scenario.vcpu.exits-per-second = 0.0000000000001",
            "fabric.scenario.vcpu.exits-per-second: 0.0000000000001 per second is a period longer than Akka's scheduler can hold" },
        { "tiny-ipi-rate", "fabric.scenario.guest.ipi-per-second = 1e-300", "fabric.scenario.guest.ipi-per-second: 1e-300 per second" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_value_that_is_no_value_is_refused_with_exit_2_naming_the_key(string name, string set, string expected)
    {
        var file = With(name, set);

        foreach (var command in new[] { "validate", "run" })
        {
            var r = await Cli.RunAsync(command, file);
            Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
            // A key with nothing after '=' is found in the text, so its error names the line.
            Assert.Matches($"{Regex.Escape(file)}(:[0-9]+)?: {Regex.Escape(expected)}", r.Err);
        }
    }

    [Theory]
    [InlineData("tracking=", "fabric.scenario.tracking: empty")]
    [InlineData("guest.priority-mask=", "fabric.scenario.guest.priority-mask: empty")]
    [InlineData("vcpus-per-vm = ", "fabric.scenario.vcpus-per-vm: empty")]
    [InlineData("policies.dbpm=null", "fabric.scenario.policies.dbpm: null")]
    public async Task An_empty_set_is_refused_naming_the_key(string set, string expected)
    {
        var r = await Cli.RunAsync("validate", _dir.Write("healthy.hocon", Scenarios.Healthy), "--set", set);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains(expected, r.Err);
    }

    [Theory]
    [InlineData("[ ]")]
    [InlineData("[\n]")]
    [InlineData("[ # none yet\n  ]")]
    public void An_empty_list_written_with_spaces_newlines_or_a_comment_is_empty(string empty)
    {
        var (migrating, _) = ScenarioLoader.Load(With("migrate-at", $"fabric.scenario.migrate.at = {empty}"));
        var (silent, _) = ScenarioLoader.Load(With("no-devices", $"fabric.scenario.devices = {empty}"));

        Assert.Null(migrating.Vm.Migration);           // not one move of every VM at 0 s
        Assert.Empty(silent.Vm.Devices);
    }

    [Fact]
    public void An_empty_list_of_vms_to_move_is_still_refused_as_moving_none()
    {
        var file = With("migrate-vms", "fabric.scenario.migrate { every = 100ms, vms = [ ] }");

        var ex = Assert.Throws<ScenarioException>(() => ScenarioLoader.Load(file));
        Assert.Contains(ex.Errors, e => e.Contains("fabric.scenario.migrate.vms: an empty list moves no VM", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_scenario_without_end_is_refused_at_its_size_limit()
    {
        var big = _dir.File("big.hocon");
        await using (var f = File.Create(big)) f.SetLength(ScenarioLoader.MaxScenarioBytes + 1);

        foreach (var file in OperatingSystem.IsWindows() ? [big] : new[] { big, "/dev/zero" })
        {
            var r = await Cli.RunAsync("validate", file);
            Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
            Assert.Contains($"{file}: larger than 4 MiB: not a scenario", r.Err);
        }
    }
}
