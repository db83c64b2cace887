using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Protocols;

/// <summary>Messages of the sharded fabric: VMs are entities, addressed through their shard region by VM id.</summary>
public static class ClusterProtocol
{
    /// <summary>A message for VM <paramref name="VmId"/>, to whichever node runs it: one of the VM's front-door
    /// messages (<see cref="ApListProtocol.SetIrq"/>, <see cref="DeviceProtocol.Start"/>, <see cref="DeviceProtocol.Stop"/>,
    /// <see cref="MigrationProtocol.Migrate"/>).</summary>
    public sealed record VmEnvelope(int VmId, IWireMessage Message) : IWireMessage;

    /// <summary>Where does VM <paramref name="VmId"/> run? Answered with <see cref="Here"/> once the VM runs (after it
    /// has restored what it was handed, if anything): the host's way to know that every VM is up after a start, a leave
    /// or a loss.</summary>
    public sealed record Where(int VmId) : IWireMessage;
    /// <summary>VM <paramref name="VmId"/> runs on <paramref name="Node"/> (its address), in units of generation
    /// <paramref name="Generation"/>.</summary>
    public sealed record Here(int VmId, string Node, int Generation) : IWireMessage;

    /// <summary>The shard's stop message for a VM whose shard moves (rebalance, graceful leave): the VM saves itself into
    /// the store (a <see cref="Fabric.Actors.Vm.VmSnapshot"/>) and stops; the node that takes the shard restores it before it takes any
    /// message.</summary>
    public sealed record HandOff : ILocalMessage
    {
        public static readonly HandOff Instance = new();
    }
}
