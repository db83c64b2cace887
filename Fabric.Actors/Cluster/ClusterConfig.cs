using Fabric.Hardware.Protocol;
using Akka.Configuration;

namespace Fabric.Actors.Cluster;

/// <summary>The HOCON a clustered fabric adds to Akka's settings.</summary>
public static class ClusterConfig
{
    /// <summary>Every <see cref="Fabric.Hardware.Protocol.IWireMessage"/> is written by <see cref="FabricSerializer"/> (its identifier,
    /// <see cref="FabricSerializer.Id"/>, is the serializer's own, so it needs no <c>serialization-identifiers</c>
    /// entry). <see cref="Protocols.ILocalMessage"/>s and a VM's <see cref="Fabric.Hardware.Protocol.IUnitMessage"/>s stay on their node, so they need no binding. Merge it over the
    /// system's config: <c>ClusterConfig.Serialization.WithFallback(config)</c>.</summary>
    public static readonly Config Serialization = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers {
            fabric = "Fabric.Actors.Cluster.FabricSerializer, Fabric.Actors"
          }
          serialization-bindings {
            "Fabric.Hardware.Protocol.IWireMessage, Fabric.Hardware" = fabric
          }
        }
        """);
}
