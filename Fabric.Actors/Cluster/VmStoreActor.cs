using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Fabric.Actors.Protocols;

namespace Fabric.Actors.Cluster;

/// <summary>
/// One per node: the VMs' snapshots in Akka.DistributedData (one last-writer-wins register per VM), written and read by
/// a majority of the nodes, so the node that takes a shard reads what the node that gave it up wrote, whichever nodes
/// those are. Off every interrupt's hot path: a VM uses it when it starts and when it is handed off.
/// </summary>
public sealed class VmStoreActor : UntypedActor
{
    private readonly IActorRef _replicator;
    private readonly UniqueAddress _self;
    private readonly TimeSpan _timeout;

    public VmStoreActor(TimeSpan timeout)
    {
        var ddata = DistributedData.Get(Context.System);
        _replicator = ddata.Replicator;
        _self = Akka.Cluster.Cluster.Get(Context.System).SelfUniqueAddress;
        _timeout = timeout;
    }

    public static Props Props(TimeSpan timeout) => Akka.Actor.Props.Create(() => new VmStoreActor(timeout));

    private static LWWRegisterKey<byte[]> Key(int vm) => new("fabric-vm-" + vm.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The context a replicator request carries back: never leaves this node.</summary>
    private sealed record Request(int VmId, IActorRef ReplyTo, long Tag = 0) : ILocalMessage;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case VmStoreProtocol.Put p:
                var bytes = p.Snapshot;
                _replicator.Tell(Dsl.Update(Key(p.VmId), new LWWRegister<byte[]>(_self, bytes), new WriteMajority(_timeout),
                    new Request(p.VmId, Sender, p.Tag), r => r.WithValue(_self, bytes)));
                break;
            case VmStoreProtocol.Get g:
                _replicator.Tell(Dsl.Get(Key(g.VmId), new ReadMajority(_timeout), new Request(g.VmId, Sender)));
                break;
            case UpdateSuccess { Request: Request r }:
                r.ReplyTo.Tell(new VmStoreProtocol.Stored(r.VmId, r.Tag));
                break;
            case IUpdateResponse { Request: Request r } failed:
                r.ReplyTo.Tell(new VmStoreProtocol.StoreFailed(r.VmId, $"the write was not acknowledged by a majority: {failed.GetType().Name}", r.Tag));
                break;
            case GetSuccess { Request: Request r } found:
                r.ReplyTo.Tell(new VmStoreProtocol.Found(r.VmId, found.Get(Key(r.VmId)).Value));
                break;
            case NotFound { Request: Request r }:
                r.ReplyTo.Tell(new VmStoreProtocol.Found(r.VmId, null));
                break;
            case IGetResponse { Request: Request r } failed:
                r.ReplyTo.Tell(new VmStoreProtocol.StoreFailed(r.VmId, $"the read was not answered by a majority: {failed.GetType().Name}"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }
}
