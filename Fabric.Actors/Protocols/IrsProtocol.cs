using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Actors.Protocols;

/// <summary>Messages to a VM's VirtualIrsActor: the hypervisor's GIC VD* instructions, the guest's GIC CD*
/// instructions on IRS interrupts, and the CPU interface's half of the IRS↔CPUIF stream.</summary>
public static class IrsProtocol
{
    /// <summary>GIC VDPEND {ID, TYPE, PENDING, VM}; <paramref name="Seq"/> numbers KVM's injections of this SPI.</summary>
    public sealed record Vdpend(IntId Id, bool Pending, long Seq);

    /// <summary>A fold's run of GIC VDRCFG over the AP list's entries (one message stands for one VDRCFG per entry).</summary>
    public sealed record Vdrcfg(long FoldId, uint[] Spis);

    /// <summary>The ICSRs the fold read, with the last VDPEND applied for each SPI when it was read.</summary>
    public sealed record VdrcfgResult(long FoldId, uint[] Spis, Icsr[] Icsrs, long[] AppliedSeqs);

    /// <summary>IRS_SPI_CFGR.TM written by the guest (through SPI_SELR).</summary>
    public sealed record ConfigureSpi(uint Spi, HandlingMode TriggerMode);
    /// <summary>A guest load or store to the IRS MMIO CONFIG_FRAME; answered with <see cref="MmioDone"/>.</summary>
    public sealed record MmioRead(ulong Offset, int SizeBytes);
    public sealed record MmioWrite(ulong Offset, ulong Value, int SizeBytes);
    public sealed record MmioDone(Fabric.Hardware.Irs.MmioResult Result);
    public sealed record CdEnable(IntId Id, bool On);
    public sealed record CdPriority(IntId Id, int Priority);
    public sealed record CdAffinity(IntId Id, int Iaffid, bool Irm = false);
    public sealed record CdPend(IntId Id, bool Pending);
    public sealed record CdHandlingMode(IntId Id, HandlingMode Mode);
    /// <summary>GIC CDDI.</summary>
    public sealed record Cddi(IntId Id, int Vpe);

    /// <summary>Stream: the CPU interface of <paramref name="Vpe"/> acknowledges the interrupt the IRS offered it.</summary>
    public sealed record Activate(IntId Id, int Vpe);
    /// <summary>Stream: the IRS activated it (Edge: Pending cleared).</summary>
    public sealed record Activated(IntId Id, Priority Priority);
    /// <summary>Stream: the offer was stale (disabled, retargeted, unpended, or no longer the highest); nothing changed.</summary>
    public sealed record ActivateRefused(IntId Id);

    /// <summary>The reply to any operation the fabric refuses (bad VM, VPE, INTID or value): it names the operation and why.</summary>
    public sealed record Refused(string Operation, string Reason);

    /// <summary>Test hook: the actor throws, to prove supervision rebuilds it from the state it owns.</summary>
    public sealed record Crash
    {
        public static readonly Crash Instance = new();
    }
}

/// <summary>Messages to a VpeActor: the IRS's offers, the guest's CPU-interface instructions, residency.</summary>
public static class CpuInterfaceProtocol
{
    /// <summary>Stream: the IRS forwards this HPPI to the VPE (null: nothing pending for it).</summary>
    public sealed record Offer(Hppi? Hppi);
    /// <summary>GICR CDIA.</summary>
    public sealed record Cdia
    {
        public static readonly Cdia Instance = new();
    }
    /// <summary>What CDIA returned: an INTID, or none (spurious: VALID=0).</summary>
    public sealed record CdiaResult(IntId? Id);
    /// <summary>GIC CDEOI: priority drop, no operand.</summary>
    public sealed record Cdeoi
    {
        public static readonly Cdeoi Instance = new();
    }
    /// <summary>ICC_PCR_EL1 written.</summary>
    public sealed record SetPriorityMask(int Mask);
    /// <summary>A guest operation on one of this VPE's PPIs (CDPEND, CDEN, CDPRI, CDDI on a PPI).</summary>
    public sealed record PpiOp(IntId Id, PpiOperation Operation, int Value);
    /// <summary>The VPE's virtual IRQ line is asserted: the vCPU should acknowledge.</summary>
    public sealed record IrqAsserted
    {
        public static readonly IrqAsserted Instance = new();
    }
}

public enum PpiOperation { Pend, Enable, Priority, Deactivate }

/// <summary>Residency (vgic_v5_load / vgic_v5_put, make_resident / make_non_resident) and doorbells.</summary>
public static class ResidencyProtocol
{
    public sealed record MakeResident
    {
        public static readonly MakeResident Instance = new();
    }
    /// <summary>A put; <paramref name="Wfi"/>: the vCPU blocks in WFI and requests a doorbell at the effective mask − 1.</summary>
    public sealed record MakeNonResident(bool Wfi);
    /// <summary>The IRS rang this VPE's doorbell (a host LPI; the handler sets db_fired and kicks the vCPU).</summary>
    public sealed record Doorbell(int Vpe);
    /// <summary>The host scheduler wakes a vCPU (after a doorbell) or preempts / resumes it.</summary>
    public sealed record Wake
    {
        public static readonly Wake Instance = new();
    }
    public sealed record Preempt
    {
        public static readonly Preempt Instance = new();
    }
    public sealed record Resume
    {
        public static readonly Resume Instance = new();
    }
}

/// <summary>Messages to a VM's SpiApListActor: KVM's injection entry point and the tracking reports.</summary>
public static class ApListProtocol
{
    /// <summary>kvm_set_irq for an SPI from a device (irqfd), with its line level.</summary>
    public sealed record SetIrq(uint Spi, bool Level);
    /// <summary>KVM learns the trigger mode the guest configured.</summary>
    public sealed record SpiConfigured(uint Spi, HandlingMode TriggerMode);
    /// <summary>Push tracking: a tracked SPI was deactivated (<paramref name="Deactivation"/>) or went idle without one.</summary>
    public sealed record Deactivated(uint Spi, Icsr Icsr, bool Deactivation, long AppliedSeq);
    /// <summary>A vCPU exited to KVM: kvm_vgic_sync_hwstate, where the fold runs under fold tracking.</summary>
    public sealed record VcpuExit(int Vpe);
    /// <summary>The notifier's subscriber for an SPI (an irqfd resampler).</summary>
    public sealed record RegisterNotifier(uint Spi, Akka.Actor.IActorRef Device);
}

/// <summary>Messages to devices.</summary>
public static class DeviceProtocol
{
    /// <summary>kvm_notify_acked_irq: the guest consumed this SPI.</summary>
    public sealed record Notified(uint Spi);
    public sealed record Start
    {
        public static readonly Start Instance = new();
    }
    /// <summary>Stop injecting (drain): a resampled line is lowered once its service completes.</summary>
    public sealed record Stop
    {
        public static readonly Stop Instance = new();
    }
}
