using CsCheck;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The virtual CPU interface (SEMANTICS.md §1, §2, §3.4): running priority, the signal rule, the HPPI choice,
/// acknowledge, priority drop, residency and the doorbell rule.</summary>
public class CpuInterfaceRulesSpecs
{
    internal static VirtualCpuInterface Cpu(bool resident = true, int pcr = 31, uint apr = 0, bool enabled = true) =>
        new(0) { Resident = resident, Pcr = Priority.Of(pcr), Apr = apr, Enabled = enabled, IrsEnabled = true };

    private static void PendPpi(VirtualCpuInterface c, uint ppi, int priority, HandlingMode hm = HandlingMode.Edge, bool enabled = true) =>
        c.Ppis[IntId.Ppi(ppi)] = IstEntry.Zero.WithPending(true).WithEnabled(enabled).WithHandlingMode(hm).WithPriority(Priority.Of(priority));

    private static Hppi H(string id, int priority) => new(IntId.Parse(id), Priority.Of(priority));

    [Theory]
    [InlineData(0x0000_0000u, 32)]
    [InlineData(0x0000_0001u, 0)]
    [InlineData(0x0000_0100u, 8)]
    [InlineData(0x0000_0110u, 4)]
    [InlineData(0x8000_0000u, 31)]
    [InlineData(0x8000_0100u, 8)]
    [InlineData(0xFFFF_FFFFu, 0)]
    public void Running_priority_is_the_lowest_set_APR_bit_and_32_when_none(uint apr, int running)
    {
        Assert.Equal(running, CpuInterfaceRules.RunningPriority(apr));
        Assert.Equal(running, Cpu(apr: apr).RunningPriority);
    }

    [Theory]
    //          EN     PCR  APR         mask
    [InlineData(true, 31, 0x000u, 32)]
    [InlineData(true, 10, 0x000u, 11)]
    [InlineData(true, 0, 0x000u, 1)]
    [InlineData(true, 31, 0x100u, 8)]
    [InlineData(true, 5, 0x100u, 6)]
    [InlineData(true, 31, 0x001u, 0)]
    [InlineData(false, 31, 0x000u, 0)]
    public void Effective_mask_is_EN_times_min_of_running_priority_and_PCR_plus_1(bool en, int pcr, uint apr, int mask) =>
        Assert.Equal(mask, CpuInterfaceRules.EffectiveMask(Cpu(pcr: pcr, apr: apr, enabled: en)));

    [Theory]
    //          EN     PCR  APR      prio  signals
    [InlineData(true, 31, 0x000u, 31, true)]
    [InlineData(true, 31, 0x000u, 0, true)]
    [InlineData(true, 10, 0x000u, 10, true)]
    [InlineData(true, 10, 0x000u, 11, false)]
    [InlineData(true, 31, 0x100u, 8, false)]
    [InlineData(true, 31, 0x100u, 7, true)]
    [InlineData(true, 5, 0x100u, 6, false)]
    [InlineData(true, 31, 0x001u, 0, false)]
    [InlineData(false, 31, 0x000u, 0, false)]
    public void An_interrupt_signals_iff_its_priority_beats_the_running_priority_is_at_most_PCR_and_EN_is_set(bool en, int pcr,
        uint apr, int priority, bool signals) =>
        Assert.Equal(signals, CpuInterfaceRules.Signals(Cpu(pcr: pcr, apr: apr, enabled: en), Priority.Of(priority)));

    [Fact]
    public void The_signal_rule_is_D_MSQKF_for_every_input() =>
        Gen.Select(Gen.Bool, Gen.Int[0, 31], Gen.UInt, Gen.Int[0, 31]).Sample((en, pcr, apr, p) =>
        {
            var c = Cpu(pcr: pcr, apr: apr, enabled: en);
            Assert.Equal(p < c.RunningPriority && p <= pcr && en, CpuInterfaceRules.Signals(c, Priority.Of(p)));
        });

