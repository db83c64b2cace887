using Fabric.Hardware.Protocol;
using Akka.Configuration;
using Fabric.Actors.Cluster;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Specs.Actors;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Specs.Cluster;

/// <summary>
/// VMs sharded over a three-node cluster on loopback in this process (port 0, one system name, every message that
/// crosses a node serialized, and every other one checked: <c>serialize-messages = on</c>): a storm across the nodes,
/// a graceful leave mid-storm (the leaving node's VMs are handed off with their state, nothing lost, notifiers exactly
/// once), and a node killed (its VMs reported lost and recreated empty, the others untouched).
/// </summary>
public sealed class ClusterSpecs(ITestOutputHelper output)
{
    private const int Vms = 12;
    private static readonly Config Strict = AkkaLocalMessageSerializer.Strict;

    private static VmSpec Storm(long perDevice) =>
        FabricHarness.EdgeStorm(vcpus: 2, spis: 64, FabricPolicies.Default, perDevice, exitsPerSecond: 200) with { Host = new HostSpec(PreemptPerSecond: 100) };

    [Fact]
    public async Task A_storm_across_three_nodes_keeps_every_invariant_and_uses_every_node()
    {
        var log = new EventLog();
        await using var cluster = await FabricCluster.StartAsync(3, Vms, Storm(perDevice: 300), log, Strict);

        cluster.StartDevices();
        await AwaitAcks(log, 100);
        var events = await Settle(cluster);

        var perNode = await cluster.VmsPerNodeAsync();
        output.WriteLine("VMs per node: " + string.Join(", ", perNode.Select(kv => $"{kv.Key}:{kv.Value}")));
        Assert.Equal(Vms, perNode.Values.Sum());
        Assert.True(perNode.Values.Count(n => n > 0) >= 2, "the VMs all landed on one node");
        var checker = Check(events);
        Assert.True(checker.Violations.Count == 0, string.Join("\n", checker.Violations.Take(10)));
        Assert.Equal(Vms * (300 + 32 * 3), checker.Injected);   // every edge write and every level assertion, on every node
    }

    [Fact]
    public async Task A_graceful_leave_mid_storm_hands_its_vms_off_with_nothing_lost_and_every_notifier_once()
    {
        var log = new EventLog();
        await using var cluster = await FabricCluster.StartAsync(3, Vms, Storm(perDevice: 4000), log, Strict);
        cluster.StartDevices();
        await AwaitAcks(log, 2000);
        var before = await cluster.VmsPerNodeAsync();
        output.WriteLine("before: " + string.Join(", ", before.Select(kv => $"{kv.Key}:{kv.Value}")));

        await cluster.LeaveAsync(2);
        var events = await Settle(cluster);

        var after = await cluster.VmsPerNodeAsync();
        output.WriteLine("after: " + string.Join(", ", after.Select(kv => $"{kv.Key}:{kv.Value}")));
        Assert.False(after.ContainsKey(2));
        Assert.Equal(Vms, after.Values.Sum());
        var handoffs = events.Where(e => e.Migration is { Kind: MoveKind.HandOffIn }).Select(e => e.Vm).ToHashSet();
        Assert.True(handoffs.Count >= before.GetValueOrDefault(2), $"{handoffs.Count} VMs handed off, node 2 ran {before.GetValueOrDefault(2)}");
        var checker = Check(events);
        Assert.True(checker.Violations.Count == 0, string.Join("\n", checker.Violations.Take(10)));
        Assert.Equal(0, checker.LostVms);
        Assert.Equal(Vms * (4000 + 32 * 3), checker.Injected);   // the moved VMs' devices went on to their last write
    }

    [Fact]
    public async Task An_entity_crash_while_its_vm_runs_keeps_the_vm_and_loses_nothing()
    {
        var log = new EventLog(record: true, count: true);
        await using var cluster = await FabricCluster.StartAsync(1, Vms, Storm(perDevice: 1000), log, Strict);
        var node = cluster.Nodes[0]!;
        var errors = Akka.Actor.Inbox.Create(node);
        node.EventStream.Subscribe(errors.Receiver, typeof(Akka.Event.Error));
        cluster.StartDevices();
        // Mid-storm: acknowledgements under way (the boot's own events alone would satisfy a count of all events).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (log.Count(Ev.Ack) < 200 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(log.Count(Ev.Ack) >= 200, $"only {log.Count(Ev.Ack)} acknowledgements before the crash");

        // Every VM's entity (the shell around its VmActor) crashes mid-storm.
        for (var vm = 0; vm < Vms; vm++)
            node.ActorSelection($"/system/sharding/{FabricCluster.TypeName}/*/{vm}").Tell(Fabric.Hardware.Protocol.IrsProtocol.Crash.Instance);
        var crashed = 0;
        while (crashed < Vms)
            if (errors.Receive(TimeSpan.FromSeconds(30)) is Akka.Event.Error { Cause.Message: var m } && m.Contains("entity: crash requested", StringComparison.Ordinal)) crashed++;
        var events = await Settle(cluster);

        Assert.DoesNotContain(events, e => e.Ev == Ev.Lost);
        var checker = Check(events);
        Assert.True(checker.Violations.Count == 0, string.Join("\n", checker.Violations.Take(10)));
        Assert.Equal(Vms * (1000 + 32 * 3), checker.Injected);   // every VM ran on to its devices' last write
    }

