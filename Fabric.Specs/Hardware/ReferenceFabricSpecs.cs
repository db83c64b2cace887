using Fabric.Hardware.Protocol;
using CsCheck;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Reference;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The sequential reference fabric (VmModel, ReferenceFabric): the hardware units composed end to end, and
/// the invariants of DESIGN.md §4 on small, readable scenarios.</summary>
public class ReferenceFabricSpecs
{
    private static readonly VirtualIrsConfig TwoVpes = new(32, 2);

    private static FabricPolicies Policies(TrackingPolicy tracking = TrackingPolicy.Push, NotifyPolicy notify = NotifyPolicy.OnDeactivate,
        DbpmComparison dbpm = DbpmComparison.Inclusive) => new(tracking, notify, VirtualLevelPolicy.EdgeEmulated, dbpm);

    private static VmModel Vm(FabricPolicies? policies = null) => new(0, TwoVpes, policies ?? Policies());

    /// <summary>The guest's boot programming of one SPI.</summary>
    private static void Boot(VmModel vm, uint spi, int vpe = 0, int priority = 8, HandlingMode tm = HandlingMode.Edge)
    {
        Assert.Null(vm.ConfigureSpi(spi, tm));
        Assert.Null(vm.Guest(new IrsProtocol.CdPriority(IntId.Spi(spi), priority)));
        Assert.Null(vm.Guest(new IrsProtocol.CdAffinity(IntId.Spi(spi), vpe)));
        Assert.Null(vm.Guest(new IrsProtocol.CdEnable(IntId.Spi(spi), true)));
    }

    /// <summary>The guest's handler: CDIA, CDEOI, CDDI. Returns the acknowledged INTID.</summary>
    private static IntId? Handle(VmModel vm, int vpe)
    {
        var id = vm.Cdia(vpe);
        if (id is not { } got) return null;
        Assert.NotNull(vm.Cdeoi(vpe));
        Assert.Null(vm.Cddi(vpe, got));
        return got;
    }

