using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>The races between actors, each resolved by the owner of the state as the hardware resolves it.</summary>
public class RaceSpecs : ProtocolSpec
{
    private readonly VirtualIrsState _irs = new(new VirtualIrs(new VirtualIrsConfig(32, 2)));

    private IActorRef Virs0() => StartVirs(_irs, FabricPolicies.Default, target: 0);

    [Fact]
    public void Re_injection_while_active_makes_it_active_and_pending_and_it_is_offered_again_only_after_cddi()
    {
        var virs = Virs0();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0), Vpes[0].Ref);
        Assert.Null(Vpes[0].ExpectMsg<IrsProtocol.Activated>().Next!.Hppi);   // the offer withdrawn, with the answer
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 2));
        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        AwaitAssert(() => Assert.True(_irs.Irs.Entry(Spi(5)) is { Active: true, Pending: true }));
        virs.Tell(new IrsProtocol.Cddi(Spi(5), 0));
        Assert.Equal(Spi(5), Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
        var report = ApList.ExpectMsg<ApListProtocol.Deactivated>();
        Assert.True(report.Deactivation && report.Icsr.Pending && !report.Icsr.Active);
    }

    [Fact]
    public void An_in_flight_spi_retargeted_between_vcpus_is_deactivated_once_and_delivered_to_the_new_target()
    {
        var virs = Virs0();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0), Vpes[0].Ref);
        Vpes[0].ExpectMsg<IrsProtocol.Activated>();
        virs.Tell(new IrsProtocol.CdAffinity(Spi(5), 1));
        virs.Tell(new IrsProtocol.Cddi(Spi(5), 0));
        Assert.True(ApList.ExpectMsg<ApListProtocol.Deactivated>().Deactivation);
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 2));
        Assert.Equal(Spi(5), Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
    }

    [Fact]
    public void A_higher_priority_offer_overtaking_a_cdia_in_flight_is_what_the_irs_activates()
    {
        var virs = Virs0();
        virs.Tell(new IrsProtocol.CdPriority(Spi(6), 2));
        virs.Tell(new IrsProtocol.CdAffinity(Spi(6), 0));
        virs.Tell(new IrsProtocol.CdEnable(Spi(6), true));
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.Vdpend(Spi(6), true, 1));
        Assert.Equal(Spi(6), Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
        // Without the CPU interface's view the IRS refuses the older offer; the newer one stands.
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0), Vpes[0].Ref);
        Vpes[0].ExpectMsg<IrsProtocol.ActivateRefused>();
        Assert.False(_irs.Irs.Entry(Spi(5)).Active);
        // With it (mask 32: everything signals; no PPI) the IRS acknowledges what it presents now: the overtaking spi:6.
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0, new CdiaView(32, null)), Vpes[0].Ref);
        Assert.Equal(Spi(6), Vpes[0].ExpectMsg<IrsProtocol.Activated>().Id);
        Assert.True(_irs.Irs.Entry(Spi(6)).Active && !_irs.Irs.Entry(Spi(5)).Active);
    }

    [Fact]
    public void An_overtaking_interrupt_the_cpu_interface_would_not_take_is_not_acknowledged_in_place_of_the_offer()
    {
        var virs = Virs0();
        virs.Tell(new IrsProtocol.CdPriority(Spi(6), 2));
        virs.Tell(new IrsProtocol.CdAffinity(Spi(6), 0));
        virs.Tell(new IrsProtocol.CdEnable(Spi(6), true));
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        virs.Tell(new IrsProtocol.Vdpend(Spi(6), true, 1));
        // Masked (priority 2 does not pass mask 2), or beaten by a pending PPI of priority 1: refused, nothing changes.
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0, new CdiaView(2, null)), Vpes[0].Ref);
        Vpes[0].FishForMessage(m => m is IrsProtocol.ActivateRefused);
        virs.Tell(new IrsProtocol.Activate(Spi(5), 0, new CdiaView(32, new Hppi(IntId.Ppi(27), Priority.Of(1)))), Vpes[0].Ref);
        Vpes[0].FishForMessage(m => m is IrsProtocol.ActivateRefused);
        Assert.False(_irs.Irs.Entry(Spi(6)).Active || _irs.Irs.Entry(Spi(5)).Active);
    }
}

