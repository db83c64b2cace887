using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// <c>--schedule deterministic</c> and <c>explore</c> (DESIGN.md §6.5): one seed gives one event log, byte for byte; a
/// hazard policy is found, replayed by the printed command, and shrunk into a scenario file that fails again.
/// </summary>
public sealed class DeterministicRunSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Small = """
        fabric.scenario {
          name = "det-small"
          vms = 1
          vcpus-per-vm = 2
          spis-per-vm = 32
          stop-after { injections = 200, duration = 1s }
          interrupts = [ { intids = "spi:0-3", mode = edge, priority = 8, affinity = round-robin, enabled = true } ]
          devices = [ { kind = irqfd, intids = "spi:0-3", rate = 0 } ]
          vcpu { exits-per-second = 200 }
          host { preempt-per-second = 50 }
        }
        """;

    private static string Shipped(string name) => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "scenarios", name);

    [Fact]
    public async Task Two_deterministic_runs_of_one_seed_write_the_same_event_log_byte_for_byte()
    {
        var file = _dir.Write("small.hocon", Small);
        var (a, b, c) = (_dir.File("a.jsonl"), _dir.File("b.jsonl"), _dir.File("c.jsonl"));
        foreach (var (events, seed) in new[] { (a, "5"), (b, "5"), (c, "6") })
        {
            var run = await Cli.RunAsync("run", file, "--schedule", "deterministic", "--seed", seed, "--events", events);
            Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
            Assert.Contains("schedule deterministic (seed " + seed, run.Out);
        }
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(c));
        Assert.True(File.ReadAllLines(a).Length > 1000);
    }

    [Fact]
    public async Task Explore_finds_the_strict_DBPM_hazard_prints_its_replay_and_writes_a_smaller_case_that_fails_again()
    {
        var smallest = _dir.File("smallest.hocon");
        var explore = await Cli.RunAsync("explore", Shipped("policy-dbpm-strict.hocon"), "--schedules", "50", "--out", smallest);
        Assert.True(explore.ExitCode == FabricCli.Violated, explore.ToString());
        var said = System.Text.RegularExpressions.Regex.Replace(explore.Out, @"\s+", " ");   // the console wraps long lines at word boundaries
        Assert.Contains("violated", said);
        Assert.Contains("replay: dotnet run --project Fabric.Host -- run ", said);
        Assert.True(said.Contains("--set schedule=deterministic", StringComparison.Ordinal), said);
        var replay = await Cli.RunAsync("run", smallest);
        Assert.True(replay.ExitCode == FabricCli.Violated, replay.ToString());
        Assert.Contains("schedule = deterministic", File.ReadAllText(smallest));
    }

    private const string Race = """
        fabric.scenario {
          name = "planted-race"
          vms = 1
          vcpus-per-vm = 2
          spis-per-vm = 32
          stop-after { injections = 400, duration = 2s }
          interrupts = [ { intids = "spi:0-3", mode = edge, priority = 8, affinity = round-robin, enabled = true } ]
          devices = [ { kind = irqfd, intids = "spi:0-3", rate = 2000 } ]
        }
        """;

    [Fact]
    public async Task Explore_finds_a_planted_race_and_its_printed_replay_writes_the_same_event_log_twice()
    {
        // The planted bug: the AP list takes every report of an SPI's end as current (policies.injection-sequence = ignored),
        // so a deactivation that crossed a fresh injection takes the SPI off the list under it (I3).
        var file = _dir.Write("race.hocon", Race);
        var explore = await Cli.RunAsync("explore", file, "--schedules", "200", "--set", "policies.injection-sequence=ignored");
        Assert.True(explore.ExitCode == FabricCli.Violated, explore.ToString());
        var said = System.Text.RegularExpressions.Regex.Replace(explore.Out, @"\s+", " ");
        Assert.Contains("I3 violated", said);
        var replay = System.Text.RegularExpressions.Regex.Match(said, @"replay: dotnet run --project Fabric.Host -- run (\S+) (.*?)(?: smallest|$)").Groups;
        Assert.True(replay[1].Success, said);
        var args = replay[2].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var (a, b) = (_dir.File("replay-a.jsonl"), _dir.File("replay-b.jsonl"));
        foreach (var events in new[] { a, b })
        {
            var run = await Cli.RunAsync(["run", replay[1].Value, .. args, "--events", events]);
            Assert.True(run.ExitCode == FabricCli.Violated, run.ToString());
            Assert.Contains("made pending by KVM's VDPEND while not on the AP list", run.Out);
        }
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public async Task The_same_race_scenario_with_the_sequence_checked_holds_over_as_many_schedules()
    {
        var explore = await Cli.RunAsync("explore", _dir.Write("race-checked.hocon", Race), "--schedules", "60");
        Assert.True(explore.ExitCode == FabricCli.Ok, explore.ToString());
    }

    [Fact]
    public async Task A_run_whose_devices_stopped_drains_once_nothing_is_left_to_do_without_waiting_out_the_drain_timeout()
    {
        // Rate devices stop at their budget; the vCPUs then sleep in WFI with no timer set: nothing is left to do.
        var file = _dir.Write("idle.hocon", Small.Replace("rate = 0 }", "rate = 400 }").Replace("vcpu { exits-per-second = 200 }", "")
            .Replace("host { preempt-per-second = 50 }", ""));
        var run = await Cli.RunAsync("run", file, "--schedule", "deterministic", "--seed", "3");
        Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
        Assert.Contains("; drained", run.Out);
        Assert.DoesNotContain("did not drain", run.Out);
    }

    [Fact]
    public async Task Explore_without_a_violation_exits_0()
    {
        var outcome = await Cli.RunAsync("explore", _dir.Write("small.hocon", Small), "--schedules", "5", "--strategy", "pct");
        Assert.True(outcome.ExitCode == FabricCli.Ok, outcome.ToString());
        Assert.Contains("no violation", outcome.Out);
    }

    private static string Conformance(string name) => Path.Combine(ScenarioValidationSpecs.RepositoryRoot(), "scenarios", "conformance", name);

    [Fact]
    public async Task Explore_exhaustive_enumerates_every_order_of_a_tiny_scenario_and_refuses_one_with_timers()
    {
        var tiny = _dir.Write("tiny.hocon", Small.Replace("spi:0-3", "spi:0-1").Replace("injections = 200", "injections = 1")
            .Replace("vcpu { exits-per-second = 200 }", "").Replace("host { preempt-per-second = 50 }", ""));
        var all = await Cli.RunAsync("explore", tiny, "--strategy", "exhaustive");
        Assert.True(all.ExitCode == FabricCli.Ok, all.ToString());
        Assert.Matches(@"\d+ distinct orders run \(", all.Out);
        Assert.Contains("every order enumerated", all.Out);

        var timed = await Cli.RunAsync("explore", _dir.Write("small.hocon", Small), "--strategy", "exhaustive");
        Assert.True(timed.ExitCode == FabricCli.BadInput, timed.ToString());
        Assert.Contains("without timers", timed.Err);
    }

    [Fact]
    public async Task A_storm_runs_on_the_units_own_schedule_and_a_VM_that_moves_on_the_actors_loop_both_replaying_exactly()
    {
        var storm = await Cli.RunAsync("run", _dir.Write("storm.hocon", Small), "--schedule", "deterministic", "--seed", "4");
        Assert.True(storm.ExitCode == FabricCli.Ok, storm.ToString());
        Assert.Contains("schedule deterministic (seed 4, random, units)", storm.Out);

        var moving = _dir.Write("moving.hocon", Small.Replace("rate = 0 }", "rate = 400 }").Replace("host { preempt-per-second = 50 }", "host { preempt-per-second = 50 }\n  migrate { every = 0s, at = [20ms, 60ms] }"));
        var (a, b) = (_dir.File("move-a.jsonl"), _dir.File("move-b.jsonl"));
        foreach (var events in new[] { a, b })
        {
            var run = await Cli.RunAsync("run", moving, "--schedule", "deterministic", "--seed", "4", "--events", events);
            Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
            Assert.Contains("schedule deterministic (seed 4, random, actors)", run.Out);
        }
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Contains("\"ev\":\"migrate\"", File.ReadAllText(a));
    }

    [Fact]
    public async Task Two_runs_of_a_directed_scenario_with_a_move_write_the_same_event_log_byte_for_byte_on_its_default_schedule()
    {
        // irq-restore-active moves its VM between two steps: the move saga and the fresh units run on the loop too.
        var file = Conformance("irq-restore-active.hocon");
        var (a, b) = (_dir.File("directed-a.jsonl"), _dir.File("directed-b.jsonl"));
        foreach (var events in new[] { a, b })
        {
            var run = await Cli.RunAsync("run", file, "--events", events);
            Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
            Assert.Contains("schedule deterministic (seed 1", run.Out);
            Assert.Contains("20 steps passed", run.Out);
        }
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Contains(File.ReadAllLines(a), l => l.Contains("\"ev\":\"migrate\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_directed_scenario_runs_threaded_when_its_schedule_says_so()
    {
        var file = Conformance("irq-restore-active.hocon");
        Assert.True(Fabric.Host.Scenarios.ScenarioLoader.Load(file).Scenario.Deterministic);
        Assert.False(Fabric.Host.Scenarios.ScenarioLoader.Load(file, sets: ["schedule=threaded"]).Scenario.Deterministic);
        Assert.False(Fabric.Host.Scenarios.ScenarioLoader.Load(_dir.Write("storm.hocon", Small)).Scenario.Deterministic);

        var run = await Cli.RunAsync("run", file, "--schedule", "threaded");
        Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
        Assert.Contains("20 steps passed", run.Out);
        Assert.DoesNotContain("schedule deterministic", run.Out);
    }

    [Fact]
    public async Task A_wait_step_on_the_deterministic_schedule_passes_in_virtual_time_and_fires_the_timers_due()
    {
        // A handler of 10 s: its end (the CDDI) is a timer, which no settle fires and the 10 s wait does, at once.
        var file = _dir.Write("wait.hocon", """
            fabric.scenario {
              name = "handler-wait"
              vms = 1
              vcpus-per-vm = 1
              spis-per-vm = 32
              guest { handler-time = 10s }
              interrupts = [ { intids = "spi:3", mode = edge, priority = 8, affinity = 0, enabled = true } ]
              steps = [
                { line = "spi:3", level = high }
                { guest = handle }
                { expect = { count = { ack = 1, deactivate = 0 } } }
                { wait = 10s }
                { expect = { count = { ack = 1, deactivate = 1 }, "spi:3" = { pending = false, active = false } } }
              ]
            }
            """);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var run = await Cli.RunAsync("run", file);
        Assert.True(run.ExitCode == FabricCli.Ok, run.ToString());
        Assert.Contains("5 steps passed", run.Out);
        Assert.Matches(@"deliveries in 10\.0\d\d s of virtual time", run.Out);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the run took {clock.Elapsed.TotalSeconds:F1} s of wall time");
    }

    [Fact]
    public async Task A_cluster_on_the_deterministic_schedule_is_refused()
    {
        var cluster = await Cli.RunAsync("validate", _dir.Write("small.hocon", Small), "--set", "schedule=deterministic", "--nodes", "2");
        Assert.True(cluster.ExitCode == FabricCli.BadInput, cluster.ToString());
        Assert.Contains("fabric.scenario.schedule: a cluster runs threaded", cluster.Err);
        var bad = await Cli.RunAsync("validate", _dir.Write("small2.hocon", Small), "--set", "schedule=sometimes");
        Assert.True(bad.ExitCode == FabricCli.BadInput && bad.Err.Contains("expected one of threaded | deterministic", StringComparison.Ordinal), bad.ToString());
    }
}
