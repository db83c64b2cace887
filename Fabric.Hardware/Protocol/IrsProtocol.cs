using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Messages to a VM's VirtualIrsActor: the hypervisor's GIC VD* instructions, the guest's GIC CD*
/// instructions on IRS interrupts, and the CPU interface's half of the IRS↔CPUIF stream.</summary>
public static class IrsProtocol
{
    /// <summary>GIC VDPEND {ID, TYPE, PENDING, VM}; <paramref name="Seq"/> numbers KVM's injections of this SPI.</summary>
    public sealed record Vdpend(IntId Id, bool Pending, long Seq) : IUnitMessage;

    /// <summary>A fold's run of GIC VDRCFG over the AP list's entries (one message stands for one VDRCFG per entry).</summary>
    public sealed record Vdrcfg(long FoldId, uint[] Spis) : IUnitMessage;

    /// <summary>The ICSRs the fold read, with the last VDPEND applied for each SPI when it was read.</summary>
    public sealed record VdrcfgResult(long FoldId, uint[] Spis, Icsr[] Icsrs, long[] AppliedSeqs) : IUnitMessage;

    /// <summary>IRS_SPI_CFGR.TM written by the guest (through SPI_SELR).</summary>
    public sealed record ConfigureSpi(uint Spi, HandlingMode TriggerMode) : IUnitMessage;
    /// <summary>A guest load or store to the IRS MMIO CONFIG_FRAME; answered with <see cref="MmioDone"/>.</summary>
    public sealed record MmioRead(ulong Offset, int SizeBytes) : IUnitMessage;
    public sealed record MmioWrite(ulong Offset, ulong Value, int SizeBytes) : IUnitMessage;
    public sealed record MmioDone(Fabric.Hardware.Irs.MmioResult Result) : IUnitMessage;
    public sealed record CdEnable(IntId Id, bool On) : IUnitMessage;
    public sealed record CdPriority(IntId Id, int Priority) : IUnitMessage;
    public sealed record CdAffinity(IntId Id, int Iaffid, bool Irm = false) : IUnitMessage;
    public sealed record CdPend(IntId Id, bool Pending) : IUnitMessage;
    public sealed record CdHandlingMode(IntId Id, HandlingMode Mode) : IUnitMessage;
    /// <summary>The guest's boot-time programming of its IRS interrupts: vCPU 0's IRS_SPI_CFGR writes and CD* instructions
    /// (<see cref="ConfigureSpi"/>, <see cref="CdHandlingMode"/>, <see cref="CdPriority"/>, <see cref="CdAffinity"/>,
    /// <see cref="CdEnable"/>) back to back, in one message: the IRS slice performs each in order as if it had come alone,
    /// answering the same sender. Sent one by one, 4 per interrupt, they all sat in its mailbox at once, and Akka's queue
    /// keeps the segment it grew for them (6 KB for 64 SPIs) for the VM's life.</summary>
    public sealed record ProgramAtBoot(IReadOnlyList<object> Operations) : IUnitMessage;
    /// <summary>GIC CDDI.</summary>
    public sealed record Cddi(IntId Id, int Vpe) : IUnitMessage;

    /// <summary>Stream: the CPU interface of <paramref name="Vpe"/> acknowledges the interrupt the IRS offered it. Only that
    /// VPE sends it: the answer (<see cref="Activated"/>, <see cref="ActivateRefused"/>) carries its next offer.</summary>
    public sealed record Activate(IntId Id, int Vpe, Fabric.Hardware.Irs.CdiaView? View = null) : IUnitMessage;
    /// <summary>Stream: the IRS activated it (Edge: Pending cleared); <paramref name="Next"/>: the VPE's HPPI changed with it
    /// (the next pending interrupt, or none), carried with the answer instead of following it as an
    /// <see cref="CpuInterfaceProtocol.Offer"/> of its own — so the CPU interface's next CDIA sees it (null: unchanged).</summary>
    public sealed record Activated(IntId Id, Priority Priority, CpuInterfaceProtocol.Offer? Next = null) : IUnitMessage;
    /// <summary>Stream: the offer was stale (disabled, retargeted, unpended, or no longer the highest); nothing changed but
    /// the VPE's offer, carried in <paramref name="Next"/> when it changed (null: unchanged).</summary>
    public sealed record ActivateRefused(IntId Id, CpuInterfaceProtocol.Offer? Next = null) : IUnitMessage;

    /// <summary>The reply to any operation the fabric refuses (bad VM, VPE, INTID or value): it names the operation and why.</summary>
    public sealed record Refused(string Operation, string Reason) : IWireMessage;

    /// <summary>Test hook: the actor throws, to prove supervision rebuilds it from the state it owns.</summary>
    public sealed record Crash : IUnitMessage
    {
        public static readonly Crash Instance = new();
    }
}
