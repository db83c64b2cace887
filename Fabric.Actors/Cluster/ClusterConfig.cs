using Akka.Configuration;

namespace Fabric.Actors.Cluster;

/// <summary>The HOCON a clustered fabric adds to Akka's settings.</summary>
public static class ClusterConfig
{
    /// <summary>Every <see cref="Protocols.IWireMessage"/> is written by <see cref="FabricSerializer"/> (its identifier,
    /// <see cref="FabricSerializer.Id"/>, is the serializer's own, so it needs no <c>serialization-identifiers</c>
    /// entry). <see cref="Protocols.ILocalMessage"/>s are never serialized, so they need no binding. Merge it over the
    /// system's config: <c>ClusterConfig.Serialization.WithFallback(config)</c>.</summary>
    public static readonly Config Serialization = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers {
            fabric = "Fabric.Actors.Cluster.FabricSerializer, Fabric.Actors"
          }
          serialization-bindings {
            "Fabric.Actors.Protocols.IWireMessage, Fabric.Actors" = fabric
          }
        }
        """);
}
