using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Specs.Host;

/// <summary>
/// <c>fabric.cluster { enabled, nodes, leave, kill }</c> (Fabric's extension beside <c>fabric.scenario</c>) and
/// <c>run --nodes N</c>: off unless a scenario or the command line turns it on; a good block becomes the
/// <see cref="ClusterSpec"/> the runner builds a <c>FabricCluster</c> from and takes its leaves and kills from; a bad one
/// is refused like any other key, naming <c>fabric.cluster.*</c>. Then the shipped leave scenario, run end to end through
/// the CLI on three nodes, and the healthy spec scenario on one node.
/// </summary>
public sealed class ClusterScenarioSpecs(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The healthy spec scenario (2 VMs, 400 ms of injection) with <paramref name="block"/> added.</summary>
    private string With(string block) => _dir.Write("cluster.hocon", Scenarios.Healthy + "\n" + block + "\n");

    private static string Shipped(string name) => Path.Combine(ScenarioValidationSpecs.RepositoryRoot(), "scenarios", name);

    [Fact]
    public void The_cluster_is_off_in_the_default_scenario_and_in_a_scenario_that_does_not_turn_it_on()
    {
        Assert.Null(ScenarioLoader.Load(null).Scenario.Cluster);
        Assert.Null(ScenarioLoader.Load(With("")).Scenario.Cluster);
        Assert.Null(ScenarioLoader.Load(With("fabric.cluster { enabled = off, nodes = 5, leave = [], kill = [] }")).Scenario.Cluster);
    }

    [Fact]
    public void A_cluster_block_gives_the_nodes_and_its_leaves_and_kills_in_time_order()
    {
        var c = ScenarioLoader.Load(With("""
            fabric.cluster {
              enabled = on
              nodes = 4
              leave = [ { node = 3, at = 300ms }, { node = 1, at = 100ms } ]
              kill = [ { node = 2, at = 100ms } ]
            }
            """)).Scenario.Cluster;

        Assert.NotNull(c);
        Assert.Equal(4, c.Nodes);
        // By time; at one time, the leaves (in the order written) before the kills.
        Assert.Equal(
            [new NodeExit(1, TimeSpan.FromMilliseconds(100), NodeExitKind.Leave), new NodeExit(2, TimeSpan.FromMilliseconds(100), NodeExitKind.Kill),
             new NodeExit(3, TimeSpan.FromMilliseconds(300), NodeExitKind.Leave)],
            c.Exits);
    }

    [Fact]
    public void Nodes_on_the_command_line_turn_the_cluster_on_over_the_file_and_are_replayed()
    {
        var one = ScenarioLoader.Load(With(""), nodes: 1).Scenario;
        var five = ScenarioLoader.Load(With("fabric.cluster { nodes = 3, leave = [ { node = 2, at = 200ms } ] }"), nodes: 5).Scenario;

        Assert.Equal(1, one.Cluster!.Nodes);
        Assert.Empty(one.Cluster.Exits);
        Assert.EndsWith("--seed 3 --set kvm=ap-list --nodes 1", one.ReplayCommand, StringComparison.Ordinal);
        Assert.Equal(5, five.Cluster!.Nodes);                                           // --nodes wins over the file
        Assert.Equal([new NodeExit(2, TimeSpan.FromMilliseconds(200), NodeExitKind.Leave)], five.Cluster.Exits);   // the rest of the block stays
        Assert.Null(ScenarioLoader.Load(With("")).Scenario.Cluster);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public async Task Nodes_out_of_range_on_the_command_line_are_refused_with_exit_2(int nodes)
    {
        var file = With("");

        var validate = await Cli.RunAsync("validate", file, "--nodes", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var run = await Cli.RunAsync("run", file, "--nodes", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(validate.ExitCode == FabricCli.BadInput, validate.ToString());
        Assert.Contains($"--nodes {nodes}: expected 1..16 nodes (fabric.cluster.nodes)", validate.Err);
        Assert.True(run.ExitCode == FabricCli.BadInput, run.ToString());
        Assert.Contains($"--nodes {nodes}: expected 1..16 nodes (fabric.cluster.nodes)", run.Err);
        Assert.DoesNotContain("spec-healthy", run.Out);
    }

    public static TheoryData<string, string> BadBlocks => new()
    {
        // what the file adds, what the error must say (after "FILE: ")
        { "fabric.cluster = on", "fabric.cluster: expected an object { enabled = off, nodes = 3, leave = [], kill = [] }" },
        { "fabric.clusters { nodes = 3 }", "fabric.clusters: unknown key (expected fabric.scenario or fabric.cluster)" },
        { "fabric.cluster { enabled = on, node = 3 }", "fabric.cluster.node: unknown key" },
        { "fabric.cluster.enabled = maybe", "fabric.cluster.enabled: expected true or false, found 'maybe'" },
        { "fabric.cluster.nodes = many", "fabric.cluster.nodes: expected an integer, found 'many'" },
        { "fabric.cluster.nodes = 0", "fabric.cluster.nodes: 0 is out of range 1..16" },
        { "fabric.cluster.nodes = 17", "fabric.cluster.nodes: 17 is out of range 1..16" },
        { "fabric.cluster { enabled = on, leave = 2 }", "fabric.cluster.leave: expected a list [ { ... }, ... ]" },
        { "fabric.cluster { enabled = on, kill = [2] }", "fabric.cluster.kill[0]: expected an object { ... }" },
        { "fabric.cluster { enabled = on, leave = [ { node = 2, at = 100ms, when = 1s } ] }",
            "fabric.cluster.leave[0].when: unknown key (expected one of node, at)" },
        { "fabric.cluster { enabled = on, leave = [ { at = 100ms } ] }", "fabric.cluster.leave[0].node: missing" },
        { "fabric.cluster { enabled = on, kill = [ { node = 2 } ] }", "fabric.cluster.kill[0].at: missing" },
        { "fabric.cluster { enabled = on, leave = [ { node = 0, at = 100ms } ] }",
            "fabric.cluster.leave[0].node: node 0 is the seed and the driver: it cannot leave or be killed, so that at least one node remains; expected a node 1..2 (nodes = 3)" },
        { "fabric.cluster { enabled = on, kill = [ { node = 3, at = 100ms } ] }", "fabric.cluster.kill[0].node: expected a node 1..2 (nodes = 3), found '3'" },
        { "fabric.cluster { enabled = on, kill = [ { node = two, at = 100ms } ] }", "fabric.cluster.kill[0].node: expected a node 1..2 (nodes = 3), found 'two'" },
        { "fabric.cluster { enabled = on, nodes = 1, leave = [ { node = 1, at = 100ms } ] }",
            "fabric.cluster.leave[0].node: with nodes = 1 no node can leave or be killed (expected leave = [] and kill = []), found '1'" },
        { "fabric.cluster { enabled = on, leave = [ { node = 2, at = -1s } ] }", "fabric.cluster.leave[0].at: -1s is not a non-negative duration" },
        { "fabric.cluster { enabled = on, leave = [ { node = 2, at = soon } ] }",
            "fabric.cluster.leave[0].at: expected a duration such as 5s, 200ms or 10ms, found 'soon'" },
        { "fabric.cluster { enabled = on, kill = [ { node = 2, at = 400ms } ] }",
            "fabric.cluster.kill[0].at: 400ms is not before stop-after.duration (400ms): nodes leave and crash while the devices run, so it would never happen" },
        { "fabric.cluster { enabled = on, leave = [ { node = 2, at = 100ms }, { node = 2, at = 200ms } ] }",
            "fabric.cluster.leave[1].node: node 2 also leaves (leave[0]): expected each node at most once across leave and kill" },
        { "fabric.cluster { enabled = on, leave = [ { node = 2, at = 100ms } ], kill = [ { node = 2, at = 200ms } ] }",
            "fabric.cluster.kill[0].node: node 2 also leaves (leave[0]): expected each node at most once across leave and kill" },
        { "fabric.cluster { enabled = on, kill = [ { node = 1, at = 100ms }, { node = 1, at = 200ms } ] }",
            "fabric.cluster.kill[1].node: node 1 is also killed (kill[0]): expected each node at most once across leave and kill" },
        { "fabric.cluster { enabled = off, leave = [ { node = 2, at = 100ms } ] }",
            "fabric.cluster.leave: a node leaves but the cluster is off (enabled = off), so it would never happen: expected enabled = on (or run --nodes N), or leave = []" },
        { "fabric.cluster { kill = [ { node = 1, at = 100ms } ] }",
            "fabric.cluster.kill: a node is killed but the cluster is off (enabled = off), so it would never happen: expected enabled = on (or run --nodes N), or kill = []" },
    };

    [Theory]
    [MemberData(nameof(BadBlocks))]
    public void A_bad_cluster_block_is_refused_naming_the_file_its_path_and_what_was_expected(string block, string expected)
    {
        var file = With(block);

        var ex = Assert.Throws<ScenarioException>(() => ScenarioLoader.Load(file));

        Assert.Contains(ex.Errors, e => e == $"{file}: {expected}");
    }

    [Fact]
    public void Every_node_but_the_seed_may_go_so_one_always_remains()
    {
        var c = ScenarioLoader.Load(With("fabric.cluster { enabled = on, nodes = 3, leave = [ { node = 1, at = 0s } ], kill = [ { node = 2, at = 100ms } ] }")).Scenario.Cluster;

        Assert.Equal([1, 2], c!.Exits.Select(x => x.Node));
    }

    [Fact]
    public async Task Validate_and_run_say_how_the_cluster_runs()
    {
        var r = await Cli.RunAsync("validate", With("fabric.cluster { leave = [ { node = 2, at = 100ms } ], kill = [ { node = 1, at = 50ms } ] }"), "--nodes", "3");

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("tracking push, cluster of 3 nodes, node 1 killed at 50ms, node 2 leaves at 100ms)", Regex.Replace(r.Out, @"\s*\n", " "));
    }

    [Theory]
    [InlineData("not-an-address", "--seed-nodes not-an-address: expected an address akka.tcp://SYSTEM@HOST:PORT")]
    [InlineData(",", "--seed-nodes ',': expected one or more addresses akka.tcp://SYSTEM@HOST:PORT, comma-separated")]
    public async Task Seed_nodes_that_are_not_akka_addresses_are_refused_with_exit_2(string seeds, string message)
    {
        var r = await Cli.RunAsync("run", With(""), "--seed-nodes", seeds);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains(message, r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task A_process_that_joins_others_cannot_drive_their_leaves_and_kills_and_a_port_must_be_one()
    {
        var r = await Cli.RunAsync("run", With("fabric.cluster { leave = [ { node = 1, at = 100ms } ] }"), "--nodes", "2", "--seed-nodes", "akka.tcp://fabric@127.0.0.1:4053");
        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("fabric.cluster.leave/kill: with --seed-nodes this process runs only its own nodes", r.Err);

        r = await Cli.RunAsync("run", With(""), "--port", "70000");
        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("--port 70000: expected 0..65535", r.Err);
    }

    [Fact]
    public void The_shipped_cluster_scenarios_run_12_vms_over_3_nodes_and_take_node_2_away_at_1500ms()
    {
        var leave = ScenarioLoader.Load(Shipped("cluster-leave.hocon")).Scenario;
        var crash = ScenarioLoader.Load(Shipped("cluster-crash.hocon")).Scenario;

        foreach (var s in new[] { leave, crash })
        {
            Assert.Equal(12, s.Vms);
            Assert.Equal(2, s.Vm.Vcpus);
            Assert.Equal(3, s.Cluster!.Nodes);
            Assert.True(s.Vm.Vcpu.WfiWhenIdle);
            Assert.Equal(["irqfd", "irqfd-resample"], s.Vm.Devices.Select(d => ScenarioRunner.Lower(d.Kind)));
        }
        Assert.Equal([new NodeExit(2, TimeSpan.FromMilliseconds(1500), NodeExitKind.Leave)], leave.Cluster!.Exits);
        Assert.Equal([new NodeExit(2, TimeSpan.FromMilliseconds(1500), NodeExitKind.Kill)], crash.Cluster!.Exits);
        // The same scenario but for its name and whether node 2 leaves or is killed.
        string Body(string file) => string.Join("\n", File.ReadAllLines(Shipped(file))
            .Where(l => !l.StartsWith('#') && !l.Contains("name =", StringComparison.Ordinal) && !l.Contains("leave =", StringComparison.Ordinal) && !l.Contains("kill =", StringComparison.Ordinal)));
        Assert.Equal(Body("cluster-leave.hocon"), Body("cluster-crash.hocon"));
    }

    private static JsonElement Report(string file) => JsonDocument.Parse(File.ReadAllText(file)).RootElement;

    [Fact]
    public async Task One_node_runs_a_scenario_sharded_with_every_vm_on_node_0()
    {
        var report = _dir.File("one-node.json");

        var r = await Cli.RunAsync("run", With(""), "--nodes", "1", "--report", report);

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        var j = Report(report);
        Assert.Equal(1, j.GetProperty("nodes").GetInt32());
        Assert.Equal(2, j.GetProperty("vmsPerNode").GetProperty("0").GetInt32());
        Assert.Single(j.GetProperty("vmsPerNode").EnumerateObject());
        Assert.True(j.GetProperty("acknowledged").GetInt64() > 0);
        Assert.Empty(j.GetProperty("invariants").GetProperty("violations").EnumerateArray());
        Assert.EndsWith("--seed 3 --set kvm=ap-list --nodes 1", j.GetProperty("replay").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_leave_hands_node_2s_vms_off_mid_storm_with_every_invariant_held_and_none_lost()
    {
        var report = _dir.File("cluster-leave.json");
        var clock = Stopwatch.StartNew();

        var r = await Cli.RunAsync("run", Shipped("cluster-leave.hocon"), "--report", report);

        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s\n{r.Out}");
        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        var j = Report(report);
        Assert.Empty(j.GetProperty("invariants").GetProperty("violations").EnumerateArray());
        Assert.Equal(3, j.GetProperty("nodes").GetInt32());
        Assert.True(j.GetProperty("handoffs").GetInt64() > 0, "no VM was handed off");
        Assert.Equal(0, j.GetProperty("lostVms").GetInt64());
        var perNode = j.GetProperty("vmsPerNode").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.DoesNotContain("2", perNode.Keys);                         // node 2 left
        Assert.Equal(12, perNode.Values.Sum());                           // its VMs run on nodes 0 and 1
        Assert.True(j.GetProperty("migrations").GetInt64() >= j.GetProperty("handoffs").GetInt64());
        Assert.Equal(0, j.GetProperty("pendingAtEnd").GetInt64());
        Assert.Matches(@"node 2 left at [0-9.]+ s: its [0-9]+ VM\(s\) handed off, all running again", r.Out);
        Assert.Contains("all held", r.Out);
    }
}
