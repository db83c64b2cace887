using Fabric.Hardware.Protocol;
using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace Fabric.Specs.Cluster;

/// <summary>
/// <c>serialize-messages = on</c> serializes every message an actor sends, local ones included, unless its type says it
/// needs no check. A few of Akka's own messages never leave their node yet do not say so (DistributedData's
/// ReadRepair, the cluster's ReachabilityChanged event); Akka's fallback JSON serializer cannot write them, and the
/// check drops them. For the specs' strict mode only, they are bound to this serializer, which hands the object back
/// as it is. Fabric's messages between a VM's units (IUnitMessage, defined in Fabric.Hardware, which knows no Akka) are
/// bound here too: they never leave their node either. The rest of Fabric's messages are IWireMessage (the Protobuf
/// serializer) or ILocalMessage (no check).
/// </summary>
public sealed class AkkaLocalMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly ConcurrentDictionary<long, object> Objects = new();
    private static long _next;

    public override int Identifier => 7499;

    public override string Manifest(object o) => "L";

    public override byte[] ToBinary(object obj)
    {
        var id = Interlocked.Increment(ref _next);
        Objects[id] = obj;
        return BitConverter.GetBytes(id);
    }

    public override object FromBinary(byte[] bytes, string manifest) =>
        Objects.TryRemove(BitConverter.ToInt64(bytes), out var o) ? o : throw new System.Runtime.Serialization.SerializationException("not a local message of this process");

    /// <summary>Every message checked (<c>serialize-messages = on</c>), Akka's local-only messages as they are.</summary>
    public static readonly Config Strict = ConfigurationFactory.ParseString("""
        akka.actor.serialize-messages = on
        akka.actor.serializers.akka-local = "Fabric.Specs.Cluster.AkkaLocalMessageSerializer, Fabric.Specs"
        akka.actor.serialization-bindings {
          "Akka.DistributedData.Internal.ReadRepair, Akka.DistributedData" = akka-local
          "Akka.Cluster.ClusterEvent+ReachabilityChanged, Akka.Cluster" = akka-local
          "Fabric.Hardware.Protocol.IUnitMessage, Fabric.Hardware" = akka-local
        }
        """);
}
