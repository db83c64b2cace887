using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;
using Xunit;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Specs.Hardware;

/// <summary>
/// The VPE unit (<see cref="VpeState"/>) on its own: residency, the IRQ it asserts to its vCPU, CDIA through the IRS,
/// doorbells and kicks, as effects. Its vCPU is an address (<see cref="UnitAddress.Vcpu"/>(0)), whichever interpreter
/// hosts the two (in the product one PE actor).
/// </summary>
public class VpeUnitSpecs
{
    private static readonly UnitAddress Vcpu0 = UnitAddress.Vcpu(0);
    /// <summary>The token of the vCPU that issues CDIA, as a PE gives it: its address.</summary>
    private static readonly object Guest = Vcpu0;
    private readonly VirtualCpuInterface _cpu = CpuInterfaceRules.GuestEnable(new(0) { IrsEnabled = true }, Priority.Lowest);   // the guest's boot enabled its IRS and CPU interface

    private UnitRun Start(DbpmComparison dbpm = DbpmComparison.Inclusive)
    {
        var vpe = new UnitRun(new VpeState(_cpu), new VmShape(0, 2, new FabricPolicies(Dbpm: dbpm)));
        vpe.Step(MakeResident.Instance);
        return vpe;
    }

    private static Offer OfferOf(uint spi, int prio) => new(new Hppi(IntId.Spi(spi), Priority.Of(prio)));

    /// <summary>The guest's CDIA of the offered spi: the VPE asks the IRS, the IRS activates it, the vCPU gets it.</summary>
    private static void Acknowledge(UnitRun vpe, uint spi, int prio)
    {
        Assert.Equal(IntId.Spi(spi), Assert.IsType<IrsProtocol.Activate>(Assert.Single(vpe.Step(Cdia.Instance, Guest).To(UnitAddress.Irs))).Id);
        Assert.Equal(IntId.Spi(spi), Assert.IsType<CdiaResult>(Assert.Single(vpe.Step(new IrsProtocol.Activated(IntId.Spi(spi), Priority.Of(prio))).To(Vcpu0))).Id);
    }

    [Fact]
    public void A_load_a_wake_caused_is_logged_with_what_woke_it_so_the_wfi_it_ends_owes_no_doorbell()
    {
        foreach (var (load, arg) in new[] { (MakeResident.ByKick, FabricEvent.ByKick), (MakeResident.ByDoorbell, FabricEvent.ByDoorbell), (MakeResident.Instance, (string?)null) })
        {
            var vpe = Start();
            vpe.Step(new MakeNonResident(Wfi: true));
            var resident = Assert.Single(vpe.Step(load), e => e.Kind == EffectKind.Log && e.Ev == Ev.Resident);
            Assert.Equal(arg, resident.Arg);
        }
    }

    [Fact]
    public void A_resident_vpe_asserts_its_vcpus_irq_for_an_offer_that_signals()
    {
        var fx = Start().Step(OfferOf(5, 8));
        Assert.IsType<IrqAsserted>(Assert.Single(fx.To(Vcpu0)));
        Assert.Empty(fx.To(UnitAddress.Scheduler));
    }