    [Fact]
    public async Task An_entity_that_crashed_before_its_devices_started_still_takes_the_start_to_its_vm()
    {
        // A restart resets an actor's behaviour: the shell must go on forwarding its VM's front-door messages.
        var log = new EventLog();
        await using var cluster = await FabricCluster.StartAsync(1, Vms, Storm(perDevice: 100), log, Strict);
        var node = cluster.Nodes[0]!;
        var errors = Akka.Actor.Inbox.Create(node);
        node.EventStream.Subscribe(errors.Receiver, typeof(Akka.Event.Error));
        for (var vm = 0; vm < Vms; vm++)
            node.ActorSelection($"/system/sharding/{FabricCluster.TypeName}/*/{vm}").Tell(Fabric.Hardware.Protocol.IrsProtocol.Crash.Instance);
        var crashed = 0;
        while (crashed < Vms)
            if (errors.Receive(TimeSpan.FromSeconds(30)) is Akka.Event.Error { Cause.Message: var m } && m.Contains("entity: crash requested", StringComparison.Ordinal)) crashed++;
        cluster.StartDevices();
        var events = await Settle(cluster);

        var checker = Check(events);
        Assert.True(checker.Violations.Count == 0, string.Join("\n", checker.Violations.Take(10)));
        Assert.Equal(Vms * (100 + 32 * 3), checker.Injected);   // every VM started and ran to its devices' last write
    }

    [Fact]
    public async Task A_killed_node_loses_its_vms_which_are_reported_and_recreated_while_the_others_are_untouched()
    {
        var log = new EventLog();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var cluster = await FabricCluster.StartAsync(3, Vms, Storm(perDevice: 4000), log, Strict);
        output.WriteLine($"up after {clock.Elapsed}");
        cluster.StartDevices();
        await AwaitAcks(log, 2000);
        var onNode2 = (await cluster.VmsPerNodeAsync()).GetValueOrDefault(2);
        output.WriteLine($"storm under way after {clock.Elapsed}");

        await cluster.KillAsync(2);
        output.WriteLine($"VMs back after {clock.Elapsed}");
        var events = await Settle(cluster, TimeSpan.FromSeconds(1));
        output.WriteLine($"settled after {clock.Elapsed}");

        var lost = events.Where(e => e.Ev == Ev.Lost).Select(e => e.Vm).ToHashSet();
        output.WriteLine($"node 2 ran {onNode2} VMs; lost: {string.Join(", ", lost.Order())}");
        Assert.Equal(onNode2, lost.Count);
        var checker = Check(events);
        Assert.True(checker.Violations.Count == 0, string.Join("\n", checker.Violations.Take(10)));
        Assert.Equal(Vms, (await cluster.VmsPerNodeAsync()).Values.Sum());
        // The VMs of the other nodes ran to their last write; nothing of theirs was lost or reset.
        var survivors = Enumerable.Range(0, Vms).Where(v => !lost.Contains(v)).ToArray();
        Assert.NotEmpty(survivors);
        Assert.All(survivors, v => Assert.Equal(4000 + 32 * 3, events.Count(e => e.Ev == Ev.Inject && e.Vm == v)));
    }

    [Fact]
    public async Task Two_processes_each_check_their_own_log_and_a_vm_handed_between_them_owes_nothing_where_it_left()
    {
        // Two "processes": two clusters of one node each in this test, with their own event logs; B joins A's address.
        var logA = new EventLog();
        var logB = new EventLog();
        var spec = Storm(perDevice: 4000);
        await using var a = await FabricCluster.StartAsync(1, Vms, spec, logA, Strict);
        await using var b = await FabricCluster.StartAsync(1, Vms, spec, logB, [a.AddressOf(0)], port: 0, Strict);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await b.VmsPerNodeAsync()).GetValueOrDefault(0) == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var onB = (await b.VmsPerNodeAsync()).GetValueOrDefault(0);
        Assert.True(onB > 0, "no shard was rebalanced to the second process");

        a.StartDevices();
        await AwaitAcks(logA, 1000);
        await b.LeaveAsync(0);
        await a.AwaitVmsRunningAsync(TimeSpan.FromSeconds(30));
        var eventsA = await Settle(a);
        var eventsB = FabricHarness.Drained(logB);

        var checkA = Check(eventsA);
        var checkB = Check(eventsB);
        output.WriteLine($"B ran {onB} VMs; A: joined {checkA.JoinedVms.Count}, departed {checkA.DepartedVms.Count}; B: joined {checkB.JoinedVms.Count}, departed {checkB.DepartedVms.Count}");
        Assert.True(checkA.Violations.Count == 0, "A: " + string.Join("\n", checkA.Violations.Take(10)));
        Assert.True(checkB.Violations.Count == 0, "B: " + string.Join("\n", checkB.Violations.Take(10)));
        Assert.Empty(checkA.DepartedVms);                        // every VM ended on A
        Assert.True(checkB.JoinedVms.Count >= onB);              // B saw only VMs born on A: none of them checked there
        Assert.NotEmpty(checkA.JoinedVms);                       // they came back after a life on B: A does not check them
        Assert.Contains(eventsB, e => e.Migration is { Kind: MoveKind.HandOffOut });
        Assert.True(checkA.Acknowledged > 1000);
    }

    private static async Task AwaitAcks(EventLog log, long acks)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (log.LastSeq < acks * 8 && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    private static Task<List<FabricEvent>> Settle(FabricCluster cluster, TimeSpan? quiet = null) =>
        FabricHarness.SettleAsync(cluster, quiet ?? TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(40));

    private static InvariantChecker Check(List<FabricEvent> events) => FabricHarness.Checked(events, new FabricShape(Vms, 2, 64));
}
