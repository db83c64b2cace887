using CsCheck;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>One VM's slice of the IRS (SEMANTICS.md §1–2, DESIGN.md §3–4): VDPEND/VDRCFG, the guest's CD* operations,
/// the IRS side of CDIA/CDDI, and the HPPI offered to each VPE.</summary>
public class VirtualIrsSpecs
{
    /// <summary>A VM's IRS after the guest's boot write IRS_CR0.IRSEN = 1.</summary>
    private static VirtualIrs NewIrs(int spis = 32, int vpes = 2, int priorityBits = Priority.Bits,
        VirtualLevelPolicy level = VirtualLevelPolicy.EdgeEmulated)
    {
        var irs = new VirtualIrs(new VirtualIrsConfig(spis, vpes, priorityBits, level));
        Assert.True(irs.EnableIrs().Ok);
        return irs;
    }

    private static IntId Spi(uint n) => IntId.Spi(n);
    private static Hppi H(uint spi, int priority) => new(IntId.Spi(spi), Priority.Of(priority));

    /// <summary>The guest's boot programming of one SPI: priority, target, enable.</summary>
    private static void Program(VirtualIrs irs, uint spi, int vpe, int priority, bool enable = true)
    {
        Assert.True(irs.CdPriority(Spi(spi), priority).Ok);
        Assert.True(irs.CdAffinity(Spi(spi), vpe).Ok);
        if (enable) Assert.True(irs.CdEnable(Spi(spi), true).Ok);
    }

    /// <summary>Everything an operation could change: every ISTE, every offer, the IRS enable.</summary>
    private static string Snapshot(VirtualIrs irs) =>
        string.Join(",", irs.Entries().Select(x => x.Entry.Raw.ToString("X8"))) + "|" +
        string.Join(",", Enumerable.Range(0, irs.Config.VpeCount).Select(v => irs.Offered(v)?.ToString() ?? "-")) + "|" + irs.Enabled;

    [Theory]
    [InlineData(32, 1, 5, true)]
    [InlineData(64, 4, 5, true)]
    [InlineData(1024, 1, 5, true)]
    [InlineData(992, 65535, 1, true)]
    [InlineData(0, 1, 5, false)]
    [InlineData(31, 1, 5, false)]
    [InlineData(33, 1, 5, false)]
    [InlineData(48, 1, 5, false)]
    [InlineData(1056, 1, 5, false)]
    [InlineData(2048, 1, 5, false)]
    [InlineData(32, 0, 5, false)]
    [InlineData(32, 65537, 5, false)]
    [InlineData(32, 1, 0, false)]
    [InlineData(32, 1, 6, false)]
    public void Config_allows_32_to_1024_SPIs_in_steps_of_32_at_least_one_VPE_and_1_to_5_priority_bits(int spis, int vpes, int bits, bool valid)
    {
        var config = new VirtualIrsConfig(spis, vpes, bits);
        Assert.Equal(valid, config.Validate() is null);
        if (valid) Assert.Equal(spis, new VirtualIrs(config).Spis.Capacity);
        else Assert.Throws<ArgumentOutOfRangeException>(() => new VirtualIrs(config));
    }

    [Theory]
    [InlineData(65536)]
    [InlineData(65535)]
    [InlineData(1)]
    public void A_config_that_Validate_accepts_can_be_built_and_one_it_refuses_cannot(int vpes)
    {
        var config = new VirtualIrsConfig(32, vpes);
        if (config.Validate() is null) Assert.Equal(vpes, new VirtualIrs(config).Config.VpeCount);
        else Assert.Throws<ArgumentOutOfRangeException>(() => new VirtualIrs(config));
        Assert.Equal(vpes <= IrsFrameConfig.MaxVpes, config.Validate() is null);
    }

