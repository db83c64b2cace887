using Fabric.Hardware.Protocol;
using Fabric.Actors.Vm;

namespace Fabric.Host.Scenarios;

/// <summary>A validated scenario: the VMs to build, when to stop, and where it came from (for the replay command).
/// <paramref name="File"/> is null for the embedded default scenario; <paramref name="Sets"/> are the <c>--set</c>
/// overrides it was loaded with.</summary>
public sealed record Scenario(
    string Name,
    long Seed,
    int Vms,
    VmSpec Vm,
    long StopAfterInjections,
    TimeSpan StopAfterDuration,
    string? File,
    IReadOnlyList<string>? Sets = null)
{
    /// <summary>How long the drain may take after injection stops before the run is declared not drained
    /// (<c>stop-after.drain-timeout</c>).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The VMs sharded over a cluster of nodes in this process (<c>fabric.cluster</c> with <c>enabled = on</c>,
    /// or <c>--nodes N</c>); null for the local fabric.</summary>
    public ClusterSpec? Cluster { get; init; }

    /// <summary>The <c>--nodes</c> the scenario was loaded with, repeated by the replay command.</summary>
    public int? NodesOption { get; init; }

    /// <summary>How deliveries are ordered (<c>schedule</c>, DESIGN.md §6.5): the actor system's threads, or the
    /// deterministic schedule (one thread, the seed choosing every delivery, virtual time).</summary>
    public bool Deterministic { get; init; }

    /// <summary>The steps of a directed scenario (DESIGN.md §6.4, <c>fabric.scenario.steps</c>); null for a storm.</summary>
    public Steps.DirectedScenario? Directed { get; init; }

    public int TotalVcpus => Vms * Vm.Vcpus;

    /// <summary>Above this many timer firings a second in all, a scenario is warned about (see <see cref="TimerFiringsPerSecond"/>).</summary>
    public const double TimerFiringsWarning = 100_000;

    /// <summary>
    /// How many times a second the scenario's timers fire in all: device rates, vCPU exits, guest reprogramming and
    /// IPIs, host preemption, periodic migrations. Each firing is a message through Akka's scheduler and a mailbox. Far
    /// beyond what one machine delivers, they arrive late and in bursts, and a backlog of timer messages that change
    /// nothing (an exit tick for a sleeping vCPU) can hide real work from the drain.
    /// </summary>
    public double TimerFiringsPerSecond
    {
        get
        {
            var v = Vm;
            var lpis = v.Interrupts.Any(i => i.Ids.Type == Fabric.Hardware.Interrupts.IntIdType.Lpi);
            var perVm = v.Vcpus * (v.Vcpu.ExitsPerSecond + v.Guest.ReprogramPerSecond + (lpis ? v.Guest.IpiPerSecond : 0))
                        + v.Host.PreemptPerSecond
                        + v.Devices.Where(d => d.Rate > 0).Sum(d => d.Rate * d.Ids.Count);
            var moves = v.Migration is { Every: var every } m && every > TimeSpan.Zero ? (m.Vms?.Count ?? Vms) / every.TotalSeconds : 0;
            return perVm * Vms + moves;
        }
    }

    /// <summary>The <c>migrate</c> block as <c>run</c> and <c>validate</c> print it ("migrate every 500ms, at 1s, VMs 0
    /// 2"); null when no VM moves.</summary>
    public string? MigrationSummary => Vm.Migration is not { } m || (m.Every <= TimeSpan.Zero && m.At.Count == 0) ? null
        : "migrate" + (m.Every > TimeSpan.Zero ? " every " + ScenarioLoader.Show(m.Every) : "")
                    + (m.At.Count > 0 ? (m.Every > TimeSpan.Zero ? "," : "") + " at " + string.Join(" ", m.At.Select(ScenarioLoader.Show)) : "")
                    + ", VMs " + (m.Vms is { } vms ? string.Join(" ", vms) : "all");

    /// <summary>The <c>fabric.cluster</c> block as <c>run</c> and <c>validate</c> print it ("3 nodes, node 2 leaves at
    /// 1500ms"); null for the local fabric.</summary>
    public string? ClusterSummary => Cluster is not { } c ? null
        : (c.Nodes == 1 ? "1 node" : $"{c.Nodes} nodes") + string.Concat(c.Exits.Select(x => ", " + x));

    /// <summary>The command that runs this scenario again with the same seed, hence the same injection schedule, and under
    /// the same KVM design, named even when the file chose it (<c>--set kvm=...</c>, unless a <c>--set</c> already does).</summary>
    public string ReplayCommand
    {
        get
        {
            var design = (Sets ?? []).Any(s => s.Replace(" ", "", StringComparison.Ordinal).StartsWith("kvm=", StringComparison.Ordinal))
                ? "" : " --set kvm=" + Fabric.Hardware.Kvm.KvmDesignRules.Name(Vm.Policies.Kvm);
            var cmd = "dotnet run --project Fabric.Host --" + (File is null ? "" : " run " + Quote(File)) + $" --seed {Seed}";
            foreach (var s in Sets ?? []) cmd += " --set " + Quote(s);
            cmd += design;
            if (NodesOption is { } n) cmd += $" --nodes {n}";
            return cmd;
        }
    }

    private static string Quote(string s) => s.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '`' or '[' or '{' or '*')
        ? "'" + s.Replace("'", "'\\''") + "'"
        : s;
}

/// <summary>
/// <c>fabric.cluster</c> when enabled: the VMs sharded over <paramref name="Nodes"/> nodes (Akka.Cluster.Sharding), all in
/// this process; node 0 is the seed and the driver. <paramref name="Exits"/> are the nodes that leave or crash, in the
/// order they happen (by time; at one time, leaves before kills, each list in the order written).
/// </summary>
public sealed record ClusterSpec(int Nodes, IReadOnlyList<NodeExit> Exits)
{
    public const int MaxNodes = 16;

    /// <summary><c>--seed-nodes</c>: this process's nodes join a cluster that runs in other processes (empty: the whole
    /// cluster is in this process). Each process checks what its own log saw.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary><c>--port</c>: where this process's first node listens, so that other processes can join it (0: any).</summary>
    public int Port { get; init; }
}

/// <summary>How a node goes: <see cref="Leave"/>, gracefully (its VMs are handed off with their state to the other
/// nodes); <see cref="Kill"/>, a crash (its VMs are lost: reported and recreated empty elsewhere).</summary>
public enum NodeExitKind { Leave, Kill }

/// <summary>Node <paramref name="Node"/> leaves or is killed <paramref name="At"/> after the devices start.</summary>
public sealed record NodeExit(int Node, TimeSpan At, NodeExitKind Kind)
{
    public override string ToString() => $"node {Node} {(Kind == NodeExitKind.Leave ? "leaves" : "killed")} at {ScenarioLoader.Show(At)}";
}

/// <summary>Bad input: names the file, the HOCON path and what was expected. Exit code 2.</summary>
public sealed class ScenarioException(IReadOnlyList<string> errors) : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
