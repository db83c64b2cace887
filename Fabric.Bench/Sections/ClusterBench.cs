using Fabric.Hardware.Protocol;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Fabric.Actors;
using Fabric.Actors.Cluster;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Bench.FabricRuns;
using Fabric.Bench.Messaging;

namespace Fabric.Bench.Sections;

/// <summary>Blackouts of VM moves, in milliseconds: nearest-rank percentiles over the few samples a run gives.</summary>
public readonly record struct Blackouts(double P50, double P99, double Max, int Count)
{
    public static Blackouts Of(IReadOnlyCollection<double> millis)
    {
        if (millis.Count == 0) return new Blackouts(0, 0, 0, 0);
        var sorted = millis.Order().ToArray();
        double Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Blackouts(Rank(50), Rank(99), sorted[^1], sorted.Length);
    }
}

/// <summary>The sharded throughput run: the measurement, the cluster's start (nodes up, VMs booted, shards balanced),
/// where the VMs ran, and how often a node saw another as unreachable (heartbeats missed) during it.</summary>
public sealed record ShardedResult(FabricResult Run, double StartSeconds, IReadOnlyDictionary<int, int> VmsPerNode, bool Balanced, int Unreachable);

/// <summary>A graceful leave under the paced storm: the handoffs it caused, how long it took, and the drain's check.</summary>
public sealed record LeaveResult(int Vms, int OnLeavingNode, Blackouts Handoffs, double LeaveSeconds,
    IReadOnlyDictionary<int, int> VmsPerNodeAfter, int Unreachable, FabricCheck Check);

public sealed record ClusterResult(FabricResult Local, ShardedResult Sharded, LeaveResult Leave, Blackouts LocalMoves, int LocalMovesRefused, FabricCheck LocalMovesCheck);

/// <summary>
/// (g) The fabric sharded over a cluster (<see cref="FabricCluster"/>: every node in this process, on loopback) against
/// the same VMs in one local <see cref="FabricRuntime"/>: the closed-loop edge storm without WFI (the storm section's
/// throughput workload), counted the same way in both. Then the blackout of the VMs a graceful leave hands from node to
/// node, and of VMs moved within one local runtime, both under the same paced storm. A VM's interrupt traffic stays on
/// its node: only the host's control messages (start, stop, moves), the handoffs and Akka's own gossip, heartbeats and
/// distributed data cross nodes.
/// </summary>
public static class ClusterBench
{
    /// <summary>The storm that runs during the moves: each SPI pulsed this many times a second (64 SPIs per VM).</summary>
    public const double PacedEdgesPerSpiPerSecond = 10;

    /// <summary>
    /// The bench's settings (<see cref="BenchSystems.Settings"/>) for a cluster's nodes, over <see cref="FabricCluster"/>'s
    /// own. Three nodes in one process share one .NET thread pool, which the closed-loop storm keeps full: a node's
    /// heartbeats can wait seconds behind the VMs' work, so a node is marked unreachable only after 10 s without one
    /// (<see cref="FabricCluster.NodeConfig"/>'s own setting), and downed only after 30 s unreachable (the bench never crashes a node: a slow one must not be taken for a dead one),
    /// (Akka's default, 3 s, is for nodes with cores of their own; a thread of their own for Akka's cluster and remoting
    /// actors was tried, and made the bench's own timers and the drain seconds late). The shard coordinator is told to
    /// even the shards out in one rebalance round, every second, so that a run starts from a balanced placement: the
    /// regions register with it one by one, and the first VMs' shards go to whichever were there. Akka's log goes to
    /// stderr (<see cref="NodeLogger"/>), errors only.
    /// </summary>
    public static Config NodeSettings(bool countMessages) => BenchSystems.Settings(countMessages, $$"""
        akka.cluster.split-brain-resolver.stable-after = 30s
        akka.cluster.sharding {
          rebalance-interval = 1s
          least-shard-allocation-strategy { rebalance-absolute-limit = {{FabricCluster.MaxShards(int.MaxValue)}}, rebalance-relative-limit = 1.0 }
        }
        akka.loggers = ["{{NodeLogger.TypeName}}"]
        akka.loglevel = ERROR
        akka.stdout-loglevel = OFF
        """);

