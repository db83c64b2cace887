using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;

namespace Fabric.Actors.Cluster;

/// <summary>
/// The fabric over Akka.Cluster.Sharding: every VM is an entity (entity id = VM id, <see cref="VmMessageExtractor"/>)
/// whose interrupt actors and drivers live together on one node; the host reaches a VM only through a shard region. A
/// shard that moves (a rebalance, a graceful leave) hands each VM off with its state; a node that is lost loses its VMs,
/// which are reported and recreated empty. Here all nodes run in this process on 127.0.0.1 (port 0) and share one
/// event log, so one checker sees the whole fabric; <see cref="NodeConfig"/> serves a node of a multi-process cluster.
/// </summary>
public sealed class FabricCluster : IFabric, IAsyncDisposable
{
    public const string TypeName = "vm";
    private readonly List<ActorSystem?> _nodes = new();
    private readonly List<IActorRef> _regions = new();
    private readonly int _vms;
    private readonly VmSpec _spec;
    private readonly Config _config;

    private FabricCluster(int vms, VmSpec spec, EventLog log, Config config)
    {
        _vms = vms;
        _spec = spec;
        Log = log;
        _config = config;
    }

    public EventLog Log { get; }
    private bool _external;

    /// <summary>The address of node <paramref name="node"/>, for other processes to join (<c>--seed-nodes</c>).</summary>
    public string AddressOf(int node) => Akka.Cluster.Cluster.Get(_nodes[node] ?? throw new InvalidOperationException($"node {node} is not running")).SelfAddress.ToString();
    public int VmCount => _vms;

    /// <summary>The nodes, in start order; a node that left or was killed is null.</summary>
    public IReadOnlyList<ActorSystem?> Nodes => _nodes;