    [Fact]
    public void Cdia_activates_through_the_irs_and_sets_the_apr()
    {
        var vpe = Start();
        vpe.Step(OfferOf(5, 8));
        var activate = Assert.IsType<IrsProtocol.Activate>(Assert.Single(vpe.Step(Cdia.Instance, Guest).To(UnitAddress.Irs)));
        Assert.Equal((IntId.Spi(5), 0, 32), (activate.Id, activate.Vpe, activate.View!.Value.Mask));   // idle APR, PCR 31: mask 32
        var fx = vpe.Step(new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8)));
        Assert.Equal(IntId.Spi(5), Assert.IsType<CdiaResult>(Assert.Single(fx.To(Vcpu0))).Id);
        Assert.Equal(1u << 8, _cpu.Apr);
    }

    [Fact]
    public void The_next_offer_carried_by_an_activation_is_what_the_next_cdia_takes()
    {
        var vpe = Start();
        vpe.Step(OfferOf(5, 8));
        vpe.Step(Cdia.Instance, Guest);
        vpe.Step(new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8), OfferOf(6, 4)));   // spi:6 was pending behind it
        Assert.Equal(IntId.Spi(6), _cpu.Offered!.Value.Id);
        Assert.Equal(IntId.Spi(6), Assert.IsType<IrsProtocol.Activate>(Assert.Single(vpe.Step(Cdia.Instance, Guest).To(UnitAddress.Irs))).Id);
    }

    [Fact]
    public void A_refused_activation_carries_the_offer_as_it_is_now_and_the_cdia_returns_nothing()
    {
        var vpe = Start();
        vpe.Step(OfferOf(5, 8));
        vpe.Step(Cdia.Instance, Guest);
        var fx = vpe.Step(new IrsProtocol.ActivateRefused(IntId.Spi(5), new Offer(null)));   // spi:5 was disabled meanwhile
        Assert.Null(_cpu.Offered);
        Assert.Null(Assert.IsType<CdiaResult>(Assert.Single(fx.To(Vcpu0))).Id);
    }

    [Fact]
    public void A_cdia_while_another_awaits_the_irs_returns_nothing()
    {
        var vpe = Start();
        vpe.Step(OfferOf(5, 8));
        vpe.Step(Cdia.Instance, Guest);
        Assert.Null(Assert.IsType<CdiaResult>(Assert.Single(vpe.Step(Cdia.Instance, "another").TellsTo("another"))).Id);
    }

    [Fact]
    public void A_PPI_pended_for_a_vcpu_in_WFI_kicks_it_through_KVM_and_rings_no_doorbell()
    {
        var vpe = Start();
        vpe.Step(new PpiOp(IntId.Ppi(3), PpiOperation.Priority, 4));
        vpe.Step(new PpiOp(IntId.Ppi(3), PpiOperation.Enable, 1));
        vpe.Step(new MakeNonResident(Wfi: true));
        var fx = vpe.Step(new PpiOp(IntId.Ppi(3), PpiOperation.Pend, 1));
        Assert.Equal(0, Assert.IsType<Kick>(Assert.Single(fx.To(UnitAddress.Scheduler))).Vpe);
        Assert.DoesNotContain(Ev.Doorbell, fx.Logged());
    }

    [Fact]
    public void A_wfi_put_with_the_guests_IRS_disabled_requests_no_doorbell()
    {
        var vpe = Start();
        vpe.Step(new IrsEnabled(false));
        vpe.Step(new MakeNonResident(Wfi: true));
        Assert.False(_cpu.Resident);
        Assert.False(_cpu.Doorbell.Armed);
    }

    [Fact]
    public void A_wfi_put_with_an_offer_already_there_rings_the_doorbell_at_once()
    {
        var vpe = Start();
        vpe.Step(OfferOf(5, 8));
        Assert.Equal(0, Assert.IsType<Doorbell>(Assert.Single(vpe.Step(new MakeNonResident(Wfi: true)).To(UnitAddress.Scheduler))).Vpe);
    }

    [Fact]
    public void A_doorbell_rings_once_per_non_resident_period()
    {
        var vpe = Start();
        vpe.Step(new MakeNonResident(Wfi: true));
        Assert.IsType<Doorbell>(Assert.Single(vpe.Step(OfferOf(5, 8)).To(UnitAddress.Scheduler)));
        Assert.Empty(vpe.Step(OfferOf(4, 2)).To(UnitAddress.Scheduler));
        Assert.True(_cpu.DbFired);
    }

    [Fact]
    public void A_preemption_put_requests_no_doorbell()
    {
        var vpe = Start();
        vpe.Step(new MakeNonResident(Wfi: false));
        Assert.Empty(vpe.Step(OfferOf(5, 8)).To(UnitAddress.Scheduler));
    }

    [Theory]
    [InlineData(DbpmComparison.Inclusive, true)]
    [InlineData(DbpmComparison.Strict, false)]
    public void An_interrupt_at_exactly_dbpm_rings_only_under_the_inclusive_comparison(DbpmComparison cmp, bool rings)
    {
        var vpe = Start(cmp);
        vpe.Step(new MakeNonResident(Wfi: true));   // PCR 31, idle: DBPM = 31
        Assert.Equal(rings ? 1 : 0, vpe.Step(OfferOf(5, 31)).To(UnitAddress.Scheduler).OfType<Doorbell>().Count());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_doorbell_racing_make_non_resident_is_not_lost(bool offerFirst)
    {
        var vpe = Start();
        var fx = new List<Effect>();
        if (offerFirst) fx.AddRange(vpe.Step(OfferOf(5, 8)));
        fx.AddRange(vpe.Step(new MakeNonResident(Wfi: true)));
        if (!offerFirst) fx.AddRange(vpe.Step(OfferOf(5, 8)));
        Assert.IsType<Doorbell>(Assert.Single(fx.To(UnitAddress.Scheduler)));
    }

    [Fact]
    public void A_higher_priority_interrupt_preempts_the_handler_and_priority_drops_in_reverse_order()
    {
        var vpe = Start();
        Assert.Single(vpe.Step(OfferOf(5, 8)).To(Vcpu0));
        Acknowledge(vpe, 5, 8);
        Assert.Empty(vpe.Step(OfferOf(6, 8)).To(Vcpu0));                               // equal priority does not preempt
        Assert.IsType<IrqAsserted>(Assert.Single(vpe.Step(OfferOf(7, 4)).To(Vcpu0)));   // higher priority does
        Acknowledge(vpe, 7, 4);
        Assert.Equal((1u << 4) | (1u << 8), _cpu.Apr);
        vpe.Step(Cdeoi.Instance);
        Assert.Equal(1u << 8, _cpu.Apr);
        vpe.Step(Cdeoi.Instance);
        Assert.Equal(0u, _cpu.Apr);
    }
}
