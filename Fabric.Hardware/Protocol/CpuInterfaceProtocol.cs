using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Messages to a VPE and its CPU interface (the VPE unit of a PE, <see cref="VpeState"/>): the IRS's offers, the
/// guest's CPU-interface instructions, residency; and its IRQ line and CDIA's answer, to its vCPU.</summary>
public static class CpuInterfaceProtocol
{
    /// <summary>Stream: the IRS forwards this HPPI to the VPE (null: nothing pending for it).</summary>
    public sealed record Offer(Hppi? Hppi) : IUnitMessage;
    /// <summary>GICR CDIA.</summary>
    public sealed record Cdia : IUnitMessage
    {
        public static readonly Cdia Instance = new();
    }
    /// <summary>What CDIA returned: an INTID, or none (spurious: VALID=0).</summary>
    public sealed record CdiaResult(IntId? Id) : IUnitMessage;
    /// <summary>GIC CDEOI: priority drop, no operand.</summary>
    public sealed record Cdeoi : IUnitMessage
    {
        public static readonly Cdeoi Instance = new();
    }
    /// <summary>ICC_PCR_EL1 written.</summary>
    public sealed record SetPriorityMask(int Mask) : IUnitMessage;
    /// <summary>A guest operation on one of this VPE's PPIs (CDPEND, CDEN, CDPRI, CDDI on a PPI).</summary>
    public sealed record PpiOp(IntId Id, PpiOperation Operation, int Value) : IUnitMessage;
    /// <summary>The guest's IRS_CR0.IRSEN changed: KVM reloads every vCPU (KVM_REQ_RELOAD_GICv5) with vgic->enabled.</summary>
    public sealed record IrsEnabled(bool Enabled) : IUnitMessage;
    /// <summary>The VPE's virtual IRQ line is asserted: the vCPU should acknowledge.</summary>
    public sealed record IrqAsserted : IUnitMessage
    {
        public static readonly IrqAsserted Instance = new();
    }
}

public enum PpiOperation { Pend, Enable, Priority, Deactivate }