    /// <summary>A node of the sharded fabric: the cluster provider on 127.0.0.1 (port 0 unless given), VMs remembered (a
    /// handed-off or lost VM starts again on its new node by itself), the store and remember keys in memory only, and
    /// the wire serializer. <paramref name="overrides"/> (e.g. a scenario's akka section) take precedence.</summary>
    public static Config NodeConfig(int port = 0, Config? overrides = null) =>
        (overrides ?? Config.Empty)
            .WithFallback(ConfigurationFactory.ParseString(FormattableString.Invariant($$"""
                akka.actor.provider = cluster
                akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{port}} }
                akka.cluster.sharding {
                  remember-entities = on
                  remember-entities-store = ddata
                  state-store-mode = ddata
                  distributed-data.durable.keys = []
                  rebalance-interval = 2s
                  # The coordinator's state and the remembered VMs are written to a plain majority. Akka's defaults ask
                  # for a majority plus 3, and for every node below 5: a node that leaves or crashes then holds up each
                  # write until it is removed (5 s of retries after a leave in a three-node cluster).
                  coordinator-state.write-majority-plus = 0
                  distributed-data.majority-min-cap = 0
                }
                akka.cluster.distributed-data.durable.keys = []
                # A node is marked unreachable after 10 s without a heartbeat: nodes in one process share its thread
                # pool, which a storm keeps full, and their heartbeats can wait seconds behind the VMs' work (Akka's
                # 3 s is for nodes with cores of their own); a slow node must not be taken for a dead one. A node
                # killed in process is downed at once (KillAsync); a crashed process is noticed after those 10 s.
                akka.cluster.failure-detector.acceptable-heartbeat-pause = 10s
                # A node that stays unreachable for 2 s more is downed by the split-brain resolver (keep-majority): a
                # crashed node's VMs are recreated elsewhere.
                akka.cluster.split-brain-resolver.stable-after = 2s
                # A node stopped by Terminate is a crash (nothing handed off); a graceful leave is Cluster.Leave.
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                akka.loglevel = WARNING
                """)))
            .WithFallback(ClusterConfig.Serialization)
            // Every node knows every serializer from its start, before it calls ClusterSharding.Get: its peers' first
            // messages may arrive sooner.
            .WithFallback(ClusterSharding.DefaultConfig())
            .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.Singleton.ClusterSingleton.DefaultConfig());

    /// <summary>Starts <paramref name="nodes"/> nodes in this process, joins them into one cluster, waits until every one
    /// is Up, and starts the VMs' shard region on each (VM v is built from <paramref name="spec"/> with seed + v); then
    /// asks every VM where it runs, which creates it, and waits for every answer.</summary>
    public static async Task<FabricCluster> StartAsync(int nodes, int vms, VmSpec spec, EventLog log, Config? overrides = null,
        string systemName = "fabric", TimeSpan? timeout = null) =>
        await StartAsync(nodes, vms, spec, log, seedNodes: null, port: 0, overrides, systemName, timeout).ConfigureAwait(false);

    /// <summary>As above; with <paramref name="seedNodes"/> (addresses such as <c>akka.tcp://fabric@10.0.0.5:2551</c>) this
    /// process's nodes join a cluster that runs elsewhere — other processes, each with its own event log — and the first
    /// listens on <paramref name="port"/> (0: any). Disposing such a cluster leaves it gracefully, so that the VMs this
    /// process runs are handed off to the others.</summary>
    public static async Task<FabricCluster> StartAsync(int nodes, int vms, VmSpec spec, EventLog log, IReadOnlyList<string>? seedNodes, int port,
        Config? overrides = null, string systemName = "fabric", TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        var wait = timeout ?? TimeSpan.FromSeconds(60);
        var c = new FabricCluster(vms, spec, log, NodeConfig(0, overrides)) { _external = seedNodes is { Count: > 0 } };
        var systems = Enumerable.Range(0, nodes).Select(n => ActorSystem.Create(systemName, n == 0 ? NodeConfig(port, overrides) : c._config)).ToArray();
        var seed = c._external ? Address.Parse(seedNodes![0]) : Akka.Cluster.Cluster.Get(systems[0]).SelfAddress;
        var joinWait = c._external && wait > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : wait;
        try
        {
            await Task.WhenAll(systems.Select(s => JoinAsync(s, seed, joinWait))).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var s in systems) await s.Terminate().ConfigureAwait(false);
            throw new TimeoutException($"could not join the cluster at {seed} within {joinWait.TotalSeconds:F0} s: is a node of system '{systemName}' listening there?");
        }
        foreach (var s in systems) await c.StartRegionAsync(s).ConfigureAwait(false);
        if (!c._external) await c.AwaitRegionsAsync(wait).ConfigureAwait(false);
        await c.AwaitVmsAsync(wait).ConfigureAwait(false);
        return c;
    }

    private static Task JoinAsync(ActorSystem system, Address seed, TimeSpan timeout)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        cluster.Join(seed);
        return up.Task.WaitAsync(timeout);
    }

    /// <summary>This node's store and its shard region of VMs.</summary>
    private async Task StartRegionAsync(ActorSystem system)
    {
        var store = system.ActorOf(VmStoreActor.Props(TimeSpan.FromSeconds(5)), "vm-store");
        var sharding = ClusterSharding.Get(system);
        var settings = ClusterShardingSettings.Create(system);
        var region = await sharding.StartAsync(TypeName,
            id => VmEntityActor.Props(int.Parse(id, System.Globalization.CultureInfo.InvariantCulture), SpecOf(int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)), Log, store),
            settings, new VmMessageExtractor(MaxShards(_vms)), sharding.DefaultShardAllocationStrategy(settings), ClusterProtocol.HandOff.Instance).ConfigureAwait(false);
        _nodes.Add(system);
        _regions.Add(region);
    }

    /// <summary>Waits until every VM runs on some node — started, and done restoring whatever it was handed: at the start,
    /// and after a node left or was lost. Each VM is asked where it runs (which starts it if it is not running: the
    /// coordinator gives its shard a home) until it answers; no Ask, a collector completes a task.</summary>
    private async Task AwaitVmsAsync(TimeSpan timeout)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var system = _nodes.First(n => n is not null)!;
        var collector = system.ActorOf(Props.Create(() => new WhereCollector(Region, _vms, done)));
        try
        {
            await done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the cluster did not run its {_vms} VMs within {timeout}");
        }
        finally
        {
            system.Stop(collector);
        }
    }

    /// <summary>Asks every VM where it runs, again every half second until it has answered.</summary>
    private sealed class WhereCollector(IActorRef region, int vms, TaskCompletionSource done) : UntypedActor, IWithTimers
    {
        private readonly HashSet<int> _waiting = [.. Enumerable.Range(0, vms)];

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart()
        {
            Ask();
            Timers.StartPeriodicTimer("again", "again", TimeSpan.FromMilliseconds(500));
        }

        private void Ask()
        {
            foreach (var vm in _waiting) region.Tell(new ClusterProtocol.VmEnvelope(vm, new ClusterProtocol.Where(vm)));
            if (_waiting.Count == 0) done.TrySetResult();
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case ClusterProtocol.Here h:
                    if (_waiting.Remove(h.VmId) && _waiting.Count == 0) done.TrySetResult();
                    break;
                case "again":
                    Ask();
                    break;
            }
        }
    }

    private VmSpec SpecOf(int vm) => _spec with { Seed = _spec.Seed + vm };

    /// <summary>Ten shards per node of a three-node cluster, never more than VMs.</summary>
    public static int MaxShards(int vms) => Math.Clamp(vms, 1, 30);

    private IActorRef Region => _regions[_nodes.FindIndex(n => n is not null)];

    private string? Missing(string operation, int vm) => IFabric.MissingVm(operation, vm, _vms);

    /// <summary>A device outside the scenario drives an SPI line of VM <paramref name="vm"/>, wherever it runs.</summary>
    public string? Inject(int vm, uint spi, bool level, IActorRef? replyTo = null)
    {
        if (Missing("kvm_set_irq", vm) is { } error) return error;
        Region.Tell(new ClusterProtocol.VmEnvelope(vm, new ApListProtocol.SetIrq(spi, level)), replyTo ?? ActorRefs.NoSender);
        return null;
    }

    /// <summary>Move VM <paramref name="vm"/> to fresh actors on its node now.</summary>
    public string? Migrate(int vm, IActorRef? replyTo = null)
    {
        if (Missing("migrate", vm) is { } error) return error;
        Region.Tell(new ClusterProtocol.VmEnvelope(vm, new MigrationProtocol.Migrate(vm)), replyTo ?? ActorRefs.NoSender);
        return null;
    }

    /// <summary>Every VM starts (the region creates it where its shard lives) and its devices start.</summary>
    public void StartDevices()
    {
        for (var vm = 0; vm < _vms; vm++) Region.Tell(new ClusterProtocol.VmEnvelope(vm, DeviceProtocol.Start.Instance));
    }

    public void StopDevices()
    {
        for (var vm = 0; vm < _vms; vm++) Region.Tell(new ClusterProtocol.VmEnvelope(vm, DeviceProtocol.Stop.Instance));
    }

    /// <summary>Node <paramref name="node"/> leaves gracefully: its shards, and every VM in them, are handed off to the
    /// other nodes; completes when the node has left and stopped and every VM runs again somewhere.</summary>
    public async Task LeaveAsync(int node, TimeSpan? timeout = null)
    {
        var system = _nodes[node] ?? throw new InvalidOperationException($"node {node} is not running");
        await Akka.Cluster.Cluster.Get(system).LeaveAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await system.WhenTerminated.WaitAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        _nodes[node] = null;
        if (_nodes.Any(n => n is not null)) await AwaitVmsAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
    }

    /// <summary>Waits until every VM runs somewhere (after another process's node joined, left or was lost).</summary>
    public Task AwaitVmsRunningAsync(TimeSpan timeout) => AwaitVmsAsync(timeout);

    /// <summary>Node <paramref name="node"/> crashes: it stops at once, handing nothing off; a surviving node downs it,
    /// and its shards start again elsewhere, where its VMs find they were lost; completes when every VM runs again.</summary>
    public async Task KillAsync(int node, TimeSpan? timeout = null)
    {
        var system = _nodes[node] ?? throw new InvalidOperationException($"node {node} is not running");
        var address = Akka.Cluster.Cluster.Get(system).SelfAddress;
        _nodes[node] = null;
        await system.Terminate().WaitAsync(timeout ?? TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var survivor = _nodes.First(n => n is not null)!;
        Akka.Cluster.Cluster.Get(survivor).Down(address);
        await AwaitVmsAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
    }

    /// <summary>How many VMs each live node runs now (node index to count), from its region's state.</summary>
    public async Task<IReadOnlyDictionary<int, int>> VmsPerNodeAsync(TimeSpan? timeout = null)
    {
        var counts = new Dictionary<int, int>();
        for (var n = 0; n < _nodes.Count; n++)
        {
            if (_nodes[n] is not { } system) continue;
            var state = await ReplyAsync<CurrentShardRegionState>(system, _regions[n], GetShardRegionState.Instance, timeout).ConfigureAwait(false);
            counts[n] = state.Shards.Sum(s => s.EntityIds.Count);
        }
        return counts;
    }

    /// <summary>Waits until the coordinator knows every live node's region, so that the VMs' shards spread over all of them.</summary>
    private async Task AwaitRegionsAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var live = _nodes.Count(n => n is not null);
        while (true)
        {
            var system = _nodes.First(n => n is not null)!;
            var known = 0;
            try
            {
                known = (await ReplyAsync<CurrentRegions>(system, Region, GetCurrentRegions.Instance, TimeSpan.FromSeconds(5)).ConfigureAwait(false)).Regions.Count;
                if (known >= live) return;
            }
            catch (TimeoutException)
            {
                // The coordinator is busy (a loaded node): ask again.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {known} of {live} shard regions registered within {timeout}");
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>The first <typeparamref name="T"/> that <paramref name="target"/> answers to <paramref name="message"/>. No
    /// Ask: a small actor sends the message and completes a task with the answer. Off every hot path.</summary>
    private static async Task<T> ReplyAsync<T>(ActorSystem system, IActorRef target, object message, TimeSpan? timeout)
    {
        var answer = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = system.ActorOf(Props.Create(() => new Listener<T>(target, message, answer)));
        try
        {
            return await answer.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        finally
        {
            system.Stop(listener);
        }
    }

    private sealed class Listener<T>(IActorRef target, object message, TaskCompletionSource<T> answer) : UntypedActor
    {
        protected override void PreStart() => target.Tell(message);

        protected override void OnReceive(object reply)
        {
            if (reply is T t) answer.TrySetResult(t);
        }
    }

    /// <summary>Waits until nothing has been logged anywhere for <paramref name="quiet"/>; false on timeout.</summary>
    public Task<bool> AwaitQuiescenceAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default) =>
        Quiescence.AwaitAsync(Log, quiet, timeout, ct);

    /// <summary>Stops every node of this process: at once (a cluster that lives in this process), or by a graceful leave
    /// when it joined others, whose VMs must then be handed off to them.</summary>
    public async ValueTask DisposeAsync()
    {
        for (var n = 0; n < _nodes.Count; n++)
        {
            if (_nodes[n] is not { } node) continue;
            if (_external)
            {
                try { await LeaveAsync(n, TimeSpan.FromSeconds(60)).ConfigureAwait(false); continue; }
                catch (TimeoutException) { /* the others are gone too: stop as below */ }
            }
            await node.Terminate().ConfigureAwait(false);
        }
        _nodes.Clear();
    }
}