    [Theory]
    [InlineData("spi:9", 4, "spi:1", 5, true)]
    [InlineData("spi:1", 5, "spi:9", 4, false)]
    [InlineData("spi:1", 6, "ppi:0", 5, false)]
    [InlineData("ppi:9", 5, "spi:1", 5, true)]
    [InlineData("spi:1", 5, "ppi:9", 5, false)]
    [InlineData("ppi:9", 5, "lpi:0", 5, true)]
    [InlineData("spi:2", 5, "spi:3", 5, true)]
    [InlineData("spi:3", 5, "spi:2", 5, false)]
    [InlineData("ppi:2", 5, "ppi:3", 5, true)]
    [InlineData("lpi:8192", 5, "spi:0", 5, true)]
    public void HPPI_choice_lower_priority_wins_then_PPI_over_IRS_then_lower_INTID(string a, int pa, string b, int pb, bool aWins)
    {
        Assert.Equal(aWins, H(a, pa).Beats(H(b, pb)));
        Assert.Equal(aWins ? H(a, pa) : H(b, pb), Hppi.Best(H(a, pa), H(b, pb)));
        Assert.Equal(aWins ? H(a, pa) : H(b, pb), Hppi.Best(H(b, pb), H(a, pa)));
    }

    [Fact]
    public void Best_of_nothing_and_something_is_that_something()
    {
        Assert.Equal(H("spi:1", 3), Hppi.Best(null, H("spi:1", 3)));
        Assert.Equal(H("spi:1", 3), Hppi.Best(H("spi:1", 3), null));
        Assert.Null(Hppi.Best(null, null));
    }

    [Fact]
    public void The_cpu_interface_HPPI_is_the_better_of_its_PPIs_and_the_IRS_offer()
    {
        var c = Cpu();
        c.Offered = H("spi:0", 5);
        Assert.Equal(H("spi:0", 5), CpuInterfaceRules.HighestPending(c));
        PendPpi(c, 7, 5);
        Assert.Equal(H("ppi:7", 5), CpuInterfaceRules.HighestPending(c));
        c.Offered = H("spi:0", 4);
        Assert.Equal(H("spi:0", 4), CpuInterfaceRules.HighestPending(c));
    }

    [Fact]
    public void Only_pending_enabled_inactive_PPIs_are_candidates_lowest_priority_then_lowest_id()
    {
        var c = Cpu();
        PendPpi(c, 20, 6);
        PendPpi(c, 9, 6);
        PendPpi(c, 30, 2, enabled: false);
        c.Ppis[31] = IstEntry.Zero.WithPending(true).WithActive(true).WithEnabled(true).WithPriority(Priority.Of(1));
        c.Ppis[32] = IstEntry.Zero.WithEnabled(true).WithPriority(Priority.Of(0));
        Assert.Equal(H("ppi:9", 6), CpuInterfaceRules.BestPpi(c));
    }

    [Fact]
    public void The_best_PPI_is_found_in_whichever_bank_it_sits_lowest_id_first_across_banks()
    {
        var c = Cpu();
        PendPpi(c, 100, 5);
        Assert.Equal(H("ppi:100", 5), CpuInterfaceRules.BestPpi(c));
        PendPpi(c, 70, 5);
        Assert.Equal(H("ppi:70", 5), CpuInterfaceRules.BestPpi(c));
        PendPpi(c, 3, 6);
        Assert.Equal(H("ppi:70", 5), CpuInterfaceRules.BestPpi(c));
        PendPpi(c, 127, 1);
        Assert.Equal(H("ppi:127", 1), CpuInterfaceRules.BestPpi(c));
    }

    [Fact]
    public void A_PPI_event_on_an_INTID_that_is_not_a_PPI_is_refused_by_name_before_its_rule_runs()
    {
        var c = Cpu();
        var refused = Assert.Throws<ArgumentException>(() =>
            CpuInterfaceRules.ApplyPpi(c, IntId.Spi(5), _ => throw new Xunit.Sdk.XunitException("the rule ran")));
        Assert.Contains("spi:5 is not a PPI", refused.Message);
        Assert.Equal(0, c.Ppis.BanksAllocated);
    }

