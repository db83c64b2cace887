using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;

namespace Fabric.Actors;

/// <summary>What the host and the specs drive a fabric through, local (<see cref="FabricRuntime"/>) or sharded over a
/// cluster (<see cref="Cluster.FabricCluster"/>): every call reaches a VM through its front door, off the hot path.</summary>
public interface IFabric
{
    EventLog Log { get; }
    int VmCount { get; }
    /// <summary>kvm_set_irq from a device outside the scenario; an error for a VM that does not exist.</summary>
    string? Inject(int vm, uint spi, bool level, IActorRef? replyTo = null);
    /// <summary>Move VM <paramref name="vm"/> to fresh actors now; an error for a VM that does not exist.</summary>
    string? Migrate(int vm, IActorRef? replyTo = null);
    void StartDevices();
    void StopDevices();
    Task<bool> AwaitQuiescenceAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default);

    /// <summary>The error for an operation on a VM outside 0..<paramref name="vms"/>-1, or null.</summary>
    static string? MissingVm(string operation, int vm, int vms) =>
        vm < 0 || vm >= vms ? $"{operation}: VM {vm} does not exist (0..{vms - 1})" : null;
}
