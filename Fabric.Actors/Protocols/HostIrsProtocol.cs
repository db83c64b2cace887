using Fabric.Hardware.Protocol;
namespace Fabric.Actors.Protocols;

/// <summary>The host IRS's VM lifecycle (<c>IrsActor</c>): the VM table's IRS_VMAP_VMR, as the host drives it.</summary>
public static class HostIrsProtocol
{
    /// <summary>To the host IRS (<c>IrsActor</c>): create VM <paramref name="VmId"/> (its VMTE made valid, its actors
    /// built); the VM answers <see cref="VmCreated"/> to the sender, or the IRS <see cref="Fabric.Hardware.Protocol.IrsProtocol.Refused"/>.</summary>
    public sealed record CreateVm(int VmId, Fabric.Hardware.Protocol.VmSpec Spec) : ILocalMessage;
    /// <summary>To the host IRS: tear VM <paramref name="VmId"/> down (its VMTE made invalid and released).</summary>
    public sealed record DestroyVm(int VmId) : ILocalMessage;
    /// <summary>A new VM is built and booted: the addresses of its actors.</summary>
    public sealed record VmCreated(int VmId, Vm.VmTopology Topology) : ILocalMessage;
}
