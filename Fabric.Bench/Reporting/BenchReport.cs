using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fabric.Bench.Reporting;

/// <summary>The JSON the bench writes (<c>--json FILE</c>): the keys issue 6 asks for, and beside them what each figure was
/// measured on. Rates are per wall second; latencies in microseconds; null = not measured (the reason is beside it).</summary>
public sealed class BenchReport
{
    public string Command { get; set; } = "";
    public bool Quick { get; set; }
    public MachineInfo Machine { get; set; } = new();
    public double RawAkkaMessagesPerSecond { get; set; }
    public RawAkkaReport RawAkka { get; set; } = new();
    public List<StormRow> Storm { get; set; } = new();
    public List<BreakdownReport> MessageBreakdown { get; set; } = new();
    /// <summary>What the event log's one shared seq counter costs the storm: paired runs with and without it.</summary>
    public List<SeqCostRow> SeqCost { get; set; } = new();
    public ContentionReport? Contention { get; set; }
    public LatencyReport? Latency { get; set; }
    public List<MemoryRow> Memory { get; set; } = new();
    public MemoryBreakdown? MemoryBreakdown { get; set; }
    public ClusterReport? Cluster { get; set; }
    public List<TargetRow> Targets { get; set; } = new();
    /// <summary>Every invariant a run broke (fabric or baseline); empty when all held.</summary>
    public List<string> Failures { get; set; } = new();
    public double TotalSeconds { get; set; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);
}

public sealed class MachineInfo
{
    public int Cores { get; set; } = Environment.ProcessorCount;
    public string Os { get; set; } = System.Runtime.InteropServices.RuntimeInformation.OSDescription;
    public string Runtime { get; set; } = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
    public string Akka { get; set; } = typeof(Akka.Actor.ActorSystem).Assembly.GetName().Version?.ToString() ?? "";
    public int DispatcherThroughput { get; set; }
    public bool ServerGc { get; set; } = System.Runtime.GCSettings.IsServerGC;
    public double LoadAverageAtStart { get; set; }
}

public sealed class RawAkkaReport
{
    /// <summary>The limit: ping-pong, one message in flight per pair (the shape of the fabric's traffic).</summary>
    public int Pairs { get; set; }
    public int InFlightPerPair { get; set; }
    public double MessagesPerSecond { get; set; }
    /// <summary>The counting mailbox's count of the limit run against the messages the players received.</summary>
    public long CountedMessages { get; set; }
    public long DeliveredMessages { get; set; }
    /// <summary>Ping-pong with many messages in flight per pair: mailboxes full, Akka's batched ceiling.</summary>
    public int BatchedInFlightPerPair { get; set; }
    public int BatchedPairs { get; set; }
    public double BatchedMessagesPerSecond { get; set; }
    /// <summary>The limit run again with one shared Interlocked.Increment per message (the event log's seq counter).</summary>
    public double WithSharedAtomicMessagesPerSecond { get; set; }
}

public sealed class StormRow
{
    public int Vms { get; set; }
    public int VcpusPerVm { get; set; }
    public bool WfiWhenIdle { get; set; }
    public double FabricLifecyclesPerSecond { get; set; }
    public double MessagesPerLifecycle { get; set; }
    public double FabricMessagesPerSecond { get; set; }
    /// <summary>Events the fabric logged per lifecycle: each one increments the event log's one shared seq counter.</summary>
    public double FabricEventsPerLifecycle { get; set; }
    /// <summary>The share of the measured window the GC paused the fabric.</summary>
    public double FabricGcPauseFraction { get; set; }
    public double FabricOverLimit { get; set; }
    public double FabricOverBatchedCeiling { get; set; }
    public string BaselineVariant { get; set; } = "";
    public int? BaselineThreads { get; set; }
    public double? BaselineLifecyclesPerSecond { get; set; }
    public double? FabricOverBaseline { get; set; }
    public double? BaselineFoldStepsPerLifecycle { get; set; }
    public string? BaselineSkipped { get; set; }
    public string FabricCheck { get; set; } = "ok";
    public string BaselineCheck { get; set; } = "ok";
}