    [Fact]
    public void Vdpend_pends_and_offers_the_HPPI_to_the_VPE_its_IAFFID_names()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 1, priority: 6);
        var o = irs.Vdpend(Spi(3), true);
        Assert.True(o.Ok);
        Assert.Equal(IstEffect.Pended, o.Effects);
        Assert.True(irs.Entry(Spi(3)).Pending);
        Assert.Equal(new[] { new OfferChange(1, H(3, 6)) }, o.Offers());
        Assert.Equal(H(3, 6), irs.Offered(1));
        Assert.Equal(H(3, 6), irs.HppiFor(1));
        Assert.Null(irs.Offered(0));
    }

    [Fact]
    public void A_second_Vdpend_coalesces_and_changes_no_offer()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        var o = irs.Vdpend(Spi(3), true);
        Assert.Equal(IstEffect.Coalesced, o.Effects);
        Assert.Empty(o.Offers());
    }

    [Fact]
    public void Vdpend_0_withdraws_the_offer()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        var o = irs.Vdpend(Spi(3), false);
        Assert.Equal(IstEffect.Unpended, o.Effects);
        Assert.Equal(new[] { new OfferChange(0, null) }, o.Offers());
    }

    [Fact]
    public void A_disabled_interrupt_stays_pending_but_is_not_offered_until_CDEN()
    {
        var irs = NewIrs();
        Program(irs, 4, vpe: 0, priority: 2, enable: false);
        var pend = irs.Vdpend(Spi(4), true);
        Assert.True(pend.Has(IstEffect.Pended));
        Assert.Empty(pend.Offers());
        Assert.Null(irs.Offered(0));
        Assert.True(irs.Entry(Spi(4)).Pending);

        var en = irs.CdEnable(Spi(4), true);
        Assert.Equal(IstEffect.Enabled, en.Effects);
        Assert.Equal(new[] { new OfferChange(0, H(4, 2)) }, en.Offers());

        var dis = irs.CdEnable(Spi(4), false);
        Assert.Equal(IstEffect.Disabled, dis.Effects);
        Assert.Equal(new[] { new OfferChange(0, null) }, dis.Offers());
        Assert.True(irs.Entry(Spi(4)).Pending);
    }

    [Fact]
    public void CDPRI_reorders_the_offers()
    {
        var irs = NewIrs();
        Program(irs, 1, vpe: 0, priority: 8);
        Program(irs, 2, vpe: 0, priority: 4);
        irs.Vdpend(Spi(1), true);
        irs.Vdpend(Spi(2), true);
        Assert.Equal(H(2, 4), irs.Offered(0));

        var o = irs.CdPriority(Spi(1), 2);
        Assert.Equal(IstEffect.Reprioritised, o.Effects);
        Assert.Equal(new[] { new OfferChange(0, H(1, 2)) }, o.Offers());
        Assert.Equal(H(1, 2), irs.Offered(0));
    }

    [Fact]
    public void At_equal_priority_the_lower_INTID_is_offered()
    {
        var irs = NewIrs();
        Program(irs, 9, vpe: 0, priority: 4);
        Program(irs, 7, vpe: 0, priority: 4);
        irs.Vdpend(Spi(9), true);
        irs.Vdpend(Spi(7), true);
        Assert.Equal(H(7, 4), irs.Offered(0));
    }

    [Theory]
    [InlineData(3, 7, 4)]
    [InlineData(3, 3, 0)]
    [InlineData(5, 7, 7)]
    [InlineData(1, 31, 16)]
    public void CDPRI_keeps_only_the_priority_bits_the_IRS_implements(int bits, int requested, int stored)
    {
        var irs = NewIrs(priorityBits: bits);
        Assert.True(irs.CdPriority(Spi(0), requested).Ok);
        Assert.Equal(stored, irs.Entry(Spi(0)).Priority.Value);
    }

    [Fact]
    public void CDAFF_moves_the_offer_from_the_old_VPE_to_the_new_one()
    {
        var irs = NewIrs();
        Program(irs, 5, vpe: 0, priority: 3);
        irs.Vdpend(Spi(5), true);
        Assert.Equal(H(5, 3), irs.Offered(0));

        var o = irs.CdAffinity(Spi(5), 1);
        Assert.Equal(IstEffect.Retargeted, o.Effects);
        Assert.Equal(new[] { new OfferChange(0, null), new OfferChange(1, H(5, 3)) }, o.Offers());
        Assert.Null(irs.Offered(0));
        Assert.Equal(H(5, 3), irs.Offered(1));
        Assert.Equal(1, irs.Entry(Spi(5)).Iaffid);
    }

    [Fact]
    public void CDAFF_of_an_interrupt_that_is_not_offered_changes_no_offer()
    {
        var irs = NewIrs();
        Program(irs, 5, vpe: 0, priority: 3, enable: false);
        irs.Vdpend(Spi(5), true);
        var o = irs.CdAffinity(Spi(5), 1);
        Assert.Equal(IstEffect.Retargeted, o.Effects);
        Assert.Empty(o.Offers());
    }

    private static IrsOutcome Run(VirtualIrs irs, string op, IntId id, int value) => op switch
    {
        "VDPEND" => irs.Vdpend(id, true),
        "CDPEND" => irs.CdPend(id, true),
        "CDEN" => irs.CdEnable(id, true),
        "CDDIS" => irs.CdEnable(id, false),
        "CDPRI" => irs.CdPriority(id, value),
        "CDAFF" => irs.CdAffinity(id, value),
        "CDHM" => irs.CdHandlingMode(id, HandlingMode.Level),
        "CDIA" => irs.Activate(id, value),
        "CDDI" => irs.Deactivate(id),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>An IRS with state worth protecting: spi:0 pending and offered to VPE 0, spi:1 active on VPE 1.</summary>
    private static VirtualIrs Busy()
    {
        var irs = NewIrs();
        Program(irs, 0, vpe: 0, priority: 5);
        Program(irs, 1, vpe: 1, priority: 7);
        irs.Vdpend(Spi(0), true);
        irs.Vdpend(Spi(1), true);
        Assert.True(irs.Activate(Spi(1), 1).Has(IstEffect.Activated));
        return irs;
    }

    [Theory]
    [InlineData("CDAFF", "spi:0", 65536, "CDAFF spi:0: IAFFID 65536")]
    [InlineData("CDAFF", "spi:0", -1, "CDAFF spi:0: IAFFID -1")]
    [InlineData("CDPRI", "spi:0", 32, "CDPRI spi:0")]
    [InlineData("CDPRI", "spi:0", -1, "CDPRI spi:0")]
    [InlineData("CDIA", "spi:0", 2, "CDIA from VPE 2")]
    [InlineData("CDIA", "spi:0", -1, "CDIA from VPE -1")]
    public void An_out_of_range_IAFFID_priority_or_VPE_is_refused_naming_the_operation_and_changes_nothing(string op, string id,
        int value, string message)
    {
        var irs = Busy();
        var before = Snapshot(irs);
        var o = Run(irs, op, IntId.Parse(id), value);
        Assert.False(o.Ok);
        Assert.Contains(message, o.Error);
        Assert.Empty(o.Offers());
        Assert.Equal(before, Snapshot(irs));
    }

    [Fact]
    public void CDAFF_with_IRM_1_is_refused_as_KVM_routes_targeted_only()
    {
        var irs = Busy();
        var before = Snapshot(irs);
        var o = irs.CdAffinity(Spi(0), 1, irm: true);
        Assert.False(o.Ok);
        Assert.Contains("IRM=1", o.Error);
        Assert.Equal(before, Snapshot(irs));
    }

    [Theory]
    [InlineData("VDPEND", "spi:32", 0, "spi:32 is beyond this VM's 32 SPIs")]
    [InlineData("CDPEND", "spi:32", 0, "spi:32 is beyond")]
    [InlineData("CDEN", "spi:32", 0, "spi:32 is beyond")]
    [InlineData("CDPRI", "spi:32", 3, "spi:32 is beyond")]
    [InlineData("CDAFF", "spi:32", 1, "spi:32 is beyond")]
    [InlineData("CDIA", "spi:32", 0, "spi:32 is beyond")]
    [InlineData("CDDI", "spi:40", 0, "spi:40 is beyond")]
    [InlineData("VDPEND", "ppi:3", 0, "PPIs are held by the CPU interface")]
    [InlineData("CDEN", "ppi:3", 0, "PPIs are held by the CPU interface")]
    [InlineData("CDIA", "ppi:3", 0, "PPIs are held by the CPU interface")]
    [InlineData("CDDI", "ppi:3", 0, "PPIs are held by the CPU interface")]
    [InlineData("VDPEND", "lpi:8192", 0, "no valid LPI IST")]
    [InlineData("CDEN", "lpi:0", 0, "no valid LPI IST")]
    [InlineData("CDHM", "lpi:8192", 0, "no valid LPI IST")]
    [InlineData("CDIA", "lpi:8192", 0, "no valid LPI IST")]
    public void An_INTID_this_IRS_does_not_hold_is_refused_with_the_reason_and_changes_nothing(string op, string id, int value, string reason)
    {
        var irs = Busy();
        var before = Snapshot(irs);
        var o = Run(irs, op, IntId.Parse(id), value);
        Assert.False(o.Ok);
        Assert.Contains(reason, o.Error);
        Assert.Empty(o.Offers());
        Assert.Equal(before, Snapshot(irs));
        Assert.False(irs.TryGetEntry(IntId.Parse(id), out _, out _));
    }

    [Fact]
    public void An_out_of_range_INTID_is_refused_naming_the_operation()
    {
        foreach (var op in new[] { "VDPEND", "CDPEND", "CDEN", "CDDIS", "CDPRI", "CDAFF", "CDIA", "CDDI" })
        {
            var o = Run(Busy(), op, Spi(32), 1);
            Assert.False(o.Ok);
            Assert.Contains(op, o.Error);
        }
    }

    [Theory]
    [InlineData(32u)]
    [InlineData(1023u)]
    [InlineData(0x0100_0000u)]
    [InlineData(uint.MaxValue)]
    public void ConfigureSpiTrigger_refuses_an_SPI_the_VM_does_not_have_and_changes_nothing(uint spi)
    {
        var irs = Busy();
        var before = Snapshot(irs);
        var o = irs.ConfigureSpiTrigger(spi, HandlingMode.Level);
        Assert.False(o.Ok);
        Assert.Contains("IRS_SPI_CFGR", o.Access.Refusal);
        Assert.Contains($"spi:{spi}", o.Access.Refusal);
        Assert.Empty(o.Offers);
        Assert.Null(o.Trigger);
        Assert.Equal(before, Snapshot(irs));
    }

    [Fact]
    public void Activate_of_the_offered_edge_interrupt_makes_it_active_not_pending_and_withdraws_the_offer()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        var o = irs.Activate(Spi(3), 0);
        Assert.True(o.Ok);
        Assert.Equal(IstEffect.Activated, o.Effects);
        Assert.Equal("A", irs.Entry(Spi(3)).State());
        Assert.Equal(new[] { new OfferChange(0, null) }, o.Offers());
    }

    [Fact]
    public void Activate_of_the_offered_level_interrupt_keeps_it_pending_under_HardwareLevel()
    {
        var irs = NewIrs(level: VirtualLevelPolicy.HardwareLevel);
        irs.ConfigureSpiTrigger(3, HandlingMode.Level);
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        var o = irs.Activate(Spi(3), 0);
        Assert.Equal(IstEffect.Activated, o.Effects);
        Assert.Equal("AP", irs.Entry(Spi(3)).State());
        Assert.Equal(new[] { new OfferChange(0, null) }, o.Offers());
        Assert.Null(irs.Offered(0));
    }

    [Fact]
    public void Activate_refuses_an_offer_retargeted_meanwhile_with_no_change()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        irs.CdAffinity(Spi(3), 1);                                  // the guest retargets while VPE 0 acks
        var before = Snapshot(irs);
        var o = irs.Activate(Spi(3), 0);
        Assert.True(o.Ok);
        Assert.Equal(IstEffect.None, o.Effects);
        Assert.Equal(before, Snapshot(irs));
        Assert.Equal("P", irs.Entry(Spi(3)).State());
        Assert.True(irs.Activate(Spi(3), 1).Has(IstEffect.Activated));
    }

    [Fact]
    public void Activate_refuses_an_offer_disabled_meanwhile_with_no_change()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        irs.CdEnable(Spi(3), false);
        var before = Snapshot(irs);
        var o = irs.Activate(Spi(3), 0);
        Assert.Equal(IstEffect.None, o.Effects);
        Assert.Equal(before, Snapshot(irs));
        Assert.Equal("P", irs.Entry(Spi(3)).State());
    }

    [Fact]
    public void Activate_refuses_an_offer_overtaken_by_a_higher_priority_and_reports_the_current_offer()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        Program(irs, 4, vpe: 0, priority: 1);
        irs.Vdpend(Spi(3), true);
        irs.Vdpend(Spi(4), true);
        var o = irs.Activate(Spi(3), 0);
        Assert.Equal(IstEffect.None, o.Effects);
        Assert.Equal("P", irs.Entry(Spi(3)).State());
        Assert.Equal(H(4, 1), irs.Offered(0));
    }

    [Fact]
    public void Deactivate_clears_active_and_an_idle_edge_interrupt_is_not_offered_again()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 0, priority: 6);
        irs.Vdpend(Spi(3), true);
        irs.Activate(Spi(3), 0);
        var o = irs.Deactivate(Spi(3));
        Assert.Equal(IstEffect.Deactivated, o.Effects);
        Assert.Equal("I", irs.Entry(Spi(3)).State());
        Assert.Empty(o.Offers());
        Assert.Equal(IstEffect.None, irs.Deactivate(Spi(3)).Effects);
    }

    [Fact]
    public void Deactivate_of_an_interrupt_pended_again_while_active_offers_it_again()
    {
        var irs = NewIrs();
        Program(irs, 3, vpe: 1, priority: 6);
        irs.Vdpend(Spi(3), true);
        irs.Activate(Spi(3), 1);
        Assert.Equal(IstEffect.Pended, irs.Vdpend(Spi(3), true).Effects);     // A -> AP: not a candidate, no offer
        Assert.Null(irs.Offered(1));
        var o = irs.Deactivate(Spi(3));
        Assert.Equal("P", irs.Entry(Spi(3)).State());
        Assert.Equal(new[] { new OfferChange(1, H(3, 6)) }, o.Offers());
    }

    [Fact]
    public void Vdrcfg_reports_the_ISTE_and_faults_for_an_INTID_that_does_not_exist()
    {
        var irs = Busy();
        Assert.Equal(Icsr.From(irs.Entry(Spi(0))), irs.Vdrcfg(Spi(0)));
        Assert.True(irs.Vdrcfg(Spi(1)).Active);
        Assert.Equal(Icsr.Fault, irs.Vdrcfg(Spi(32)));
        Assert.Equal(Icsr.Fault, irs.Vdrcfg(IntId.Ppi(3)));
        Assert.Equal(Icsr.Fault, irs.Vdrcfg(IntId.Lpi(8192)));
    }

    [Theory]
    [InlineData(VirtualLevelPolicy.EdgeEmulated, HandlingMode.Level, HandlingMode.Edge)]
    [InlineData(VirtualLevelPolicy.EdgeEmulated, HandlingMode.Edge, HandlingMode.Edge)]
    [InlineData(VirtualLevelPolicy.HardwareLevel, HandlingMode.Level, HandlingMode.Level)]
    [InlineData(VirtualLevelPolicy.HardwareLevel, HandlingMode.Edge, HandlingMode.Edge)]
    public void ConfigureSpiTrigger_records_TM_and_sets_HM_Level_only_under_HardwareLevel(VirtualLevelPolicy policy, HandlingMode tm,
        HandlingMode hm)
    {
        var irs = NewIrs(level: policy);
        var o = irs.ConfigureSpiTrigger(7, tm);
        Assert.True(o.Ok);
        if (tm == HandlingMode.Level) Assert.Equal(new IrsFrameEffect.SpiTriggerModeChanged(7, tm), o.Trigger);
        Assert.Equal(tm, irs.TriggerMode(7));
        Assert.Equal(hm, irs.Entry(Spi(7)).HandlingMode);
        Assert.Equal(HandlingMode.Edge, irs.Entry(Spi(6)).HandlingMode);
    }

    [Fact]
    public void HardwareLevel_SPI_reconfigured_to_edge_goes_back_to_HM_Edge()
    {
        var irs = NewIrs(level: VirtualLevelPolicy.HardwareLevel);
        irs.ConfigureSpiTrigger(7, HandlingMode.Level);
        Assert.Equal(HandlingMode.Level, irs.Entry(Spi(7)).HandlingMode);
        Assert.True(irs.ConfigureSpiTrigger(7, HandlingMode.Edge).Ok);
        Assert.Equal(HandlingMode.Edge, irs.Entry(Spi(7)).HandlingMode);
    }

    /// <summary>SEMANTICS.md §0.1: the guest's CD* instructions are not trapped; CDHM on an SPI changes its ISTE's HM as
    /// for any interrupt (QEMU gicv5_set_handling), and an acknowledge then follows that HM.</summary>
    [Fact]
    public void CDHM_on_an_SPI_sets_its_handling_mode_as_untrapped_hardware_does()
    {
        var irs = NewIrs();
        Program(irs, 0, vpe: 0, priority: 5);
        var o = irs.CdHandlingMode(Spi(0), HandlingMode.Level);
        Assert.True(o.Ok, o.Error);
        Assert.Equal(HandlingMode.Level, irs.Entry(Spi(0)).HandlingMode);
        irs.Vdpend(Spi(0), true);
        Assert.True(irs.Activate(Spi(0), 0).Has(IstEffect.Activated));
        Assert.True(irs.Entry(Spi(0)).Pending);                  // HM=Level: the acknowledge keeps Pending
    }

    /// <summary>SEMANTICS.md §0.1: a CDAFF to an IAFFID with no VPE cannot be refused by KVM (not trapped): the interrupt
    /// is routed nowhere, offered to no VPE, until it is retargeted.</summary>
    [Fact]
    public void CDAFF_to_an_IAFFID_with_no_VPE_is_accepted_and_routes_the_interrupt_nowhere_until_retargeted()
    {
        var irs = NewIrs();
        Program(irs, 0, vpe: 0, priority: 5);
        irs.Vdpend(Spi(0), true);
        Assert.Equal(H(0, 5), irs.HppiFor(0));

        var away = irs.CdAffinity(Spi(0), 7);
        Assert.True(away.Ok, away.Error);
        Assert.Equal(7, irs.Entry(Spi(0)).Iaffid);
        Assert.Null(irs.VpeOf(irs.Entry(Spi(0))));
        Assert.Equal(new[] { new OfferChange(0, null) }, away.Offers());   // withdrawn from VPE 0, offered to nobody
        Assert.Null(irs.HppiFor(1));

        var back = irs.CdAffinity(Spi(0), 1);
        Assert.Equal(new[] { new OfferChange(1, H(0, 5)) }, back.Offers());
    }

    [Fact]
    public void Before_the_guest_sets_IRSEN_the_IRS_pends_but_offers_nothing()
    {
        var irs = new VirtualIrs(new VirtualIrsConfig(32, 2));
        Assert.False(irs.Enabled);
        Program(irs, 1, vpe: 0, priority: 4);
        var o = irs.Vdpend(Spi(1), true);
        Assert.True(o.Has(IstEffect.Pended));
        Assert.Empty(o.Offers());
        Assert.Null(irs.HppiFor(0));
        Assert.Equal(new[] { new OfferChange(0, H(1, 4)) }, irs.EnableIrs().Offers);
        Assert.True(irs.Enabled);
    }

    [Fact]
    public void Disabling_the_IRS_withdraws_every_offer_and_enabling_it_restores_them()
    {
        var irs = NewIrs(vpes: 3);
        Program(irs, 1, vpe: 0, priority: 4);
        Program(irs, 2, vpe: 2, priority: 9);
        irs.Vdpend(Spi(1), true);
        irs.Vdpend(Spi(2), true);

        Assert.Equal(new[] { new OfferChange(0, null), new OfferChange(2, null) }, irs.EnableIrs(false).Offers);
        Assert.False(irs.Enabled);
        Assert.All(Enumerable.Range(0, 3), v => Assert.Null(irs.HppiFor(v)));
        Assert.Equal(IstEffect.None, irs.Activate(Spi(1), 0).Effects);
        Assert.True(irs.Entry(Spi(1)).Pending);

        Assert.Equal(new[] { new OfferChange(0, H(1, 4)), new OfferChange(2, H(2, 9)) }, irs.EnableIrs(true).Offers);
    }

    [Fact]
    public void A_disabled_IRS_still_pends_but_offers_nothing()
    {
        var irs = NewIrs();
        Program(irs, 1, vpe: 0, priority: 4);
        irs.EnableIrs(false);
        var o = irs.Vdpend(Spi(1), true);
        Assert.True(o.Has(IstEffect.Pended));
        Assert.Empty(o.Offers());
        Assert.Null(irs.Offered(0));
    }

    [Fact]
    public void Rebuild_from_the_ISTs_reproduces_the_offers()
    {
        var irs = NewIrs(vpes: 3);
        Program(irs, 1, vpe: 0, priority: 4);
        Program(irs, 2, vpe: 0, priority: 3);
        Program(irs, 3, vpe: 2, priority: 9);
        Program(irs, 4, vpe: 1, priority: 1, enable: false);
        foreach (var s in new uint[] { 1, 2, 3, 4 }) irs.Vdpend(Spi(s), true);
        irs.Activate(Spi(2), 0);
        var offers = Enumerable.Range(0, 3).Select(irs.Offered).ToArray();
        Assert.Equal(new Hppi?[] { H(1, 4), null, H(3, 9) }, offers);

        irs.Rebuild();
        Assert.Equal(offers, Enumerable.Range(0, 3).Select(irs.Offered).ToArray());
        Assert.Equal(offers, Enumerable.Range(0, 3).Select(irs.HppiFor).ToArray());
        // The rebuilt index keeps working: deactivating spi:2 and re-pending it makes it VPE 0's HPPI again.
        irs.Deactivate(Spi(2));
        Assert.Equal(new[] { new OfferChange(0, H(2, 3)) }, irs.Vdpend(Spi(2), true).Offers());
    }

    // ---- Any sequence of operations: offers are exactly the HPPIs, and every change is reported ---------------------

    public sealed record Op(int Kind, uint Spi, int Value, bool Flag)
    {
        public override string ToString() => Kind switch
        {
            0 => $"VDPEND(spi:{Spi}, {Flag})",
            1 => $"CDEN(spi:{Spi}, {Flag})",
            2 => $"CDPRI(spi:{Spi}, {Value})",
            3 => $"CDAFF(spi:{Spi}, vpe {Value})",
            4 => $"CDIA(spi:{Spi}) from vpe {Value}",
            5 => $"CDIA(HPPI) from vpe {Value}",
            6 => $"CDDI(spi:{Spi})",
            7 => $"IRSEN={Flag}",
            _ => "ConfigureSpiTrigger",
        };
    }

    private static Hppi? Oracle(VirtualIrs irs, int vpe)
    {
        if (!irs.Enabled) return null;
        Hppi? best = null;
        for (uint s = 0; s < irs.Config.SpiCount; s++)
        {
            var e = irs.Entry(Spi(s));
            if (e.Pending && e.Enabled && !e.Active && e.Iaffid == vpe) best = Hppi.Best(best, new Hppi(Spi(s), e.Priority));
        }
        return best;
    }

    [Fact]
    public void For_any_operations_each_VPE_is_offered_exactly_its_HPPI_and_every_change_is_reported() =>
        Gen.Select(Gen.Select(Gen.Int[0, 8], Gen.UInt[0, 7], Gen.Int[0, 31], Gen.Bool, (k, s, v, f) => new Op(k, s, v, f)).Array[1, 60],
                   Gen.Int[1, 5], Gen.Bool)
            .Sample((ops, bits, hardwareLevel) =>
            {
                const int vpes = 3;
                var irs = NewIrs(vpes: vpes, priorityBits: bits,
                    level: hardwareLevel ? VirtualLevelPolicy.HardwareLevel : VirtualLevelPolicy.EdgeEmulated);
                var shadow = new Hppi?[vpes];
                foreach (var op in ops)
                {
                    var vpe = op.Value % vpes;
                    var hppiBefore = irs.HppiFor(vpe);
                    IEnumerable<OfferChange> changes;
                    switch (op.Kind)
                    {
                        case 7: changes = irs.EnableIrs(op.Flag).Offers; break;
                        case 8: changes = irs.ConfigureSpiTrigger(op.Spi, op.Flag ? HandlingMode.Level : HandlingMode.Edge).Offers; break;
                        case 5 when hppiBefore is { } h:
                            var ack = irs.Activate(h.Id, vpe);
                            Assert.True(ack.Has(IstEffect.Activated));
                            changes = ack.Offers();
                            break;
                        default:
                            var o = op.Kind switch
                            {
                                0 => irs.Vdpend(Spi(op.Spi), op.Flag),
                                1 => irs.CdEnable(Spi(op.Spi), op.Flag),
                                2 => irs.CdPriority(Spi(op.Spi), op.Value),
                                3 => irs.CdAffinity(Spi(op.Spi), vpe),
                                4 or 5 => irs.Activate(Spi(op.Spi), vpe),
                                _ => irs.Deactivate(Spi(op.Spi)),
                            };
                            Assert.True(o.Ok, o.Error);
                            // The IRS activates only what it presents as that VPE's HPPI.
                            if (o.Has(IstEffect.Activated)) Assert.Equal(hppiBefore?.Id, o.Id);
                            changes = o.Offers();
                            break;
                    }
                    foreach (var c in changes) shadow[c.Vpe] = c.Hppi;
                    for (var v = 0; v < vpes; v++)
                    {
                        Assert.Equal(Oracle(irs, v), irs.HppiFor(v));
                        Assert.Equal(irs.HppiFor(v), irs.Offered(v));
                        Assert.Equal(irs.Offered(v), shadow[v]);
                    }
                    Assert.All(irs.Entries(), x => Assert.Equal(0u, x.Entry.Raw & ~IstEntry.DefinedMask));
                }
                var offers = Enumerable.Range(0, vpes).Select(irs.Offered).ToArray();
                irs.Rebuild();
                Assert.Equal(offers, Enumerable.Range(0, vpes).Select(irs.Offered).ToArray());
            });
}
