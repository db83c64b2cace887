using System.Text.Json;
using System.Text.Json.Serialization;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Host.Scenarios;

namespace Fabric.Host.Reporting;

/// <summary>Latency percentiles in microseconds (HdrHistogram, 3 significant digits). <see cref="Count"/> is the number
/// of samples; it is shown in the table, not part of DESIGN.md §5's JSON.</summary>
public sealed record LatencySummary(double P50, double P90, double P99, double P999, double Max, [property: JsonIgnore] long Count);

public sealed record ViolationReport(string Invariant, int Vm, int? Vpe, string? Intid, string Message)
{
    public static ViolationReport From(Violation v) => new(v.Invariant, v.Vm, v.Vpe, v.IntId?.ToString(), v.Message);
}

public sealed record InvariantsReport(IReadOnlyList<string> Checked, IReadOnlyList<ViolationReport> Violations);

/// <summary>
/// The report of DESIGN.md §5, key for key, plus Fabric's extensions, <c>kvm</c> (right after <c>seed</c>: the KVM
/// design that ran, <c>ap-list</c> or <c>merged</c>, DESIGN.md §6.2), <c>exits</c> and <c>migrations</c> (right after
/// <c>residencyChanges</c>), the cluster's <c>nodes</c>, <c>vmsPerNode</c>, <c>handoffs</c> and <c>lostVms</c> (right
/// after <c>migrations</c>) and <c>notifyLatencyMicros</c>: written by <c>--report</c> and printed as a table.
/// <c>vcpus</c> is the total over all VMs; <c>throughputPerSecond</c> is acknowledged interrupts per wall second from
/// the first injection to the last event; <c>latencyMicros</c> runs from a device's trigger to the guest's acknowledge,
/// <c>notifyLatencyMicros</c> from a tracked SPI's deactivation to its notifier. <c>exits</c> counts the vCPUs' exits to
/// KVM (the log's <c>exit</c> events: trap exits at <c>vcpu.exits-per-second</c>, WFI and preemption puts). <c>migrations</c> counts the log's
/// <c>migrate</c> events: live moves of a VM to fresh actors (scenario key <c>migrate</c>), one per move, and the
/// handoffs. <c>nodes</c> is how many nodes the VMs were sharded over (<c>fabric.cluster</c>; 1 for the local fabric);
/// <c>vmsPerNode</c> maps each node still up at the end (its index, as a string) to the VMs it runs then (the local
/// fabric: <c>{"0": vms}</c>); <c>handoffs</c> counts the <c>migrate</c> events whose arg ends in <c>handoff</c>, VMs
/// moved with their state to another node (a graceful leave, a rebalance); <c>lostVms</c> counts the <c>lost</c>
/// events, VMs whose node crashed (recreated empty; what they held is not owed, and they are checked afresh).
/// <c>drained</c> (right after <c>apListAtEnd</c>) is whether the fabric went quiet after the devices stopped, within the
/// drain timeout; <c>interrupted</c> whether a shutdown request (Ctrl-C, SIGTERM) came before the run ended — a drain
/// it cut short is <c>"drained": false, "interrupted": true</c>, and its end-of-run figures are not a verdict on a
/// finished run.
/// </summary>
public sealed record RunReport(
    string Scenario,
    long Seed,
    string Kvm,
    int Vms,
    int Vcpus,
    long Injected,
    long Coalesced,
    long Acknowledged,
    long Deactivated,
    long Notified,
    long Resampled,
    long Doorbells,
    long ResidencyChanges,
    long Exits,
    long Migrations,
    int Nodes,
    IReadOnlyDictionary<string, int> VmsPerNode,
    long Handoffs,
    long LostVms,
    long PendingAtEnd,
    long ApListAtEnd,
    bool Drained,
    bool Interrupted,
    InvariantsReport Invariants,
    double ElapsedSeconds,
    double ThroughputPerSecond,
    LatencySummary LatencyMicros,
    LatencySummary NotifyLatencyMicros,
    string Replay)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The report of a finished run.</summary>
    /// <param name="s">The scenario that ran.</param>
    /// <param name="checker">The checker that consumed the run's events.</param>
    /// <param name="violations">The invariants violated, at the end and during the run.</param>
    /// <param name="b">The counts, latencies and timings gathered during the run.</param>
    /// <param name="vmsPerNode">Node index to the VMs it runs at the end; null for the local fabric (all on node 0).</param>
    /// <param name="drained">Whether the drain ended with nothing in flight.</param>
    /// <param name="interrupted">Whether a shutdown request stopped the run or cut its drain.</param>
    public static RunReport From(Scenario s, InvariantChecker checker, IReadOnlyList<Violation> violations, ReportBuilder b,
        IReadOnlyDictionary<int, int>? vmsPerNode = null, bool drained = true, bool interrupted = false)
    {
        var elapsed = b.ElapsedSeconds;
        var perNode = (vmsPerNode ?? new Dictionary<int, int> { [0] = s.Vms })
            .OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value);
        return new RunReport(s.Name, s.Seed, Fabric.Hardware.Kvm.KvmDesignRules.Name(s.Vm.Policies.Kvm), s.Vms, s.TotalVcpus,
            checker.Injected, checker.Coalesced, checker.Acknowledged, checker.Deactivated, checker.Notified,
            checker.Resampled, checker.Doorbells, checker.ResidencyChanges, b.Exits, checker.Migrations,
            s.Cluster?.Nodes ?? 1, perNode, b.Handoffs, checker.LostVms,
            checker.PendingNow, checker.TrackedNow, drained, interrupted,
            new InvariantsReport(InvariantChecker.All, violations.Select(ViolationReport.From).ToArray()),
            Math.Round(elapsed, 6), elapsed > 0 ? Math.Round(checker.Acknowledged / elapsed, 1) : 0,
            ReportBuilder.Summarise(b.Latency), ReportBuilder.Summarise(b.NotifyLatency), s.ReplayCommand);
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public async Task WriteAsync(string path)
    {
        await File.WriteAllTextAsync(path, ToJson() + Environment.NewLine).ConfigureAwait(false);
    }
}
