using Xunit;
using Fabric.Host.Scenarios;
using Fabric.Host.Scenarios.Steps;

namespace Fabric.Specs.Host;

/// <summary>Directed scenarios (DESIGN.md §6.4): steps validated at load time, run on the actor fabric, checked step by
/// step; the conformance suite of scenarios/conformance/ run as CI runs it.</summary>
public sealed class DirectedScenarioSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Directed(string steps, string extra = "") => $$"""
        fabric.scenario {
          name = "spec-directed"
          vms = 1
          vcpus-per-vm = 2
          spis-per-vm = 32
          guest.ipi-per-second = 0
          {{extra}}
          interrupts = [
            { intids = "spi:0-7", mode = edge, priority = 8, affinity = 0, enabled = true }
            { intids = "spi:8", mode = level, priority = 4, affinity = 1, enabled = true }
          ]
          devices = [ { kind = irqfd-resample, intids = "spi:8", service-count = 1 } ]
          steps = [
        {{steps}}
          ]
        }
        """;

    private static string Conformance => Path.Combine(ScenarioValidationSpecs.RepositoryRoot(), "scenarios", "conformance");

    /// <summary>On the deterministic schedule, the directed scenarios' default, and threaded.</summary>
    [Theory]
    [InlineData("deterministic")]
    [InlineData("threaded")]
    public async Task The_conformance_suite_passes_as_TAP_with_a_test_per_scenario(string schedule)
    {
        var files = Directory.GetFiles(Conformance, "*.hocon");
        var r = await Cli.RunAsync("run", Conformance, "--tap", "--schedule", schedule);

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TAP version 13", lines[0]);
        Assert.Equal($"1..{files.Length}", lines[1]);
        Assert.Equal(files.Length, lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("not ok", StringComparison.Ordinal));
        Assert.True(files.Length >= 16, $"scenarios/conformance holds {files.Length} cases");
    }

    [Fact]
    public void Every_conformance_case_cites_where_it_comes_from_and_what_it_checks()
    {
        foreach (var f in Directory.GetFiles(Conformance, "*.hocon"))
        {
            var text = File.ReadAllText(f);
            Assert.True(text.Contains("# From:", StringComparison.Ordinal) && text.Contains("# Checks:", StringComparison.Ordinal), $"{f}: no From/Checks header");
            var (s, _) = ScenarioLoader.Load(f);
            Assert.Equal(Path.GetFileNameWithoutExtension(f), s.Name);
            Assert.NotNull(s.Directed);
        }
    }

    [Fact]
    public async Task A_hand_broken_expectation_fails_with_exit_1_naming_the_step_its_line_the_expected_and_the_actual()
    {
        var file = _dir.Write("broken.hocon", Directed("""
                { line = "spi:5", level = high }
                { guest = cdia, expect = "spi:5" }
                { expect = { "spi:5" = { active = false } } }
                { guest = cdeoi }
            """));

        var r = await Cli.RunAsync("run", file);

        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("FAIL step 2 (line 16)", r.Out);
        Assert.Contains("\"spi:5\".active: expected false, actual true", r.Out);
        Assert.Contains("step 2 (line 16) failed", r.Out);
    }

    [Fact]
    public async Task A_wrong_acknowledge_fails_naming_what_CDIA_returned()
    {
        var file = _dir.Write("cdia.hocon", Directed("""
                { line = "spi:3", level = high }
                { guest = cdia, expect = "spi:4" }
            """));

        var r = await Cli.RunAsync("run", file, "--tap");

        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("not ok 2 - step 1 (line 15): guest = cdia, expect = \"spi:4\"", r.Out);
        Assert.Contains("expected CDIA to return spi:4, actual spi:3", r.Out);
        Assert.Contains("1..3", r.Out);
    }

    public static TheoryData<string, string> MalformedSteps => new()
    {
        { """{ guest = cdpri, intid = "spi:1", priority = high }""", "fabric.scenario.steps[1].priority: expected an integer, found 'high'" },
        { """{ guest = cdpri, intid = "spi:1" }""", "fabric.scenario.steps[1].priority: missing" },
        { """{ guest = cdia, prio = 3 }""", "fabric.scenario.steps[1].prio: unknown key for guest = cdia" },
        { """{ guest = cdfoo }""", "fabric.scenario.steps[1].guest: expected one of cdia | cdeoi" },
        { """{ raise = "spi:1" }""", "fabric.scenario.steps[1]: no operation" },
        { """{ line = "spi:1", irqfd = "spi:8", level = high }""", "a step is one operation" },
        { """{ guest = mmio-read, register = IRS_FOO }""", "fabric.scenario.steps[1].register: unknown register 'IRS_FOO'" },
        { """{ line = "spx:1", level = high }""", "fabric.scenario.steps[1].line: expected an INTID" },
        { """{ line = "spi:1", level = up }""", "fabric.scenario.steps[1].level: expected high | low, found 'up'" },
        { """{ irqfd = "spi:2" }""", "fabric.scenario.steps[1].irqfd: no device in fabric.scenario.devices drives spi:2" },
        { """{ expect = { "spi:1" = { pending = maybe } } }""", "fabric.scenario.steps[1].expect.\"spi:1\".pending: expected true or false, found 'maybe'" },
        { """{ expect = { vcpu-0 = { asleep = true } } }""", "fabric.scenario.steps[1].expect.vcpu-0.asleep: unknown key" },
        { """{ expect = { count = { acks = 1 } } }""", "fabric.scenario.steps[1].expect.count.acks: unknown event" },
        { """{ wait = soon }""", "fabric.scenario.steps[1].wait: expected a duration" },
        { """{ vcpu-state = sleep }""", "fabric.scenario.steps[1].vcpu-state: expected wfi | preempt | run, found 'sleep'" },
    };

    [Theory]
    [MemberData(nameof(MalformedSteps))]
    public async Task A_malformed_step_exits_2_naming_the_file_its_line_the_step_and_the_key(string step, string expected)
    {
        var file = _dir.Write("malformed.hocon", Directed($$"""
                { line = "spi:1", level = high }
                {{step}}
                { guest = handle }
            """));

        var r = await Cli.RunAsync("run", file);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"{file}:15: ", r.Err);
        Assert.Contains(expected, r.Err);
        Assert.Empty(r.Out);   // nothing was built or run
    }

    [Fact]
    public async Task A_refused_step_fails_unless_the_next_step_expects_its_error()
    {
        var refused = _dir.Write("refused.hocon", Directed("""
                { line = "spi:40", level = high }
                { guest = cdia, expect = none }
            """));
        var expected = _dir.Write("expected.hocon", Directed("""
                { line = "spi:40", level = high }
                { expect = { error = "EINVAL" } }
                { guest = cdpri, intid = "spi:1", priority = 40, expect = { error = "out of range" } }
                { expect = { error = "nothing" } }
            """));

        var r = await Cli.RunAsync("run", refused);
        var e = await Cli.RunAsync("run", expected);

        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("FAIL step 0 (line 14)", r.Out);
        Assert.Contains("refused: KVM_IRQ_LINE: EINVAL: kvm_set_irq: spi:40 is beyond", r.Out);
        Assert.True(e.ExitCode == 1, e.ToString());
        Assert.Contains("ok   step 2 (line 16)", e.Out);
        Assert.Contains("FAIL step 3 (line 17)", e.Out);
        Assert.Contains("error: expected the previous step to be refused with \"nothing\", actual: it was accepted", e.Out);
    }

    [Fact]
    public async Task Steps_act_on_the_fabric_and_expectations_read_its_owners()
    {
        var file = _dir.Write("flow.hocon", Directed("""
                { irqfd = "spi:8" }
                { vcpu = 1, expect = { "spi:8" = { pending = true, target = 1, mode = edge }, ap-list = ["spi:8"] } }
                { vcpu = 1, guest = handle }
                { expect = { count-of = { "spi:8" = { ack = 1, notify = 1, resample = 1 } }, ap-list = [], vcpu-1 = { apr = 0, resident = true } } }
                { vcpu = 0, vcpu-state = wfi }
                { expect = { vcpu-0 = { resident = false, doorbell-requested = true, dbpm = 31 } } }
                { line = "spi:2", level = high }
                { expect = { vcpu-0 = { resident = true, db-fired = true }, count = { doorbell = 1 } } }
                { wait = 10ms }
                { migrate = true }
                { guest = cdia, expect = "spi:2" }
                { guest = cdeoi }
                { guest = cddi, intid = "spi:2" }
            """));

        var r = await Cli.RunAsync("run", file, "--tap");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("1..14", r.Out);
        Assert.Contains("ok 14 - invariants I1-I8 and the end-of-run checks", r.Out);
    }

    [Fact]
    public async Task The_first_step_after_which_an_invariant_breaks_fails_naming_the_invariant()
    {
        // DBPM compared strictly, priority 31 under PCR 31 (DBPM 31): the doorbell that I7 owes is never rung.
        var file = _dir.Write("missed.hocon", Directed("""
                { guest = cdpri, intid = "spi:1", priority = 31 }
                { vcpu-state = wfi }
                { line = "spi:1", level = high }
                { expect = { count = { doorbell = 0 }, vcpu-0 = { resident = false } } }
                { vcpu-state = run }
                { guest = handle }
            """, "policies.dbpm = strict"));

        var r = await Cli.RunAsync("run", file);

        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("FAIL step 4 (line 18): vcpu-state = run", r.Out);
        Assert.Contains("expected I1-I8 to hold, actual: I7 violated: vm 0, vpe 0: missed doorbell", r.Out);
    }

    [Fact]
    public async Task Check_end_false_leaves_out_the_end_of_run_checks()
    {
        var steps = """
                { line = "spi:4", level = high }
                { expect = { "spi:4" = { pending = true } } }
            """;
        var owed = _dir.Write("owed.hocon", Directed(steps));
        var open = _dir.Write("open.hocon", Directed(steps, "check-end = false"));

        var strict = await Cli.RunAsync("run", owed);
        var lenient = await Cli.RunAsync("run", open);

        Assert.True(strict.ExitCode == 1, strict.ToString());
        Assert.Contains("I4", strict.Out);
        Assert.True(lenient.ExitCode == 0, lenient.ToString());
    }

    [Fact]
    public void Each_step_is_found_on_its_line_across_comments_strings_and_nested_objects()
    {
        const string text = """
            fabric.scenario {
              name = "x"   # steps = [ not this ]
              "steps" = [
                { line = "spi:1", level = high }, { guest = cdia }
                # { a comment, not a step }
                {
                  expect = { "spi:1" = { active = true },
                             ap-list = ["spi:1", "spi:2"] }
                }
                { guest = cdeoi } // trailing
              ]
            }
            """;

        Assert.Equal([4, 4, 6, 10], StepLines.Find(text));
    }

    [Fact]
    public async Task Validate_accepts_a_directed_scenario_and_run_of_a_file_that_is_not_directed_is_unchanged()
    {
        var r = await Cli.RunAsync("validate", Path.Combine(Conformance, "v5-lpi-ping-pong.hocon"));

        Assert.True(r.ExitCode == 0, r.ToString());
        var (storm, _) = ScenarioLoader.Load(null);
        Assert.Null(storm.Directed);
        Assert.False(storm.Vm.Directed);
    }
}
