using Fabric.Hardware.Protocol;
using System.Text.RegularExpressions;
using Fabric.Actors.Vm;
using Fabric.Hardware.Kvm;
using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// The scenario key <c>migrate { every, at, vms }</c> (Fabric's extension of DESIGN.md §5's schema): off unless a
/// scenario sets it, so every other scenario runs as before; a good block becomes the <see cref="MigrationSpec"/> each
/// VM's VmActor schedules its moves from; a bad one is refused like any other key, naming
/// <c>fabric.scenario.migrate.*</c>. Loading only: no migration is run here.
/// </summary>
public sealed class MigrationScenarioSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The healthy spec scenario (2 VMs, 400 ms of injection) with <paramref name="migrate"/> added.</summary>
    private string With(string migrate) => _dir.Write("migrate.hocon", Scenarios.Healthy + "\n" + migrate + "\n");

    private static MigrationSpec? Load(string file, params string[] sets) => ScenarioLoader.Load(file, sets: sets).Scenario.Vm.Migration;

    [Fact]
    public void Migration_is_off_in_the_default_scenario_and_in_a_scenario_that_does_not_set_it()
    {
        Assert.Null(ScenarioLoader.Load(null).Scenario.Vm.Migration);
        Assert.Null(Load(With("")));
        Assert.Null(Load(With("fabric.scenario.migrate { every = 0s, at = [], vms = all }")));
    }

    [Fact]
    public void A_period_alone_moves_every_vm_at_that_period()
    {
        var m = Load(With("fabric.scenario.migrate { every = 100ms }"));

        Assert.NotNull(m);
        Assert.Equal(TimeSpan.FromMilliseconds(100), m.Every);
        Assert.Empty(m.At);
        Assert.Null(m.Vms);                                         // all
        Assert.True(m.Moves(0) && m.Moves(1));
    }

    [Fact]
    public void Times_and_a_list_of_vms_are_kept_in_the_order_written()
    {
        var m = Load(With("fabric.scenario.migrate { every = 0s, at = [250ms, 0s, 100ms], vms = [1] }"));

        Assert.NotNull(m);
        Assert.Equal(TimeSpan.Zero, m.Every);
        Assert.Equal([TimeSpan.FromMilliseconds(250), TimeSpan.Zero, TimeSpan.FromMilliseconds(100)], m.At);
        Assert.Equal([1], m.Vms!);
        Assert.False(m.Moves(0));
        Assert.True(m.Moves(1));
    }

    [Fact]
    public void A_set_turns_migration_on_or_off_over_the_file()
    {
        var on = Load(With(""), "migrate.every=200ms", "migrate.vms=[0]");
        var off = Load(With("fabric.scenario.migrate { every = 100ms, vms = [1, 0] }"), "migrate.every=0s");

        Assert.Equal(TimeSpan.FromMilliseconds(200), on!.Every);
        Assert.Equal([0], on.Vms!);
        Assert.Null(off);
    }

    [Fact]
    public async Task Validate_says_how_the_scenario_migrates()
    {
        var r = await Cli.RunAsync("validate", With("fabric.scenario.migrate { every = 100ms, at = [50ms, 1500us], vms = [1, 0] }"));

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());    // 1500us is shorter than a scheduler tick
        Assert.Contains("fabric.scenario.migrate.at[1]: 1500us is shorter than Akka's scheduler tick (10 ms)", r.Err);

        var ok = await Cli.RunAsync("validate", With("fabric.scenario.migrate { every = 100ms, at = [50ms, 1s], vms = [1, 0] }"), "--set", "stop-after.duration=2s");

        Assert.True(ok.ExitCode == FabricCli.Ok, ok.ToString());
        // The console wraps long lines at its width.
        Assert.Contains("tracking push, migrate every 100ms, at 50ms 1s, VMs 1 0)", Regex.Replace(ok.Out, @"\s*\n", " "));
    }

    public static TheoryData<string, string> BadBlocks => new()
    {
        // what the file adds, what the error must say (after "FILE: ")
        { "fabric.scenario.migrate = off", "fabric.scenario.migrate: expected an object { every = 0s, at = [], vms = all }" },
        { "fabric.scenario.migrate { every = 1s, vms = all, when = 2s }", "fabric.scenario.migrate.when: unknown key" },
        { "fabric.scenario.migrate.every = -100ms", "fabric.scenario.migrate.every: -100ms is not a non-negative duration" },
        { "fabric.scenario.migrate.every = 9ms", "fabric.scenario.migrate.every: 9ms is shorter than Akka's scheduler tick (10 ms), so it would last a whole tick: expected 0 or at least 10ms" },
        { "fabric.scenario.migrate.every = [1s]", "fabric.scenario.migrate.every: expected a value, found a list [ ... ]" },
        { "fabric.scenario.migrate.at = { a = 1s }", "fabric.scenario.migrate.at.a: unknown key" },
        { "fabric.scenario.migrate.at = [1s, [2s]]", "fabric.scenario.migrate.at[1]: expected a value, found a list [ ... ]" },
        { "fabric.scenario.migrate.at = [soon]", "fabric.scenario.migrate.at[0]: expected a duration such as 5s, 200ms or 10ms, found 'soon'" },
        { "fabric.scenario.migrate.at = [200ms, 200ms]", "fabric.scenario.migrate.at[1]: 200ms is also at[0]: expected each time once" },
        { "fabric.scenario.migrate.at = [400ms]", "fabric.scenario.migrate.at[0]: 400ms is not before stop-after.duration (400ms)" },
        { "fabric.scenario.migrate { every = 1s, vms = 1 }", "fabric.scenario.migrate.vms: expected all or a list [ ... ] of VM ids 0..1, found '1'" },
        { "fabric.scenario.migrate { every = 1s, vms = [-1] }", "fabric.scenario.migrate.vms[0]: expected a VM id 0..1 (vms = 2), found '-1'" },
        { "fabric.scenario.migrate { every = 1s, vms = [0, x] }", "fabric.scenario.migrate.vms[1]: expected a VM id 0..1 (vms = 2), found 'x'" },
        { "fabric.scenario.migrate { every = 1s, vms = [0, 1, 0] }", "fabric.scenario.migrate.vms[2]: VM 0 is also vms[0]: expected each VM once" },
        { "fabric.scenario.migrate { every = 1s, vms = [] }", "fabric.scenario.migrate.vms: an empty list moves no VM: expected all or a list [ ... ] of VM ids 0..1 (every = 0s and at = [] turn migration off)" },
    };

    [Theory]
    [MemberData(nameof(BadBlocks))]
    public void A_bad_migrate_block_is_refused_naming_the_file_its_path_and_what_was_expected(string block, string expected)
    {
        var file = With(block);

        var ex = Assert.Throws<ScenarioException>(() => ScenarioLoader.Load(file));

        Assert.Contains(ex.Errors, e => e.StartsWith($"{file}: {expected}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_shipped_migration_scenarios_move_every_vm_every_500ms_under_push_and_fold()
    {
        var folder = Path.Combine(ScenarioValidationSpecs.RepositoryRoot(), "scenarios");
        var push = ScenarioLoader.Load(Path.Combine(folder, "migration.hocon")).Scenario;
        var fold = ScenarioLoader.Load(Path.Combine(folder, "migration-fold.hocon")).Scenario;

        foreach (var s in new[] { push, fold })
        {
            Assert.Equal(TimeSpan.FromMilliseconds(500), s.Vm.Migration!.Every);
            Assert.Empty(s.Vm.Migration.At);
            Assert.Null(s.Vm.Migration.Vms);                                   // all
            Assert.Equal(4, s.Vms);
            Assert.Equal(4, s.Vm.Vcpus);
        }
        Assert.Equal(TrackingPolicy.Push, push.Vm.Policies.Tracking);
        Assert.Equal(TrackingPolicy.Fold, fold.Vm.Policies.Tracking);
        // The same scenario but for its name and tracking.
        string Body(string file) => string.Join("\n", File.ReadAllLines(Path.Combine(folder, file))
            .Where(l => !l.StartsWith('#') && !l.Contains("name =", StringComparison.Ordinal) && !l.Contains("tracking =", StringComparison.Ordinal)));
        Assert.Equal(Body("migration.hocon"), Body("migration-fold.hocon"));
    }
}