    [Fact]
    public void Edge_lifecycle_under_push_notifies_once_at_CDDI_and_empties_the_AP_list()
    {
        var vm = Vm();
        Boot(vm, 3);
        vm.Load(0);
        Assert.Null(vm.Inject(3, true));
        Assert.Equal(new uint[] { 3 }, vm.ApList.Entries);
        Assert.Equal(IntId.Spi(3), vm.Cdia(0));
        Assert.Equal("A", vm.Irs.Entry(IntId.Spi(3)).State());
        Assert.Equal(8, vm.Cdeoi(0));
        Assert.Equal(0L, vm.Counters.Notified);
        Assert.Null(vm.Cddi(0, IntId.Spi(3)));
        Assert.Equal("I", vm.Irs.Entry(IntId.Spi(3)).State());
        Assert.Equal((1L, 1L, 1L, 1L), (vm.Counters.Injected, vm.Counters.Acknowledged, vm.Counters.Deactivated, vm.Counters.Notified));
        Assert.Equal(1L, vm.NotifiedPerSpi[3]);
        Assert.Empty(vm.ApList.Entries);
        Assert.Null(vm.Cdia(0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Edge_lifecycle_under_fold_notifies_at_the_next_exit_or_put(bool atPut)
    {
        var vm = Vm(Policies(TrackingPolicy.Fold));
        Boot(vm, 3);
        vm.Load(0);
        vm.Inject(3, true);
        vm.Exit();                                                      // a fold while it is still pending: kept
        Assert.Equal(new uint[] { 3 }, vm.ApList.Entries);
        Assert.Equal(IntId.Spi(3), Handle(vm, 0));
        Assert.Equal((1L, 0L), (vm.Counters.Deactivated, vm.Counters.Notified));
        Assert.Equal(new uint[] { 3 }, vm.ApList.Entries);

        if (atPut) vm.Put(0, wfi: false);
        else vm.Exit();
        Assert.Equal(1L, vm.Counters.Notified);
        Assert.Empty(vm.ApList.Entries);
        vm.Exit();
        Assert.Equal(1L, vm.Counters.Notified);
    }

    [Theory]
    [InlineData(TrackingPolicy.Push, 2L)]
    [InlineData(TrackingPolicy.Fold, 1L)]
    public void Reinjection_while_active_goes_AP_keeps_one_entry_and_is_delivered_again_after_CDDI(TrackingPolicy tracking, long notifiedBeforeFold)
    {
        var vm = Vm(Policies(tracking));
        Boot(vm, 3);
        vm.Load(0);
        vm.Inject(3, true);
        Assert.Equal(IntId.Spi(3), vm.Cdia(0));
        vm.Inject(3, true);
        Assert.Equal("AP", vm.Irs.Entry(IntId.Spi(3)).State());
        Assert.Equal(new uint[] { 3 }, vm.ApList.Entries);
        Assert.Null(vm.Cdia(0));                                         // running priority 8: no self-preemption
        vm.Cdeoi(0);
        Assert.Null(vm.Cdia(0));                                         // still active: not a candidate
        vm.Cddi(0, IntId.Spi(3));
        Assert.Equal("P", vm.Irs.Entry(IntId.Spi(3)).State());
        Assert.Equal(new uint[] { 3 }, vm.ApList.Entries);

        Assert.Equal(IntId.Spi(3), Handle(vm, 0));
        vm.Exit();
        Assert.Equal(notifiedBeforeFold, vm.Counters.Notified);
        Assert.Equal((2L, 2L, 0L), (vm.Counters.Injected, vm.Counters.Acknowledged, vm.Counters.Coalesced));
        Assert.Empty(vm.ApList.Entries);
    }

    [Fact]
    public void Two_injections_before_the_ack_coalesce_and_injected_is_acknowledged_plus_coalesced()
    {
        var vm = Vm();
        Boot(vm, 3);
        vm.Load(0);
        vm.Inject(3, true);
        vm.Inject(3, true);
        Assert.Equal(IntId.Spi(3), Handle(vm, 0));
        Assert.Null(vm.Cdia(0));
        Assert.Equal((2L, 1L, 1L), (vm.Counters.Injected, vm.Counters.Coalesced, vm.Counters.Acknowledged));
        Assert.Equal(vm.Counters.Injected, vm.Counters.Acknowledged + vm.Counters.Coalesced);
        Assert.Equal(1L, vm.Counters.Notified);
    }

    [Fact]
    public void An_injection_after_a_WFI_put_rings_the_doorbell()
    {
        var vm = Vm();
        Boot(vm, 3);
        vm.Load(0);
        vm.Put(0, wfi: true);
        Assert.Equal(new DoorbellRequest(true, Priority.Of(31)), vm.Cpus[0].Doorbell);
        Assert.Equal(0L, vm.Counters.Doorbells);
        vm.Inject(3, true);
        Assert.Equal(1L, vm.Counters.Doorbells);
        Assert.True(vm.Cpus[0].DbFired);
        Assert.Null(vm.Cdia(0));                                         // non-resident: the guest cannot ack yet
        vm.Load(0);
        Assert.Equal(IntId.Spi(3), vm.Cdia(0));
    }

    [Fact]
    public void No_doorbell_after_a_put_that_is_not_WFI()
    {
        var vm = Vm();
        Boot(vm, 3);
        vm.Load(0);
        vm.Put(0, wfi: false);
        vm.Inject(3, true);
        Assert.Equal(0L, vm.Counters.Doorbells);
        Assert.False(vm.Cpus[0].DbFired);
    }

    [Fact]
    public void A_second_injection_in_the_same_non_resident_period_does_not_ring_again()
    {
        var vm = Vm();
        Boot(vm, 3, priority: 8);
        Boot(vm, 4, priority: 4);
        vm.Load(0);
        vm.Put(0, wfi: true);
        vm.Inject(3, true);
        vm.Inject(4, true);                                              // a new, better HPPI: the request is spent
        Assert.Equal(1L, vm.Counters.Doorbells);

        vm.Load(0);
        Assert.Equal(IntId.Spi(4), Handle(vm, 0));
        Assert.Equal(IntId.Spi(3), Handle(vm, 0));
        vm.Put(0, wfi: true);                                            // next WFI: a fresh request
        vm.Inject(4, true);
        Assert.Equal(2L, vm.Counters.Doorbells);
    }

    [Fact]
    public void An_interrupt_already_pending_at_a_WFI_put_rings_at_once()
    {
        var vm = Vm();
        Boot(vm, 3);
        vm.Load(0);
        vm.Inject(3, true);
        Assert.Equal(0L, vm.Counters.Doorbells);                         // resident: no doorbell
        vm.Put(0, wfi: true);
        Assert.Equal(1L, vm.Counters.Doorbells);
        Assert.True(vm.Cpus[0].DbFired);
    }

    [Fact]
    public void A_doorbell_rings_only_for_the_VPE_the_interrupt_targets()
    {
        var vm = Vm();
        Boot(vm, 3, vpe: 1);
        vm.Load(0);
        vm.Load(1);
        vm.Put(0, wfi: true);
        vm.Put(1, wfi: true);
        vm.Inject(3, true);
        Assert.Equal((false, true), (vm.Cpus[0].DbFired, vm.Cpus[1].DbFired));
        Assert.Equal(1L, vm.Counters.Doorbells);
    }

    [Theory]
    [InlineData(DbpmComparison.Strict, 0L)]
    [InlineData(DbpmComparison.Inclusive, 1L)]
    public void Strict_DBPM_loses_the_doorbell_of_a_priority_31_interrupt_at_PCR_31_inclusive_rings(DbpmComparison dbpm, long doorbells)
    {
        var vm = Vm(Policies(dbpm: dbpm));
        Boot(vm, 3, priority: 31);
        vm.Load(0);
        Assert.Equal(31, vm.Cpus[0].Pcr.Value);
        vm.Put(0, wfi: true);
        Assert.Equal(Priority.Of(31), vm.Cpus[0].Doorbell.Dbpm);
        vm.Inject(3, true);
        Assert.Equal(doorbells, vm.Counters.Doorbells);
        Assert.Equal(doorbells == 1, vm.Cpus[0].DbFired);
        Assert.True(vm.Irs.Entry(IntId.Spi(3)).Pending);
    }

    [Theory]
    [InlineData(NotifyPolicy.InactiveAndLineLow, 0L, 1)]
    [InlineData(NotifyPolicy.OnDeactivate, 1L, 0)]
    public void Hazard_2_a_consumed_level_SPI_whose_line_is_still_high_is_notified_only_under_OnDeactivate(NotifyPolicy notify,
        long notified, int apListAfter)
    {
        var vm = Vm(Policies(TrackingPolicy.Fold, notify));
        Boot(vm, 5, tm: HandlingMode.Level);
        vm.Load(0);
        vm.Inject(5, true);                                               // a resampling irqfd asserts the line
        Assert.Equal(IntId.Spi(5), Handle(vm, 0));
        Assert.Equal("I", vm.Irs.Entry(IntId.Spi(5)).State());
        vm.Exit();
        vm.Put(0, wfi: false);
        vm.Exit();
        Assert.Equal(notified, vm.Counters.Notified);
        Assert.Equal(apListAfter, vm.ApList.Count);
        Assert.True(vm.ApList[5].LineLevel);
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public void Resample_cycle_notify_lower_and_reassert_delivers_again_and_notifies_once_per_consumption(TrackingPolicy tracking)
    {
        var vm = Vm(Policies(tracking));
        Boot(vm, 5, tm: HandlingMode.Level);
        vm.Load(0);
        for (var round = 1; round <= 3; round++)
        {
            vm.Inject(5, true);
            Assert.Equal(IntId.Spi(5), Handle(vm, 0));
            vm.Exit();
            Assert.Equal(round, vm.Counters.Notified);
            vm.Inject(5, false);                                          // the resampler lowers the line
            vm.Exit();
            Assert.Equal(round, vm.Counters.Notified);
            Assert.Empty(vm.ApList.Entries);
        }
        Assert.Equal((3L, 3L, 3L), (vm.Counters.Acknowledged, vm.Counters.Deactivated, vm.Counters.Notified));
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public void A_level_SPI_lowered_before_it_was_acknowledged_leaves_the_AP_list_without_a_notification(TrackingPolicy tracking)
    {
        var vm = Vm(Policies(tracking));
        Boot(vm, 5, tm: HandlingMode.Level);
        vm.Inject(5, true);
        vm.Inject(5, false);                                              // nothing consumed it: VDPEND(0)
        Assert.Equal("I", vm.Irs.Entry(IntId.Spi(5)).State());
        vm.Exit();
        Assert.Empty(vm.ApList.Entries);
        Assert.Equal(0L, vm.Counters.Notified);
    }

    [Fact]
    public void Operating_on_one_VM_leaves_another_unchanged()
    {
        var fabric = new ReferenceFabric(2, TwoVpes, Policies());
        static string State(VmModel vm) =>
            vm.Counters + "|" + string.Join(",", vm.Irs.Entries().Select(x => x.Entry.Raw)) + "|" +
            string.Join(",", vm.ApList.Entries) + "|" +
            string.Join(",", vm.Cpus.Select(c => $"{c.Resident}/{c.Apr}/{c.Offered}/{c.Doorbell}/{c.DbFired}"));
        var vm1Before = State(fabric[1]);

        var vm0 = fabric[0];
        Boot(vm0, 3);
        vm0.Load(0);
        vm0.Load(1);
        vm0.Put(1, wfi: true);
        vm0.Inject(3, true);
        vm0.Inject(4, true);
        Assert.Equal(IntId.Spi(3), vm0.Cdia(0));
        vm0.Cdeoi(0);
        Assert.NotNull(vm0.Inject(99, true));

        Assert.NotEqual(vm1Before, State(vm0));
        Assert.Equal(vm1Before, State(fabric[1]));
        Assert.Equal((0, 1), (fabric[0].VmId, fabric[1].VmId));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-1)]
    [InlineData(100)]
    public void ReferenceFabric_refuses_a_VM_that_does_not_exist(int vm)
    {
        var fabric = new ReferenceFabric(2, TwoVpes, Policies());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => fabric[vm]);
        Assert.Contains($"VM {vm} does not exist", ex.Message);
    }

    [Fact]
    public void An_injection_into_an_SPI_the_VM_does_not_have_is_refused_and_counted_and_changes_nothing()
    {
        var vm = Vm();
        var error = vm.Inject(32, true);
        Assert.Contains("spi:32", error);
        Assert.Equal(1L, vm.Counters.Refused);
        Assert.Equal((0L, 0L), (vm.Counters.Injected, vm.Counters.Pended));
        Assert.Empty(vm.ApList.Entries);
        Assert.NotNull(vm.Guest(new IrsProtocol.CdPriority(IntId.Spi(0), 40)));
        Assert.Equal(2L, vm.Counters.Refused);
    }

    // ---- Any edge schedule: I1 conservation, I2 notify once (push), I3 empty AP list at the end -------------------

    public sealed record Step(int Kind, uint Spi, int Vpe)
    {
        public override string ToString() => Kind switch
        {
            0 or 1 or 2 => $"inject spi:{Spi}",
            3 => $"handle vpe {Vpe}",
            4 => $"ack vpe {Vpe}",
            5 => $"wfi-put vpe {Vpe}",
            6 => $"load vpe {Vpe}",
            _ => $"exit vpe {Vpe}",
        };
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public void For_any_edge_schedule_every_injection_is_acknowledged_or_coalesced_and_every_consumption_is_notified(TrackingPolicy tracking) =>
        Gen.Select(Gen.Int[0, 7], Gen.UInt[0, 5], Gen.Int[0, 1], (k, s, v) => new Step(k, s, v)).Array[1, 80].Sample(steps =>
        {
            var vm = Vm(Policies(tracking));
            for (uint s = 0; s < 6; s++) Boot(vm, s, vpe: (int)(s % 2), priority: (int)(s * 5));
            var active = new[] { new Stack<IntId>(), new Stack<IntId>() };
            void Finish(int vpe)
            {
                var id = active[vpe].Pop();
                vm.Cdeoi(vpe);
                vm.Cddi(vpe, id);
            }
            foreach (var step in steps)
            {
                switch (step.Kind)
                {
                    case 0 or 1 or 2: vm.Inject(step.Spi, true); break;
                    case 3: if (active[step.Vpe].Count > 0) Finish(step.Vpe); else if (vm.Cdia(step.Vpe) is { } id) { active[step.Vpe].Push(id); Finish(step.Vpe); } break;
                    case 4: if (vm.Cdia(step.Vpe) is { } nested) active[step.Vpe].Push(nested); break;
                    case 5: if (active[step.Vpe].Count == 0) vm.Put(step.Vpe, wfi: true); break;
                    case 6: vm.Load(step.Vpe); break;
                    default: vm.Exit(); break;
                }
                // I4 (doorbell half): a WFI VPE with a pending interrupt that passes DBPM has had its doorbell rung.
                for (var v = 0; v < 2; v++)
                {
                    var cpu = vm.Cpus[v];
                    if (!cpu.Resident && cpu.Doorbell.Armed)
                        Assert.False(CpuInterfaceRules.HighestPending(cpu) is { } h && CpuInterfaceRules.PassesDbpm(h.Priority, cpu.Doorbell.Dbpm, DbpmComparison.Inclusive));
                }
            }
            // Drain: every VPE resident, handle everything, one last exit.
            for (var v = 0; v < 2; v++)
            {
                vm.Load(v);
                while (active[v].Count > 0) Finish(v);
                while (Handle(vm, v) is not null) { }
            }
            vm.Exit();
            var c = vm.Counters;
            Assert.Equal(c.Injected, c.Acknowledged + c.Coalesced);                      // I1
            Assert.Equal(c.Acknowledged, c.Deactivated);
            if (tracking == TrackingPolicy.Push) Assert.Equal(c.Deactivated, c.Notified); // I2, push
            else Assert.InRange(c.Notified, c.Deactivated > 0 ? 1 : 0, c.Deactivated);  // I2, fold: shared, never none
            for (uint s = 0; s < 6; s++)
                if (vm.Counters.Deactivated > 0 && vm.Irs.Entry(IntId.Spi(s)).Idle && vm.ApList.LastSent(s) > 0)
                    Assert.True(vm.NotifiedPerSpi[s] >= 1, $"spi:{s} was consumed but never notified");
            Assert.Empty(vm.ApList.Entries);                                              // I3
            Assert.All(vm.Irs.Entries(), x => Assert.True(x.Entry.Idle, $"{x.Id} {x.Entry}"));
        });

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void An_operation_on_a_VPE_the_VM_does_not_have_is_refused_and_changes_nothing(int vpe)
    {
        var vm = new ReferenceFabric(1, TwoVpes, Policies())[0];
        var before = string.Join(",", vm.Cpus.Select(c => $"{c.Resident}/{c.Apr}/{c.Offered}"));
        Assert.Null(vm.Cdia(vpe));
        Assert.Null(vm.Cdeoi(vpe));
        Assert.NotNull(vm.Cddi(vpe, IntId.Spi(0)));
        vm.Load(vpe);
        vm.Put(vpe, wfi: true);
        Assert.Equal(5L, vm.Counters.Refused);
        Assert.Equal(before, string.Join(",", vm.Cpus.Select(c => $"{c.Resident}/{c.Apr}/{c.Offered}")));
    }
}
