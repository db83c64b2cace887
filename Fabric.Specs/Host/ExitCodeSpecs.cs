using System.Text.Json;
using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>DESIGN.md §5's exit codes through the CLI entry point: 0 every invariant held, 1 one was violated, 2 bad input.</summary>
public sealed class ExitCodeSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_run_that_keeps_every_invariant_exits_0()
    {
        var r = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy));

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("invariants I1 I2 I3 I4 I5 I6 I7 I8: all held", r.Out);
    }

    [Fact]
    public async Task No_arguments_run_the_default_scenario_of_akka_hocon()
    {
        // The default scenario runs about 5 s; --set shortens it here, on the same no-command path.
        var r = await Cli.RunAsync("--set", "stop-after.duration=500ms", "--set", "vms=2");

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("default-mixed-storm", r.Out);
        Assert.Contains("all held", r.Out);
    }

    [Fact]
    public async Task A_run_that_breaks_an_invariant_exits_1_naming_it_with_vm_vpe_intid_seed_and_replay()
    {
        var file = _dir.Write("missed-doorbell.hocon", Scenarios.MissedDoorbell);
        var r = await Cli.RunAsync("run", file);

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I7\s+│ 0\s+│ 0\s+│", r.Out);                     // invariant, VM, VPE
        Assert.Matches(@"│ I4\s+│ 0\s+│ 0\s+│ spi:\d", r.Out);               // ... and INTID
        Assert.Contains("seed 5", r.Out);
        Assert.Contains($"dotnet run --project Fabric.Host -- run {file} --seed 5", r.Out);
    }

    [Fact]
    public async Task A_failing_runs_replay_command_repeats_its_overrides()
    {
        var file = _dir.Write("healthy.hocon", Scenarios.Healthy);
        var r = await Cli.RunAsync("run", file, "--seed", "9", "--set", "policies.dbpm=strict", "--set", "interrupts=[{intids=\"spi:0-7\", mode=edge, priority=31, affinity=0, enabled=true}, {intids=\"spi:8-11\", mode=level, priority=4, affinity=0, enabled=true}]", "--set", "guest.priority-mask=31", "--set", "vcpu.exits-per-second=0", "--set", "host.preempt-per-second=0", "--set", "devices=[{kind=irqfd, intids=\"spi:0-7\", rate=20}]");

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Contains($"run {file} --seed 9 --set policies.dbpm=strict --set ", r.Out);
    }

    [Fact]
    public async Task A_missing_scenario_file_exits_2()
    {
        var r = await Cli.RunAsync("run", _dir.File("nowhere.hocon"));

        Assert.Equal(FabricCli.BadInput, r.ExitCode);
        Assert.Contains("nowhere.hocon: no such file", r.Err);
    }

    [Theory]
    [InlineData("run")]                              // the scenario argument is missing
    [InlineData("--no-such-option")]
    [InlineData("frobnicate", "x.hocon")]
    [InlineData("run", "x.hocon", "--seed", "many")]
    [InlineData("check", "x.jsonl", "--tracking", "sideways")]
    public async Task A_bad_command_line_exits_2(params string[] args)
    {
        var r = await Cli.RunAsync(args);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("Try --help.", r.Err);
    }

    [Fact]
    public async Task An_akka_setting_the_actor_system_refuses_exits_2_naming_the_file()
    {
        var file = _dir.Write("tick.hocon", "akka.scheduler.tick-duration = 1ms\n" + Scenarios.Healthy);
        var r = await Cli.RunAsync("run", file);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains($"{file}: the actor system could not start", r.Err);
        Assert.Contains("tick-duration", r.Err);
    }

    [Fact]
    public async Task An_artefact_in_a_folder_that_does_not_exist_exits_2_before_running()
    {
        var report = Path.Combine(_dir.Path, "no", "such", "folder", "report.json");
        var r = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy), "--report", report);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("--report", r.Err);
        Assert.DoesNotContain("spec-healthy", r.Out);
    }

    [Fact]
    public async Task The_same_seed_replays_the_same_injection_schedule_and_another_seed_does_not()
    {
        var file = _dir.Write("ipis.hocon", Scenarios.Ipis);

        async Task<string[]> ScheduleOf(long seed, string log)
        {
            var r = await Cli.RunAsync("run", file, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--events", log);
            Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
            // Each vCPU's IPIs in the order it sent them: (vCPU, LPI).
            return File.ReadLines(log).Select(l => JsonDocument.Parse(l).RootElement)
                .Where(e => e.GetProperty("ev").GetString() == "inject")
                .Select(e => $"{e.GetProperty("vpe").GetInt32()}:{e.GetProperty("intid").GetString()}")
                .GroupBy(s => s[..s.IndexOf(':', StringComparison.Ordinal)])
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => g.Key + "=" + string.Join(",", g))
                .ToArray();
        }

        var first = await ScheduleOf(11, _dir.File("a.jsonl"));
        var replay = await ScheduleOf(11, _dir.File("b.jsonl"));
        var other = await ScheduleOf(12, _dir.File("c.jsonl"));

        Assert.Equal(2, first.Length);
        Assert.All(first.Concat(replay).Concat(other), vcpu => Assert.Equal(20, vcpu.Split(',').Length));
        Assert.Equal(first, replay);
        Assert.NotEqual(first, other);
    }
}