    [Fact]
    public void Ack_on_a_non_resident_VPE_returns_none_and_changes_nothing()
    {
        var c = Cpu(resident: false);
        c.Offered = H("spi:3", 4);
        PendPpi(c, 3, 4);
        Assert.Equal(AckChoice.None, CpuInterfaceRules.ChooseAck(c));
        Assert.Equal(0u, c.Apr);
        Assert.Equal("P", c.Ppis[3].State());
        Assert.False(CpuInterfaceRules.IrqAsserted(c));
    }

    [Fact]
    public void Ack_of_an_HPPI_that_does_not_signal_returns_none()
    {
        var c = Cpu(pcr: 3);
        c.Offered = H("spi:3", 4);
        Assert.Equal(AckChoice.None, CpuInterfaceRules.ChooseAck(c));
        Assert.False(CpuInterfaceRules.IrqAsserted(c));
        c.Pcr = Priority.Of(4);
        Assert.True(CpuInterfaceRules.IrqAsserted(c));
    }

    [Fact]
    public void Ack_of_an_IRS_offer_leaves_activation_and_APR_to_the_IRS_answer()
    {
        var c = Cpu();
        c.Offered = H("spi:3", 4);
        Assert.Equal(new AckChoice(AckSource.Irs, H("spi:3", 4)), CpuInterfaceRules.ChooseAck(c));
        Assert.Equal(0u, c.Apr);
        CpuInterfaceRules.CompleteAck(c, Priority.Of(4));
        Assert.Equal(1u << 4, c.Apr);
    }

    [Theory]
    [InlineData(HandlingMode.Edge, "A")]
    [InlineData(HandlingMode.Level, "AP")]
    public void Ack_of_a_PPI_activates_it_and_sets_its_APR_bit(HandlingMode hm, string after)
    {
        var c = Cpu();
        PendPpi(c, 3, 6, hm);
        c.Offered = H("spi:0", 7);
        Assert.Equal(new AckChoice(AckSource.Ppi, H("ppi:3", 6)), CpuInterfaceRules.ChooseAck(c));
        Assert.Equal(after, c.Ppis[3].State());
        Assert.Equal(1u << 6, c.Apr);
        Assert.Equal(6, c.RunningPriority);
    }

    [Fact]
    public void Priority_drop_clears_only_the_lowest_set_APR_bit_so_a_preempting_interrupt_drops_first()
    {
        var c = Cpu();
        PendPpi(c, 1, 8);
        Assert.Equal(AckSource.Ppi, CpuInterfaceRules.ChooseAck(c).Source);
        PendPpi(c, 2, 4);                                  // preempts: 4 < running priority 8
        Assert.Equal(H("ppi:2", 4), CpuInterfaceRules.ChooseAck(c).Interrupt);
        Assert.Equal((1u << 4) | (1u << 8), c.Apr);

        Assert.Equal(4, CpuInterfaceRules.PriorityDrop(c));
        Assert.Equal(1u << 8, c.Apr);
        Assert.Equal(8, c.RunningPriority);
        Assert.Equal(8, CpuInterfaceRules.PriorityDrop(c));
        Assert.Equal(0u, c.Apr);
        Assert.Equal(Priority.Idle, c.RunningPriority);
        Assert.Null(CpuInterfaceRules.PriorityDrop(c));
        // CDEOI has no INTID and no effect on P/A: both PPIs are still active.
        Assert.Equal(("A", "A"), (c.Ppis[1].State(), c.Ppis[2].State()));
    }

    [Fact]
    public void Priority_drop_clears_exactly_one_bit_for_any_APR() =>
        Gen.UInt.Where(a => a != 0).Sample(apr =>
        {
            var c = Cpu(apr: apr);
            var dropped = CpuInterfaceRules.PriorityDrop(c);
            Assert.Equal(System.Numerics.BitOperations.TrailingZeroCount(apr), dropped);
            Assert.Equal(apr & ~(1u << dropped!.Value), c.Apr);
        });

