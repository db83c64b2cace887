using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Protocol;
using Xunit;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Specs.Hardware;

/// <summary>
/// Which of a PE's units a message from outside is for (<see cref="PeRouting"/>): decided by the message's type, as the
/// protocol it belongs to says, and checked against the units themselves — the unit it names takes it, the other does not.
/// </summary>
public class PeRoutingSpecs
{
    private static readonly VmSpec Spec = VmSpec.Simple(vcpus: 1);

    /// <summary>One message of every type of the protocols a PE hears, with the unit it is for.</summary>
    public static TheoryData<object, PeUnit> Messages() => new()
    {
        { new Offer(null), PeUnit.Vpe },
        { Cdia.Instance, PeUnit.Vpe },
        { Cdeoi.Instance, PeUnit.Vpe },
        { new SetPriorityMask(31), PeUnit.Vpe },
        { new PpiOp(IntId.Ppi(3), PpiOperation.Enable, 1), PeUnit.Vpe },
        { new IrsEnabled(true), PeUnit.Vpe },
        { new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8)), PeUnit.Vpe },
        { new IrsProtocol.ActivateRefused(IntId.Spi(5)), PeUnit.Vpe },
        { MakeResident.Instance, PeUnit.Vpe },
        { new MakeNonResident(Wfi: true), PeUnit.Vpe },
        { IrqAsserted.Instance, PeUnit.Vcpu },
        { new CdiaResult(null), PeUnit.Vcpu },
        { Wake.Instance, PeUnit.Vcpu },
        { Preempt.Instance, PeUnit.Vcpu },
        { Resume.Instance, PeUnit.Vcpu },
        { VcpuProtocol.Boot.Instance, PeUnit.Vcpu },
        { VcpuProtocol.StopVcpu.Instance, PeUnit.Vcpu },
        { VcpuProtocol.RunVcpu.Instance, PeUnit.Vcpu },
        { new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Run), PeUnit.Vcpu },
        { VcpuProtocol.TrapExit.Instance, PeUnit.Vcpu },
        { VcpuProtocol.HandleAll.Instance, PeUnit.Vcpu },
        { DeviceProtocol.Stop.Instance, PeUnit.Vcpu },
        { new VcpuState.HandlerDone(IntId.Spi(5)), PeUnit.Vcpu },
        { new IrsProtocol.Refused("CDIA", "why"), PeUnit.Ignored },
        // Not a PE's: the host scheduler's (a doorbell, a kick), the mover's (a vCPU's answer), the IRS's.
        { new Doorbell(0), PeUnit.None },
        { new Kick(0), PeUnit.None },
        { new VcpuProtocol.Stopped(0), PeUnit.None },
        { new IrsProtocol.Cddi(IntId.Spi(5), 0), PeUnit.None },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_message_goes_to_the_unit_whose_protocol_it_is_and_only_that_unit_takes_it(object message, PeUnit unit)
    {
        Assert.Equal(unit, PeRouting.Of(message));
        var vpe = new VpeState(CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(0) { IrsEnabled = true }, Priority.Lowest));
        var vcpu = new VcpuState(0, Spec);
        var vm = new VmShape(0, 1, Spec.Policies);
        var (vpeTakes, vcpuTakes) = (vpe.Handle(message, vm, new Effects()), vcpu.Handle(message, vm, new Effects()));
        Assert.Equal(unit switch
        {
            PeUnit.Vpe => (true, false),
            PeUnit.Vcpu => (false, true),
            PeUnit.Ignored => (true, true),   // both take it and do nothing
            _ => (false, false),
        }, (vpeTakes, vcpuTakes));
    }

    [Fact]
    public void Every_message_of_the_protocols_a_pe_hears_is_in_the_table()
    {
        var listed = Messages().Select(row => row[0].GetType()).ToHashSet();
        var protocols = new[] { typeof(CpuInterfaceProtocol), typeof(ResidencyProtocol), typeof(VcpuProtocol) };
        var missing = protocols.SelectMany(p => p.GetNestedTypes()).Where(t => t.IsClass && !t.IsAbstract && typeof(IUnitMessage).IsAssignableFrom(t))
            .Where(t => !listed.Contains(t)).Select(t => t.FullName).ToList();
        Assert.Empty(missing);
    }
}
