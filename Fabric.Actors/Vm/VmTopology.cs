using Akka.Actor;

namespace Fabric.Actors.Vm;

/// <summary>
/// The addresses of one VM's actors. Filled once by its VmActor right after it creates the children and before any
/// message flows; read-only afterwards (a restarted child receives the same instance). Addresses, not state.
/// </summary>
public sealed class VmTopology(int vmId, int vcpus)
{
    public int VmId { get; } = vmId;
    public IActorRef Virs { get; internal set; } = ActorRefs.Nobody;
    public IActorRef ApList { get; internal set; } = ActorRefs.Nobody;
    public IActorRef Scheduler { get; internal set; } = ActorRefs.Nobody;
    public IActorRef[] Vpes { get; } = new IActorRef[vcpus];
    public IActorRef[] Vcpus { get; } = new IActorRef[vcpus];
    public List<IActorRef> Devices { get; } = new();
}
