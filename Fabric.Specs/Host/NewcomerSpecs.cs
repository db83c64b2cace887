using System.Text.Json;
using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// A newcomer's scenario runs as written (DESIGN.md §6.1): what it leaves out is off, rates above one per scheduler
/// tick are served, and the HOCON that Akka's parser cannot survive, or a fabric too large for this machine, is refused
/// with exit 2 naming the file and the key instead of aborting the process or building for an hour.
/// </summary>
public sealed class NewcomerSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>DESIGN.md §5's minimum schema: a name, VMs, what the guest programs and who injects.</summary>
    private const string Minimal = """
        fabric.scenario {
          name = "newcomer"
          vms = 2
          interrupts = [ { intids = "spi:0-31", mode = edge, priority = 8, affinity = round-robin, enabled = true } ]
          devices = [ { kind = irqfd, intids = "spi:0-31", rate = 0 } ]
        }
        """;

    [Fact]
    public async Task A_scenario_with_only_name_vms_interrupts_and_devices_runs_as_written()
    {
        var file = _dir.Write("minimal.hocon", Minimal);
        var events = _dir.File("minimal.jsonl");
        var report = _dir.File("minimal.json");
        var outcome = await Cli.RunAsync("run", file, "--set", "stop-after.duration=300ms", "--events", events, "--report", report);
        Assert.True(outcome.ExitCode == FabricCli.Ok, outcome.ToString());
        var r = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.True(r.GetProperty("acknowledged").GetInt64() > 0, outcome.ToString());
        Assert.Equal(0, r.GetProperty("migrations").GetInt64());
        // Nothing it did not ask for: no IPIs (LPIs), no timer PPIs, no guest reprogramming after boot, no preemption.
        var lines = File.ReadAllLines(events);
        Assert.DoesNotContain(lines, l => l.Contains("\"lpi:", StringComparison.Ordinal) || l.Contains("\"ppi:", StringComparison.Ordinal));
        // The guest's boot programs each of its 32 SPIs at most once per VM (a value it already has is no change);
        // nothing reprograms them after.
        int Count(string ev) => lines.Count(l => l.Contains($"\"ev\":\"{ev}\"", StringComparison.Ordinal));
        Assert.InRange(Count("priority"), 0, 2 * 32);
        Assert.InRange(Count("affinity"), 0, 2 * 32);
        Assert.Equal(0, Count("disable"));
    }

    [Fact]
    public void What_a_scenario_leaves_out_is_the_neutral_value()
    {
        var (s, _) = ScenarioLoader.Load(_dir.Write("minimal.hocon", Minimal));
        Assert.Equal(0, s.Vm.Guest.IpiPerSecond);
        Assert.Equal(0, s.Vm.Guest.ReprogramPerSecond);
        Assert.Equal(0, s.Vm.Vcpu.ExitsPerSecond);
        Assert.Equal(0, s.Vm.Host.PreemptPerSecond);
        Assert.Null(s.Vm.Migration);
        Assert.Single(s.Vm.Devices);
    }

    [Fact]
    public void The_default_scenario_is_the_mixed_storm_of_its_own_file()
    {
        var (s, _) = ScenarioLoader.Load(null);
        Assert.Equal("default-mixed-storm", s.Name);
        Assert.True(s.Vm.Guest.IpiPerSecond > 0 && s.Vm.Guest.ReprogramPerSecond > 0 && s.Vm.Vcpu.ExitsPerSecond > 0 && s.Vm.Host.PreemptPerSecond > 0);
        var shipped = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "scenarios", "default-mixed-storm.hocon");
        var file = ScenarioLoader.Load(shipped).Scenario;
        Assert.Equal((s.Name, s.Vms, s.Vm.Guest, s.Vm.Vcpu, s.Vm.Host), (file.Name, file.Vms, file.Vm.Guest, file.Vm.Vcpu, file.Vm.Host));
        Assert.Equal(s.Vm.Interrupts, file.Vm.Interrupts);
        Assert.Equal(s.Vm.Devices, file.Vm.Devices);
    }

    [Fact]
    public async Task A_thousand_exits_a_second_are_a_thousand_exits_a_second_per_running_vcpu()
    {
        var file = _dir.Write("exits.hocon", """
            fabric.scenario {
              name = "exits"
              vms = 1
              vcpus-per-vm = 2
              interrupts = [ { intids = "spi:0-7", mode = edge, priority = 8, affinity = round-robin, enabled = true } ]
              devices = [ { kind = irqfd, intids = "spi:0-7", rate = 50 } ]
              stop-after { duration = 1s }
              vcpu { exits-per-second = 1000, wfi-when-idle = false }
            }
            """);
        var events = _dir.File("exits.jsonl");
        var report = _dir.File("exits.json");
        var outcome = await Cli.RunAsync("run", file, "--events", events, "--report", report);
        Assert.True(outcome.ExitCode == FabricCli.Ok, outcome.ToString());
        // Without WFI or preemption every exit is a trap exit; each vCPU runs all along.
        var exits = File.ReadLines(events).Where(l => l.Contains("\"ev\":\"exit\"", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement).Select(e => (Vpe: e.GetProperty("vpe").GetInt32(), T: e.GetProperty("t").GetInt64())).ToList();
        Assert.Equal(exits.Count, JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("exits").GetInt64());
        foreach (var vpe in new[] { 0, 1 })
        {
            var times = exits.Where(e => e.Vpe == vpe).Select(e => e.T).ToList();
            var seconds = (times[^1] - times[0]) / 1e9;
            var perSecond = (times.Count - 1) / seconds;
            Assert.True(seconds > 0.9 && perSecond is > 700 and < 1300, $"vCPU {vpe}: {times.Count} exits over {seconds:F2} s = {perSecond:F0}/s");
        }
    }

    public static TheoryData<string, string, string> Crashers => new()
    {
        // name, the file, what the error names
        { "self-substitution", "fabric.scenario { vms = ${fabric.scenario.vms} }", "fabric.scenario.vms: the substitution ${fabric.scenario.vms} refers back to itself" },
        { "mutual-substitution", "fabric.scenario {\n vms = ${fabric.scenario.seed}\n seed = ${fabric.scenario.vms}\n}", "refers back to itself (fabric.scenario." },
        { "substitution-of-an-enclosing-object", "fabric.scenario {\n guest { priority-mask = ${fabric.scenario.guest} }\n}", "fabric.scenario.guest.priority-mask: the substitution ${fabric.scenario.guest} refers back to itself" },
        { "deep-objects", "fabric.scenario { name = " + string.Concat(Enumerable.Repeat("{ a = ", 20_000)) + "1" + new string('}', 20_000) + " }", "nested more than 64 deep" },
        { "deep-lists", "fabric.scenario { name = " + new string('[', 20_000) + "1" + new string(']', 20_000) + " }", "nested more than 64 deep" },
        { "optional-substitution-of-nothing-in-a-list", "fabric.scenario { name = [ ${?nothing} ] }", "the optional substitution ${?nothing} names no key of this file" },
        { "backslash-in-a-list", "fabric.scenario { name = [ a\\b ] }", "a backslash outside a quoted string" },
        { "long-dotted-key", "fabric.scenario { " + string.Join('.', Enumerable.Repeat("a", 20_000)) + " = 1 }", "more than 64 dot-separated segments" },
    };

    [Theory]
    [MemberData(nameof(Crashers))]
    public async Task HOCON_that_Akkas_parser_cannot_survive_is_refused_with_exit_2(string name, string text, string error)
    {
        var file = _dir.Write(name + ".hocon", text);
        var outcome = await Cli.RunAsync("validate", file);
        Assert.True(outcome.ExitCode == FabricCli.BadInput, outcome.ToString());
        Assert.Contains(file, outcome.Err);
        Assert.Contains(error, outcome.Err);
    }

    [Fact]
    public async Task A_cyclic_substitution_in_set_is_refused_with_exit_2()
    {
        var outcome = await Cli.RunAsync("validate", _dir.Write("minimal.hocon", Minimal), "--set", "vms=${fabric.scenario.vms}");
        Assert.True(outcome.ExitCode == FabricCli.BadInput, outcome.ToString());
        Assert.Contains("--set vms=${fabric.scenario.vms}: fabric.scenario.vms: the substitution", outcome.Err);
    }

    [Fact]
    public async Task A_substitution_without_a_cycle_still_works()
    {
        var outcome = await Cli.RunAsync("validate", _dir.Write("ref.hocon", Minimal.Replace("vms = 2", "vms = 2\n  seed = ${fabric.scenario.vms}", StringComparison.Ordinal)));
        Assert.True(outcome.ExitCode == FabricCli.Ok, outcome.ToString());
    }

    [Fact]
    public async Task A_fabric_too_large_for_this_machine_is_refused_with_the_estimate_and_the_limit()
    {
        var file = _dir.Write("huge.hocon", Minimal.Replace("vms = 2", "vms = 65536\n  vcpus-per-vm = 512", StringComparison.Ordinal));
        var outcome = await Cli.RunAsync("run", file);
        Assert.True(outcome.ExitCode == FabricCli.BadInput, outcome.ToString());
        Assert.Matches(@"fabric\.scenario\.max-memory: 65,536 VMs x 512 vCPUs would need about 6\d\.\d GiB once built, more than the limit of", outcome.Err);
        Assert.DoesNotContain("built in", outcome.Out);
        // Asked for explicitly, it passes validation (the machine's memory is then the user's call).
        var asked = await Cli.RunAsync("validate", file, "--set", "max-memory=96GiB");
        Assert.True(asked.ExitCode == FabricCli.Ok, asked.ToString());
        var bad = await Cli.RunAsync("validate", file, "--set", "max-memory=lots");
        Assert.True(bad.ExitCode == FabricCli.BadInput && bad.Err.Contains("fabric.scenario.max-memory: expected auto or a size", StringComparison.Ordinal), bad.ToString());
    }

    [Fact]
    public void The_memory_estimate_matches_the_measured_bytes_per_VM() =>
        // Fabric.Bench's memory section (issue 15): 14,914 bytes per VM of 4 vCPUs, 64 SPIs and one device at 10,000 VMs.
        Assert.InRange(MemoryEstimate.Bytes(1, 4, 64, 1), 14_914, 15_700);
}