    public static async Task<ClusterResult> RunAsync(int vms, int nodes, int localMoves, int moveVms, TimeSpan warmup, TimeSpan measure, Action<string> progress)
    {
        var spec = Workloads.Workloads.EdgeStorm(wfi: false);
        var local = await FabricRun.ClosedLoopAsync(vms, spec, warmup, measure).ConfigureAwait(false);
        progress($"cluster: local {vms} VMs {local.LifecyclesPerSecond:N0} lifecycles/s");

        var sharded = await ShardedAsync(vms, nodes, spec, warmup, measure).ConfigureAwait(false);
        progress($"cluster: sharded {vms} VMs on {nodes} nodes ({Spread(sharded.VmsPerNode)}{(sharded.Balanced ? "" : ", shards not balanced")}; up, booted and balanced in {sharded.StartSeconds:F1} s) {sharded.Run.LifecyclesPerSecond:N0} lifecycles/s; unreachable seen {sharded.Unreachable} times");

        var paced = Workloads.Workloads.PacedStorm(wfi: false, PacedEdgesPerSpiPerSecond);
        var leave = await LeaveAsync(moveVms, nodes, paced, warmup).ConfigureAwait(false);
        progress($"cluster: node {nodes - 1} of {nodes} left under the paced storm ({leave.OnLeavingNode} of {moveVms} VMs on it) in {leave.LeaveSeconds:F1} s; {leave.Handoffs.Count} handoffs, blackout p50 {leave.Handoffs.P50:F1} ms, max {leave.Handoffs.Max:F1} ms");

        // Under the closed-loop storm a local move waits behind every other VM's traffic at each step of its quiescence
        // check (10-20 s a move with 48 VMs on two cores); under the paced storm it shows what a move itself costs.
        var blackouts = new List<double>();
        var refused = 0;
        var moved = await FabricRun.ClosedLoopAsync(moveVms, paced, warmup, TimeSpan.Zero,
            beforeDrain: async rt => refused = await LocalMovesAsync(rt, localMoves, blackouts).ConfigureAwait(false)).ConfigureAwait(false);
        var localMoveMillis = Blackouts.Of(blackouts);
        progress($"cluster: {localMoveMillis.Count} local moves in {moveVms} VMs under the paced storm, one at a time: blackout p50 {localMoveMillis.P50:F2} ms, max {localMoveMillis.Max:F2} ms");
        return new ClusterResult(local, sharded, leave, localMoveMillis, refused, moved.Check);
    }

    public static string Spread(IReadOnlyDictionary<int, int> perNode) =>
        string.Join(" ", perNode.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}:{kv.Value}"));

    /// <summary>The measurement of <see cref="FabricRun.ClosedLoopAsync"/> on a cluster whose nodes count messages too,
    /// once its shards are balanced.</summary>
    private static async Task<ShardedResult> ShardedAsync(int vms, int nodes, VmSpec spec, TimeSpan warmup, TimeSpan measure)
    {
        var log = new EventLog(record: false, count: true);
        var clock = Stopwatch.StartNew();
        var cluster = await FabricCluster.StartAsync(nodes, vms, spec, log, NodeSettings(countMessages: true)).ConfigureAwait(false);
        try
        {
            var balanced = await AwaitBalancedAsync(cluster, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await cluster.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(2)).ConfigureAwait(false);
            var startSeconds = clock.Elapsed.TotalSeconds;
            var perNode = await cluster.VmsPerNodeAsync().ConfigureAwait(false);
            var unreachable = WatchUnreachable(cluster);
            var run = await FabricRun.MeasureAsync(cluster, spec, startSeconds, warmup, measure).ConfigureAwait(false);
            return new ShardedResult(run, startSeconds, perNode, balanced, unreachable.Value);
        }
        finally { await TearDownAsync(cluster).ConfigureAwait(false); }
    }