    [Fact]
    public void ApplyPpi_refuses_an_interrupt_that_is_not_a_PPI()
    {
        var c = Cpu();
        Assert.Throws<ArgumentException>(() => CpuInterfaceRules.ApplyPpi(c, IntId.Spi(3), e => InterruptStateMachine.SetPending(e, true)));
        var t = CpuInterfaceRules.ApplyPpi(c, IntId.Ppi(3), e => InterruptStateMachine.SetPending(e, true));
        Assert.True(t.Has(IstEffect.Pended));
        Assert.True(c.Ppis[3].Pending);
    }

    [Theory]
    //          EN     PCR  APR      DBPM (-1 = no doorbell)
    [InlineData(true, 31, 0x000u, 31)]
    [InlineData(true, 10, 0x000u, 10)]
    [InlineData(true, 0, 0x000u, 0)]
    [InlineData(true, 31, 0x100u, 7)]
    [InlineData(true, 31, 0x001u, -1)]
    [InlineData(false, 31, 0x000u, -1)]
    public void Doorbell_priority_mask_is_the_effective_mask_minus_1_and_none_at_mask_0(bool en, int pcr, uint apr, int dbpm)
    {
        var requested = CpuInterfaceRules.DoorbellPriorityMask(Cpu(pcr: pcr, apr: apr, enabled: en));
        Assert.Equal(dbpm < 0 ? null : Priority.Of(dbpm), requested);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Make_non_resident_clears_DbFired_and_records_the_doorbell_request(bool withDoorbell)
    {
        var c = Cpu();
        c.DbFired = true;
        CpuInterfaceRules.MakeNonResident(c, withDoorbell ? Priority.Of(12) : null);
        Assert.False(c.Resident);
        Assert.False(c.DbFired);
        Assert.Equal(withDoorbell ? new DoorbellRequest(true, Priority.Of(12)) : DoorbellRequest.None, c.Doorbell);
    }

    [Fact]
    public void Make_resident_withdraws_the_doorbell_request()
    {
        var c = Cpu(resident: false);
        c.Doorbell = new DoorbellRequest(true, Priority.Of(31));
        CpuInterfaceRules.MakeResident(c);
        Assert.True(c.Resident);
        Assert.Equal(DoorbellRequest.None, c.Doorbell);
    }

    [Theory]
    [InlineData(4, 5, DbpmComparison.Inclusive, true)]
    [InlineData(5, 5, DbpmComparison.Inclusive, true)]
    [InlineData(6, 5, DbpmComparison.Inclusive, false)]
    [InlineData(4, 5, DbpmComparison.Strict, true)]
    [InlineData(5, 5, DbpmComparison.Strict, false)]
    [InlineData(6, 5, DbpmComparison.Strict, false)]
    [InlineData(31, 31, DbpmComparison.Inclusive, true)]
    [InlineData(31, 31, DbpmComparison.Strict, false)]
    public void DBPM_comparison_is_strict_or_inclusive_at_equal_priority(int priority, int dbpm, DbpmComparison cmp, bool passes) =>
        Assert.Equal(passes, CpuInterfaceRules.PassesDbpm(Priority.Of(priority), Priority.Of(dbpm), cmp));

    [Theory]
    //          resident armed  DBPM prio cmp                        rings
    [InlineData(false, true, 10, 9, DbpmComparison.Inclusive, true)]
    [InlineData(false, true, 10, 10, DbpmComparison.Inclusive, true)]
    [InlineData(false, true, 10, 10, DbpmComparison.Strict, false)]
    [InlineData(false, true, 10, 9, DbpmComparison.Strict, true)]
    [InlineData(false, true, 10, 11, DbpmComparison.Inclusive, false)]
    [InlineData(true, true, 10, 9, DbpmComparison.Inclusive, false)]
    [InlineData(false, false, 10, 9, DbpmComparison.Inclusive, false)]
    public void A_doorbell_rings_only_for_a_non_resident_armed_VPE_whose_HPPI_passes_DBPM(bool resident, bool armed, int dbpm,
        int priority, DbpmComparison cmp, bool rings)
    {
        var c = Cpu(resident: resident);
        c.Doorbell = new DoorbellRequest(armed, Priority.Of(dbpm));
        c.Offered = H("spi:5", priority);
        Assert.Equal(rings, CpuInterfaceRules.TryRaiseDoorbell(c, cmp));
        Assert.Equal(rings, c.DbFired);
        Assert.Equal(armed && !rings, c.Doorbell.Armed);
    }

    [Fact]
    public void A_doorbell_does_not_ring_with_nothing_pending()
    {
        var c = Cpu();
        CpuInterfaceRules.MakeNonResident(c, Priority.Of(31));
        Assert.False(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));
        Assert.False(c.DbFired);
        Assert.True(c.Doorbell.Armed);
    }

