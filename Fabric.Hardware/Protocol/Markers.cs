namespace Fabric.Hardware.Protocol;

/// <summary>A message that may cross nodes in a clustered fabric — to a VM through its shard region, or a reply back
/// from one. Each has a compact binary form (<c>Fabric.Actors.Cluster.FabricSerializer</c>, bound to this interface).</summary>
public interface IWireMessage;

/// <summary>A message between the units of one VM (DESIGN.md §6.3): the IRS slice, the VPEs, the AP list, the vCPUs, the
/// VM's devices and host scheduler. They always live together (a VM's units move together), so it is never serialized;
/// an actor interpreter delivers it as it is.</summary>
public interface IUnitMessage;
