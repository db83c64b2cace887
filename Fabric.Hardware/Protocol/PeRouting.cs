namespace Fabric.Hardware.Protocol;

/// <summary>Which of a PE's two units a message is for (<see cref="PeRouting"/>).</summary>
public enum PeUnit : byte
{
    /// <summary>Not a message of either unit: the interpreter reports it unhandled.</summary>
    None,
    /// <summary>An answer both units ignore (<see cref="IrsProtocol.Refused"/>: the IRS or the VPE refusing what one of
    /// them asked; the refusal is logged by whoever refused): taken, and nothing done.</summary>
    Ignored,
    /// <summary>The VPE and its virtual CPU interface (<see cref="VpeState"/>).</summary>
    Vpe,
    /// <summary>The vCPU thread running the guest (<see cref="VcpuState"/>).</summary>
    Vcpu,
}

/// <summary>
/// A PE — one vCPU's guest and its VPE's CPU interface, as one processing element is in hardware — is a wiring choice
/// (DESIGN.md §6.3): an interpreter may host a <see cref="VpeState"/> and the <see cref="VcpuState"/> of the same vCPU
/// together, so that the PE's own steps (IrqAsserted, CDIA and its result, CDEOI) never leave it. Inside the PE a unit's
/// message names its target by address; a message that reaches the PE from outside names only the PE, and this is the one
/// place that says which unit it is for. The rule is the protocol's: a message type belongs to one unit's protocol, so
/// the decision is by type alone, never by content or by either unit's state.
/// <list type="bullet">
/// <item>the VPE's: the IRS's stream (<see cref="CpuInterfaceProtocol.Offer"/>, <see cref="IrsProtocol.Activated"/>,
/// <see cref="IrsProtocol.ActivateRefused"/>), the CPU interface's instructions and registers (CDIA and CDEOI from a party
/// outside the PE, e.g. a directed step; ICC_PCR_EL1, a PPI operation, IRSEN), and residency
/// (<see cref="ResidencyProtocol.MakeResident"/>, <see cref="ResidencyProtocol.MakeNonResident"/>);</item>
/// <item>the vCPU's: its IRQ line and CDIA's answer (<see cref="CpuInterfaceProtocol.IrqAsserted"/>,
/// <see cref="CpuInterfaceProtocol.CdiaResult"/>), the host scheduler's <see cref="ResidencyProtocol.Wake"/> /
/// <see cref="ResidencyProtocol.Preempt"/> / <see cref="ResidencyProtocol.Resume"/>, the VMM's and the directed
/// scenario's <see cref="VcpuProtocol"/> messages, the drain's <see cref="DeviceProtocol.Stop"/>, and the guest's own
/// timers (<see cref="VcpuState.GuestTimer"/>: the VPE starts none);</item>
/// <item>ignored: <see cref="IrsProtocol.Refused"/> (an answer both ignore, whichever of them it answers);</item>
/// <item>neither (<see cref="PeUnit.None"/>): anything else.</item>
/// </list>
/// Interrupt semantics stay in the units: this table only says whose protocol a message is.
/// </summary>
public static class PeRouting
{
    public static PeUnit Of(object message) => message switch
    {
        CpuInterfaceProtocol.Offer or CpuInterfaceProtocol.Cdia or CpuInterfaceProtocol.Cdeoi
            or CpuInterfaceProtocol.SetPriorityMask or CpuInterfaceProtocol.PpiOp or CpuInterfaceProtocol.IrsEnabled
            or IrsProtocol.Activated or IrsProtocol.ActivateRefused
            or ResidencyProtocol.MakeResident or ResidencyProtocol.MakeNonResident => PeUnit.Vpe,
        CpuInterfaceProtocol.IrqAsserted or CpuInterfaceProtocol.CdiaResult
            or ResidencyProtocol.Wake or ResidencyProtocol.Preempt or ResidencyProtocol.Resume
            or VcpuProtocol.Boot or VcpuProtocol.StopVcpu or VcpuProtocol.RunVcpu or VcpuProtocol.SetVcpu
            or VcpuProtocol.TrapExit or VcpuProtocol.HandleAll
            or DeviceProtocol.Stop or VcpuState.GuestTimer => PeUnit.Vcpu,
        IrsProtocol.Refused => PeUnit.Ignored,
        _ => PeUnit.None,
    };
}