    [Fact]
    public void A_pending_PPI_does_not_ring_the_doorbell()
    {
        var c = Cpu();
        CpuInterfaceRules.MakeNonResident(c, Priority.Of(31));
        PendPpi(c, 3, 20);
        Assert.False(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));   // KVM kicks for it: WfiWakeSpecs
    }

    [Fact]
    public void A_doorbell_rings_once_per_non_resident_period()
    {
        var c = Cpu();
        CpuInterfaceRules.MakeNonResident(c, Priority.Of(31));
        c.Offered = H("spi:5", 9);
        Assert.True(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));
        c.Offered = H("spi:6", 2);
        Assert.False(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));
        Assert.True(c.DbFired);

        CpuInterfaceRules.MakeResident(c);
        CpuInterfaceRules.MakeNonResident(c, Priority.Of(31));     // next WFI: a new request
        Assert.False(c.DbFired);
        Assert.True(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));
        Assert.True(c.DbFired);
    }

    // ---- Reset values and priority 0 (SEMANTICS.md §0.1: QEMU's CPU interface, the merged KVM) ----------

    [Fact]
    public void A_CPU_interface_resets_with_PCR_0_and_EN_0_and_signals_nothing_until_the_guest_enables_it()
    {
        var c = new VirtualCpuInterface(0) { Resident = true, IrsEnabled = true };
        Assert.Equal((0, false), (c.Pcr.Value, c.Enabled));
        PendPpi(c, 3, priority: 0);
        Assert.Equal(0, CpuInterfaceRules.EffectiveMask(c));
        Assert.False(CpuInterfaceRules.IrqAsserted(c));                        // EN = 0: not even priority 0 signals
        Assert.Equal(AckSource.None, CpuInterfaceRules.ChooseAck(c).Source);
        Assert.Null(CpuInterfaceRules.DoorbellPriorityMask(c));                // mask 0: no doorbell request at a WFI put
        CpuInterfaceRules.GuestEnable(c, Priority.Of(31));
        Assert.Equal((31, true), (c.Pcr.Value, c.Enabled));
        Assert.True(CpuInterfaceRules.IrqAsserted(c));
    }

    [Fact]
    public void Enabled_with_the_reset_PCR_only_priority_0_signals()
    {
        var c = new VirtualCpuInterface(0) { Resident = true, Enabled = true };
        PendPpi(c, 5, priority: 1);
        Assert.False(CpuInterfaceRules.IrqAsserted(c));
        PendPpi(c, 3, priority: 0);
        Assert.Equal(new AckChoice(AckSource.Ppi, H("ppi:3", 0)), CpuInterfaceRules.ChooseAck(c));
    }

    [Fact]
    public void With_SCTLR_NMI_set_priority_0_is_an_NMI_that_CDIA_does_not_acknowledge_and_CDNMIA_does()
    {
        var c = Cpu();
        c.Nmi = true;
        PendPpi(c, 3, priority: 0);
        PendPpi(c, 5, priority: 4);
        Assert.True(CpuInterfaceRules.IrqAsserted(c));                         // Superpriority still signals (the NMI line)
        Assert.Equal(AckSource.None, CpuInterfaceRules.ChooseAck(c).Source);   // "CDIA but HPPI is NMI": not even ppi:5
        Assert.Equal(0u, c.Apr);
        Assert.Equal(new AckChoice(AckSource.Ppi, H("ppi:3", 0)), CpuInterfaceRules.ChooseAck(c, cdnmia: true));
        Assert.Equal(AckSource.None, CpuInterfaceRules.ChooseAck(c, cdnmia: true).Source);  // ppi:5 is no NMI
    }

    [Fact]
    public void With_SCTLR_NMI_clear_as_the_guest_boots_priority_0_is_acknowledged_by_CDIA_and_CDNMIA_takes_nothing()
    {
        var c = Cpu();
        Assert.False(c.Nmi);
        PendPpi(c, 3, priority: 0);
        Assert.Equal(AckSource.None, CpuInterfaceRules.ChooseAck(c, cdnmia: true).Source);
        Assert.Equal(new AckChoice(AckSource.Ppi, H("ppi:3", 0)), CpuInterfaceRules.ChooseAck(c));
    }
}