/// <summary>The storm (no WFI) at <see cref="Vms"/> VMs, its event log taking seq from the shared counter (the contract)
/// and not (a counting log with no order): <see cref="Rounds"/> pairs run back to back, each ratio without/with.</summary>
public sealed class SeqCostRow
{
    public int Vms { get; set; }
    public int Rounds { get; set; }
    public double SequencedLifecyclesPerSecond { get; set; }
    public double UnsequencedLifecyclesPerSecond { get; set; }
    /// <summary>Mean of the rounds' unsequenced/sequenced throughput: above 1 by what the counter costs.</summary>
    public double UnsequencedOverSequenced { get; set; }
    public List<double> RoundRatios { get; set; } = new();
    public double EventsPerSecond { get; set; }
}

public sealed class BreakdownReport
{
    public int Vms { get; set; }
    public bool WfiWhenIdle { get; set; }
    public double MessagesPerLifecycle { get; set; }
    public Dictionary<string, double> PerLifecycleByType { get; set; } = new();
}

public sealed class ContentionReport
{
    public int Vms { get; set; } = 1;
    public int Injectors { get; set; }
    public int InFlightSpis { get; set; }
    public double PushLifecyclesPerSecond { get; set; }
    public double FoldLifecyclesPerSecond { get; set; }
    public double BaselineLifecyclesPerSecond { get; set; }
    public int BaselineThreads { get; set; }
    public double PushNotifyLatencyMicrosP50 { get; set; }
    public double FoldNotifyLatencyMicrosP50 { get; set; }
    public double BaselineNotifyLatencyMicrosP50 { get; set; }
    public double PushNotifyLatencyMicrosP99 { get; set; }
    public double FoldNotifyLatencyMicrosP99 { get; set; }
    public double BaselineNotifyLatencyMicrosP99 { get; set; }
    public double PushMessagesPerLifecycle { get; set; }
    public double FoldMessagesPerLifecycle { get; set; }
    public double PushOverBaseline { get; set; }
    public double FoldOverBaseline { get; set; }
    public double BaselineFoldStepsPerLifecycle { get; set; }
    /// <summary>The merged design's locks (irq_lock only: no AP list, no fold, no notifier), the same threads.</summary>
    public double MergedBaselineLifecyclesPerSecond { get; set; }
    public double MergedOverBaseline { get; set; }
    /// <summary>The fabric under the merged design (<c>kvm = merged</c>), push tracking's wiring, the same 64 devices.</summary>
    public double FabricMergedLifecyclesPerSecond { get; set; }
    public double FabricMergedMessagesPerLifecycle { get; set; }
    public double FabricMergedOverBaseline { get; set; }
    /// <summary>The fabric under the merged design against the merged design's locks: the same design on both sides.</summary>
    public double FabricMergedOverMergedLocks { get; set; }
    public List<string> Checks { get; set; } = new();
}

public sealed class LatencyReport
{
    public double P50 { get; set; }
    public double P99 { get; set; }
    public double P999 { get; set; }
    public int Vms { get; set; }
    public bool WfiWhenIdle { get; set; } = true;
    public double ClosedLoopLifecyclesPerSecond { get; set; }
    public double OfferedPerSecond { get; set; }
    public double AchievedPerSecond { get; set; }
    public long Samples { get; set; }
}

public sealed class MemoryRow
{
    public int Vms { get; set; }
    public double BytesPerVm { get; set; }
    public double BuildSeconds { get; set; }
    /// <summary>Of the build: until every VM's actors exist and answered Created; the rest is the guests' boot messages.</summary>
    public double CreateSeconds { get; set; }
    /// <summary>The GC during the build: its total pause time, and its collections of each generation.</summary>
    public double GcPauseSeconds { get; set; }
    public int Gen0Collections { get; set; }
    public int Gen1Collections { get; set; }
    public int Gen2Collections { get; set; }
    public bool ServerGc { get; set; } = System.Runtime.GCSettings.IsServerGC;
    /// <summary>Background (concurrent) GC on: the latency mode is Interactive; off, it is Batch.</summary>
    public bool ConcurrentGc { get; set; } = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.Batch;
}

