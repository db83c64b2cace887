namespace Fabric.Actors.Protocols;

/// <summary>A message that may cross nodes in a clustered fabric — to a VM through its shard region, or a reply back
/// from one. Each has a compact binary form (<c>Fabric.Actors.Cluster.FabricSerializer</c>, bound to this interface).</summary>
public interface IWireMessage;

/// <summary>A message between the units of one VM, or between a VM and its own drivers: they always live on the same
/// node (a VM's interrupt actors move together), so it is never serialized — nor verified under
/// <c>akka.actor.serialize-messages = on</c>.</summary>
public interface ILocalMessage : Akka.Actor.INoSerializationVerificationNeeded;
