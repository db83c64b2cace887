using Akka.Actor;
using Fabric.Hardware;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The addresses of one VM's actors, written only by its VmActor: when it creates the children, before any message
/// flows, and when a move replaces the units (<see cref="Generation"/>), while every driver holds and every unit is
/// frozen — each reader sees the new addresses through the message that releases it. A restarted child receives the
/// same instance. Addresses, not state.
/// </summary>
public sealed class VmTopology(int vmId, int vcpus, FabricPolicies? policies = null)
{
    public int VmId { get; } = vmId;
    /// <summary>What every unit of the VM knows of it (its id, its vCPUs, KVM's policies): one per VM, shared by its actors.</summary>
    public VmShape Shape { get; } = new(vmId, vcpus, policies ?? FabricPolicies.Default);
    /// <summary>The VmActor: the VM's front door for the host (start, stop, injections from outside, moves).</summary>
    public IActorRef Vm { get; internal set; } = ActorRefs.Nobody;
    /// <summary>How many times the VM's units have been replaced by a move.</summary>
    public int Generation { get; internal set; }
    public IActorRef Virs { get; internal set; } = ActorRefs.Nobody;
    public IActorRef ApList { get; internal set; } = ActorRefs.Nobody;
    public IActorRef Scheduler { get; internal set; } = ActorRefs.Nobody;
    /// <summary>Where <see cref="UnitAddress.Vpe"/>(N) and <see cref="UnitAddress.Vcpu"/>(N) go: in the product both are
    /// vCPU N's PE (<see cref="PeActor"/>), which hosts the two units; a spec may stand a probe in for either.</summary>
    public IActorRef[] Vpes { get; } = new IActorRef[vcpus];
    public IActorRef[] Vcpus { get; } = new IActorRef[vcpus];
    public List<IActorRef> Devices { get; } = new();

    /// <summary>The actors of the VM's units, each once, in a fixed order (the VPEs' and vCPUs' actors, the IRS slice, the
    /// AP list): what a move quiesces, freezes and retires, one by one against their successors.</summary>
    public IActorRef[] UnitActors() => [.. Vpes.Concat(Vcpus).Append(Virs).Append(ApList).Distinct()];
}