/// <summary>SEMANTICS.md §0.1: what wakes a vCPU blocked in WFI, as the merged code and QEMU have it.</summary>
public class WfiWakeSpecs
{
    private static VirtualCpuInterface InWfi(bool irsEnabled = true, int pcr = 31)
    {
        var c = CpuInterfaceRulesSpecs.Cpu(pcr: pcr);
        c.IrsEnabled = irsEnabled;
        CpuInterfaceRules.MakeNonResident(c, CpuInterfaceRules.DoorbellPriorityMask(c));
        return c;
    }

    [Fact]
    public void A_pending_PPI_never_rings_the_IRS_doorbell_KVM_kicks_the_vcpu_instead()
    {
        var c = InWfi();
        Assert.True(c.Doorbell.Armed);
        c.Ppis[3] = IstEntry.Zero.WithPending(true).WithEnabled(true).WithPriority(Priority.Of(4));

        Assert.False(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));
        Assert.False(c.DbFired);
        Assert.True(CpuInterfaceRules.PpiKicks(c));
    }

    [Fact]
    public void An_IRS_interrupt_rings_the_doorbell_and_a_PPI_that_cannot_signal_kicks_nothing()
    {
        var c = InWfi();
        c.Offered = new Hppi(IntId.Spi(5), Priority.Of(8));
        Assert.True(CpuInterfaceRules.TryRaiseDoorbell(c, DbpmComparison.Inclusive));

        var masked = InWfi(pcr: 2);
        masked.Ppis[3] = IstEntry.Zero.WithPending(true).WithEnabled(true).WithPriority(Priority.Of(4));
        Assert.False(CpuInterfaceRules.PpiKicks(masked));                 // priority 4 does not pass PCR 2
        var resident = CpuInterfaceRulesSpecs.Cpu();
        resident.Ppis[3] = masked.Ppis[3];
        Assert.False(CpuInterfaceRules.PpiKicks(resident));               // a resident VPE signals its IRQ instead
    }

    [Fact]
    public void The_doorbell_request_needs_the_guests_IRS_enabled()
    {
        var off = CpuInterfaceRulesSpecs.Cpu();
        off.IrsEnabled = false;
        Assert.Null(CpuInterfaceRules.DoorbellPriorityMask(off));
        Assert.Equal(Priority.Of(31), CpuInterfaceRules.DoorbellPriorityMask(CpuInterfaceRulesSpecs.Cpu()));
        var c = InWfi(irsEnabled: false);
        Assert.False(c.Doorbell.Armed);
    }

    [Fact]
    public void The_doorbell_request_needs_a_non_zero_effective_mask()
    {
        var disabled = CpuInterfaceRulesSpecs.Cpu(enabled: false);                                                // ICC_CR0.EN = 0: mask 0
        Assert.Null(CpuInterfaceRules.DoorbellPriorityMask(disabled));
        var busy = CpuInterfaceRulesSpecs.Cpu(apr: 1);                                                            // priority 0 active: mask 0
        Assert.Null(CpuInterfaceRules.DoorbellPriorityMask(busy));
    }
}
