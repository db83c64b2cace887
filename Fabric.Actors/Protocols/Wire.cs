namespace Fabric.Actors.Protocols;

// IWireMessage (cluster-crossing) and IUnitMessage (between a VM's units) live in Fabric.Hardware.Protocol, beside the
// unit messages they mark.

/// <summary>A message between the units of one VM, or between a VM and its own drivers: they always live on the same
/// node (a VM's interrupt actors move together), so it is never serialized — nor verified under
/// <c>akka.actor.serialize-messages = on</c>.</summary>
public interface ILocalMessage : Akka.Actor.INoSerializationVerificationNeeded;
