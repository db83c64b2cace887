using Akka.Cluster.Sharding;
using Fabric.Actors.Protocols;

namespace Fabric.Actors.Cluster;

/// <summary>The one extractor of both modes (local: <c>GenericChildPerEntityParent</c>; clustered: the shard region):
/// entity id = VM id, shards by its hash.</summary>
public sealed class VmMessageExtractor(int maxShards) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => message switch
    {
        ClusterProtocol.VmEnvelope e => e.VmId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null,
    };

    public override object? EntityMessage(object message) => message is ClusterProtocol.VmEnvelope e ? e.Message : message;
}