public sealed class MemoryBreakdown
{
    public int ActorsPerVm { get; set; }
    /// <summary>An empty actor on the fabric's settings (its linked mailbox), and on Akka's own unbounded mailbox.</summary>
    public double BytesPerEmptyActor { get; set; }
    public double BytesPerEmptyActorAkkaMailbox { get; set; }
    /// <summary>Akka's timer scheduler, made for every actor that declares IWithTimers, idle or not: a VM's VmActor only (its
    /// units' actors make their own timers when one first starts).</summary>
    public int TimerSchedulersPerVm { get; set; }
    public double BytesPerTimerScheduler { get; set; }
    public double HardwareStateBytesPerVm { get; set; }
    public double ActorBytesPerVm => ActorsPerVm * BytesPerEmptyActor;
}

/// <summary>(g) The fabric sharded over an in-process cluster against one local runtime, and the blackout of VM moves.
/// The first three keys are the ones issue 8 asks for; milliseconds for the moves.</summary>
public sealed class ClusterReport
{
    /// <summary>The closed-loop edge storm (no WFI) on <see cref="Vms"/> VMs in one local FabricRuntime.</summary>
    public double LocalLifecyclesPerSecond { get; set; }
    /// <summary>The same VMs and workload sharded over <see cref="Nodes"/> nodes of one in-process cluster.</summary>
    public double ShardedLifecyclesPerSecond { get; set; }
    /// <summary>The median blackout of a VM handed off from a node that leaves gracefully to another (its source's stop
    /// to its destination's run).</summary>
    public double MoveMillisP50 { get; set; }
    public double ShardedOverLocal { get; set; }
    public double MoveMillisP99 { get; set; }
    public double MoveMillisMax { get; set; }
    public int Moves { get; set; }
    /// <summary>Local moves (Migrate within one runtime), one at a time under the full storm, after the measured window.</summary>
    public double LocalMoveMillisP50 { get; set; }
    public double LocalMoveMillisP99 { get; set; }
    public double LocalMoveMillisMax { get; set; }
    public int LocalMoves { get; set; }
    public int Vms { get; set; }
    public int Nodes { get; set; }
    public int VcpusPerVm { get; set; }
    public double LocalMessagesPerLifecycle { get; set; }
    public double ShardedMessagesPerLifecycle { get; set; }
    /// <summary>Node index to VMs it ran in the sharded throughput run.</summary>
    public Dictionary<int, int> ShardedVmsPerNode { get; set; } = new();
    /// <summary>Whether every node held shards, none more than one more than another, when the measurement began.</summary>
    public bool ShardsBalanced { get; set; }
    /// <summary>From the nodes' start to the measurement: joined, VMs started and booted, shards balanced.</summary>
    public double ShardedStartSeconds { get; set; }
    /// <summary>How often a node marked another unreachable (missed heartbeats) during the sharded run; 0 expected.</summary>
    public int ShardedUnreachable { get; set; }
    /// <summary>The leave: VMs in the cluster, the paced storm they ran, VMs on the leaving node, how long the leave took.</summary>
    public int LeaveVms { get; set; }
    public double LeaveEdgesPerSpiPerSecond { get; set; }
    public int LeavingNodeVms { get; set; }
    public double LeaveSeconds { get; set; }
    public Dictionary<int, int> VmsPerNodeAfterLeave { get; set; } = new();
    public int LeaveUnreachable { get; set; }
    public List<string> Checks { get; set; } = new();
}

public sealed class TargetRow
{
    public string Target { get; set; } = "";
    public bool Met { get; set; }
    public string Reached { get; set; } = "";
}