    /// <summary>A cluster of <paramref name="vms"/> VMs under the paced storm; after the warm-up its last node leaves
    /// gracefully, handing its VMs off to the others. The log records (each handoff's blackout is in its migrate event)
    /// and is drained as the run goes, keeping only the migrate events.</summary>
    private static async Task<LeaveResult> LeaveAsync(int vms, int nodes, VmSpec spec, TimeSpan warmup)
    {
        var log = new EventLog(record: true, count: true);
        var cluster = await FabricCluster.StartAsync(nodes, vms, spec, log, NodeSettings(countMessages: false)).ConfigureAwait(false);
        try
        {
            await AwaitBalancedAsync(cluster, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await cluster.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(2)).ConfigureAwait(false);
            var unreachable = WatchUnreachable(cluster);
            var moves = new List<FabricEvent>();
            using var stop = new CancellationTokenSource();
            var pump = PumpAsync(log, moves, stop.Token);
            cluster.StartDevices();
            await Task.Delay(warmup).ConfigureAwait(false);
            var leaving = nodes - 1;
            var onLeaving = (await cluster.VmsPerNodeAsync().ConfigureAwait(false)).GetValueOrDefault(leaving);
            var clock = Stopwatch.StartNew();
            await cluster.LeaveAsync(leaving).ConfigureAwait(false);
            var leaveSeconds = clock.Elapsed.TotalSeconds;
            var after = await cluster.VmsPerNodeAsync().ConfigureAwait(false);
            cluster.StopDevices();
            var quiesced = await cluster.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
            var handoffs = moves.Select(e => e.Migration).OfType<MigrateArg>().Where(m => m.Kind == MoveKind.HandOffIn).Select(m => m.Micros / 1000.0).ToList();
            return new LeaveResult(vms, onLeaving, Blackouts.Of(handoffs), leaveSeconds, after, unreachable.Value,
                FabricCheck.From(log, quiesced, spec.Policies));
        }
        finally { await TearDownAsync(cluster).ConfigureAwait(false); }
    }

    /// <summary>Moves <paramref name="count"/> VMs spread over the runtime one after the other, each answered before the
    /// next is asked, while the storm runs on; the blackout of each, as the VM measured it (from the start of the move to
    /// its run). Returns how many were refused.</summary>
    private static async Task<int> LocalMovesAsync(FabricRuntime rt, int count, List<double> blackouts)
    {
        var replies = System.Threading.Channels.Channel.CreateUnbounded<object>();
        var inbox = rt.System.ActorOf(Props.Create(() => new Inbox(replies.Writer)), "move-replies");
        var refused = 0;
        for (var i = 0; i < count; i++)
        {
            rt.Migrate(i * rt.VmCount / count, inbox);
            var reply = await replies.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (reply is MigrationProtocol.Migrated m) blackouts.Add(m.Blackout.TotalMilliseconds);
            else refused++;
        }
        rt.System.Stop(inbox);
        return refused;
    }

    /// <summary>Hands every reply it receives to the task that awaits it.</summary>
    private sealed class Inbox(System.Threading.Channels.ChannelWriter<object> replies) : UntypedActor
    {
        protected override void OnReceive(object message) => replies.TryWrite(message);
    }

    /// <summary>Waits until every node holds shards and no two differ by more than one; false if that did not happen.</summary>
    private static async Task<bool> AwaitBalancedAsync(FabricCluster cluster, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var shards = new List<int>();
            foreach (var node in cluster.Nodes.Where(n => n is not null))
            {
                var state = await ClusterSharding.Get(node!).ShardRegion(FabricCluster.TypeName)
                    .Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                shards.Add(state.Shards.Count);
            }
            if (shards.Min() > 0 && shards.Max() - shards.Min() <= 1) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>Counts, from now on, each time a node marks another unreachable (it missed its heartbeats).</summary>
    private static StrongBox WatchUnreachable(FabricCluster cluster)
    {
        var count = new StrongBox();
        foreach (var node in cluster.Nodes.Where(n => n is not null))
            node!.ActorOf(Props.Create(() => new UnreachableWatcher(count)), "bench-unreachable");
        return count;
    }

    private sealed class StrongBox
    {
        private int _value;
        public int Value => Volatile.Read(ref _value);
        public void Increment() => Interlocked.Increment(ref _value);
    }

    private sealed class UnreachableWatcher(StrongBox count) : UntypedActor
    {
        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember));

        protected override void OnReceive(object message)
        {
            if (message is ClusterEvent.UnreachableMember) count.Increment();
        }
    }

    /// <summary>Every node stops at once (a crash, as far as its peers can tell): what they log about each other is muted.</summary>
    private static async Task TearDownAsync(FabricCluster cluster)
    {
        NodeLogger.Muted = true;
        try { await cluster.DisposeAsync().ConfigureAwait(false); }
        finally { NodeLogger.Muted = false; }
    }

    /// <summary>Drains the recording log every 20 ms (so that the storm's events do not pile up) into
    /// <paramref name="moves"/>, keeping only the migrate events; a last drain once stopped.</summary>
    private static async Task PumpAsync(EventLog log, List<FabricEvent> moves, CancellationToken stop)
    {
        var batch = new List<FabricEvent>();
        while (true)
        {
            var stopping = stop.IsCancellationRequested;
            batch.Clear();
            log.Drain(batch);
            moves.AddRange(batch.Where(e => e.Ev == Ev.Migrate));
            if (stopping) return;
            try { await Task.Delay(20, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }
}
