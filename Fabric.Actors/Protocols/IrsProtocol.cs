using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Actors.Protocols;

/// <summary>Messages to a VM's VirtualIrsActor: the hypervisor's GIC VD* instructions, the guest's GIC CD*
/// instructions on IRS interrupts, and the CPU interface's half of the IRS↔CPUIF stream.</summary>
public static class IrsProtocol
{
    /// <summary>GIC VDPEND {ID, TYPE, PENDING, VM}; <paramref name="Seq"/> numbers KVM's injections of this SPI.</summary>
    public sealed record Vdpend(IntId Id, bool Pending, long Seq) : ILocalMessage;

    /// <summary>A fold's run of GIC VDRCFG over the AP list's entries (one message stands for one VDRCFG per entry).</summary>
    public sealed record Vdrcfg(long FoldId, uint[] Spis) : ILocalMessage;

    /// <summary>The ICSRs the fold read, with the last VDPEND applied for each SPI when it was read.</summary>
    public sealed record VdrcfgResult(long FoldId, uint[] Spis, Icsr[] Icsrs, long[] AppliedSeqs) : ILocalMessage;

    /// <summary>IRS_SPI_CFGR.TM written by the guest (through SPI_SELR).</summary>
    public sealed record ConfigureSpi(uint Spi, HandlingMode TriggerMode) : ILocalMessage;
    /// <summary>A guest load or store to the IRS MMIO CONFIG_FRAME; answered with <see cref="MmioDone"/>.</summary>
    public sealed record MmioRead(ulong Offset, int SizeBytes) : ILocalMessage;
    public sealed record MmioWrite(ulong Offset, ulong Value, int SizeBytes) : ILocalMessage;
    public sealed record MmioDone(Fabric.Hardware.Irs.MmioResult Result) : ILocalMessage;
    public sealed record CdEnable(IntId Id, bool On) : ILocalMessage;
    public sealed record CdPriority(IntId Id, int Priority) : ILocalMessage;
    public sealed record CdAffinity(IntId Id, int Iaffid, bool Irm = false) : ILocalMessage;
    public sealed record CdPend(IntId Id, bool Pending) : ILocalMessage;
    public sealed record CdHandlingMode(IntId Id, HandlingMode Mode) : ILocalMessage;
    /// <summary>The guest's boot-time programming of its IRS interrupts: vCPU 0's IRS_SPI_CFGR writes and CD* instructions
    /// (<see cref="ConfigureSpi"/>, <see cref="CdHandlingMode"/>, <see cref="CdPriority"/>, <see cref="CdAffinity"/>,
    /// <see cref="CdEnable"/>) back to back, in one message: the IRS slice performs each in order as if it had come alone,
    /// answering the same sender. Sent one by one, 4 per interrupt, they all sat in its mailbox at once, and Akka's queue
    /// keeps the segment it grew for them (6 KB for 64 SPIs) for the VM's life.</summary>
    public sealed record ProgramAtBoot(IReadOnlyList<object> Operations) : ILocalMessage;
    /// <summary>GIC CDDI.</summary>
    public sealed record Cddi(IntId Id, int Vpe) : ILocalMessage;

    /// <summary>Stream: the CPU interface of <paramref name="Vpe"/> acknowledges the interrupt the IRS offered it.</summary>
    public sealed record Activate(IntId Id, int Vpe, Fabric.Hardware.Irs.CdiaView? View = null) : ILocalMessage;
    /// <summary>Stream: the IRS activated it (Edge: Pending cleared).</summary>
    public sealed record Activated(IntId Id, Priority Priority) : ILocalMessage;
    /// <summary>Stream: the offer was stale (disabled, retargeted, unpended, or no longer the highest); nothing changed.</summary>
    public sealed record ActivateRefused(IntId Id) : ILocalMessage;

    /// <summary>The reply to any operation the fabric refuses (bad VM, VPE, INTID or value): it names the operation and why.</summary>
    public sealed record Refused(string Operation, string Reason) : IWireMessage;

    /// <summary>To the host IRS (<c>IrsActor</c>): create VM <paramref name="VmId"/> (its VMTE made valid, its actors
    /// built); the VM answers <see cref="VmCreated"/> to the sender, or the IRS <see cref="Refused"/>.</summary>
    public sealed record CreateVm(int VmId, Fabric.Actors.Vm.VmSpec Spec) : ILocalMessage;
    /// <summary>To the host IRS: tear VM <paramref name="VmId"/> down (its VMTE made invalid and released).</summary>
    public sealed record DestroyVm(int VmId) : ILocalMessage;
    /// <summary>A new VM is built and booted: the addresses of its actors.</summary>
    public sealed record VmCreated(int VmId, Fabric.Actors.Vm.VmTopology Topology) : ILocalMessage;

    /// <summary>Test hook: the actor throws, to prove supervision rebuilds it from the state it owns.</summary>
    public sealed record Crash : ILocalMessage
    {
        public static readonly Crash Instance = new();
    }
}
