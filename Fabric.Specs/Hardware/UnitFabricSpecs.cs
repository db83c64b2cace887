using Fabric.Hardware;
using Fabric.Hardware.Deterministic;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>
/// The deterministic scheduler as an interpreter of the units, without Akka (DESIGN.md §6.3, §6.5): it runs the units the
/// actors run, one delivery at a time, the seed choosing which mailbox delivers; the same seed gives the same events,
/// and every invariant holds over a storm, under both KVM designs, as it does on the actors.
/// </summary>
public class UnitFabricSpecs
{
    /// <summary>2 vCPUs, edge SPIs 0-3 from an irqfd as fast as accepted, level SPIs 8-9 from a resampled irqfd (not under
    /// the merged design, which has no notifier to resample by: I2, by design), exits and preemption.</summary>
    private static VmSpec Storm(FabricPolicies? policies = null, HostSpec? host = null, VcpuSpec? vcpu = null, long injections = 200)
    {
        var levels = (policies ?? FabricPolicies.Default).Kvm != KvmDesign.Merged;
        return new(2, 32, policies ?? FabricPolicies.Default,
            [new InterruptSpec(IntIdRange.Parse("spi:0-3"), HandlingMode.Edge, 8, null, true),
             new InterruptSpec(IntIdRange.Parse("spi:8-9"), HandlingMode.Level, 4, null, true)],
            [new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("spi:0-3")),
             .. levels ? [new DeviceSpec(DeviceKind.IrqfdResample, IntIdRange.Parse("spi:8-9"), ServiceCount: 20)] : Array.Empty<DeviceSpec>()],
            new GuestSpec(TimeSpan.Zero), vcpu ?? new VcpuSpec(ExitsPerSecond: 200), host ?? new HostSpec(PreemptPerSecond: 50), 1, injections);
    }

    /// <summary>Runs a storm to its end: devices started, every edge injection made, devices stopped, drained (nothing but
    /// exits for 50 ms of virtual time, or nothing left at all).</summary>
    private static (List<FabricEvent> Events, UnitFabric Fabric) Run(VmSpec spec, long seed, ScheduleStrategy strategy = ScheduleStrategy.Random, int vms = 2)
    {
        var events = new List<FabricEvent>();
        UnitFabric? fabric = null;
        fabric = new UnitFabric(vms, spec, seed, strategy,
            (ev, vm, vpe, id, arg) => events.Add(new FabricEvent(events.Count + 1, (long)fabric!.Now.TotalNanoseconds, ev, vm, vpe, id, arg)));
        fabric.StartDevices();
        fabric.RunUntil(() => false, TimeSpan.FromMilliseconds(100));   // 100 ms of virtual time: the edge devices spend their budgets
        Assert.Equal(spec.InjectionsPerDevice * vms, events.Count(e => e.Ev == Ev.Inject && e.IntId!.Value.Id < 8));
        fabric.StopDevices();
        // Drained: the vCPUs still exit at their rate (a timer of their own), and nothing else happens for 50 ms.
        fabric.RunUntil(() => fabric.Idle, fabric.Now + TimeSpan.FromMilliseconds(100));
        var lastWork = events.Where(e => e.Ev != Ev.Exit).Max(e => e.T);
        Assert.True(fabric.Idle || fabric.Now.TotalNanoseconds - lastWork >= 50e6, $"still busy {(fabric.Now.TotalNanoseconds - lastWork) / 1e6:F1} ms before the end");
        return (events, fabric);
    }

    private static IReadOnlyList<Violation> Check(VmSpec spec, IEnumerable<FabricEvent> events, int vms = 2)
    {
        var checker = new InvariantChecker(new FabricShape(vms, spec.Vcpus, spec.Spis), spec.Policies.Tracking == TrackingPolicy.Push, spec.Policies.Kvm,
            id => DeviceUnit.Driving(spec, id));
        foreach (var e in events) checker.Observe(e);
        return checker.Finish();
    }

    [Fact]
    public void The_same_seed_gives_the_same_events_in_the_same_order_and_another_seed_another_order()
    {
        var spec = Storm();
        var (a, fa) = Run(spec, 5);
        var (b, fb) = Run(spec, 5);
        var (c, _) = Run(spec, 6);
        Assert.Equal(a, b);
        Assert.Equal(fa.Steps, fb.Steps);
        Assert.NotEqual(a, c);
        Assert.True(a.Count > 1000, $"{a.Count} events");
    }

    [Theory]
    [InlineData(KvmDesign.ApList, TrackingPolicy.Push, ScheduleStrategy.Random)]
    [InlineData(KvmDesign.ApList, TrackingPolicy.Fold, ScheduleStrategy.Pct)]
    [InlineData(KvmDesign.Merged, TrackingPolicy.Push, ScheduleStrategy.Random)]
    public void Every_invariant_holds_over_a_storm_of_edges_levels_exits_and_preemptions(KvmDesign design, TrackingPolicy tracking, ScheduleStrategy strategy)
    {
        var spec = Storm(new FabricPolicies(Kvm: design, Tracking: tracking));
        for (var seed = 1; seed <= 5; seed++)
        {
            var (events, _) = Run(spec, seed, strategy);
            Assert.Empty(Check(spec, events));
            if (design != KvmDesign.Merged) Assert.Contains(events, e => e.Ev == Ev.Ack && e.IntId!.Value.Id >= 8);   // the level lines were served
            Assert.Contains(events, e => e.Ev == Ev.Nonresident);                      // and vCPUs left (WFI, preemption)
        }
    }

    [Fact]
    public void A_hazard_policy_is_caught_by_the_checks_on_this_schedule_too()
    {
        // A level line KVM notifies only when it is inactive and low (SEMANTICS.md §3.4): a resampled line still high
        // when the guest deactivates it is never notified (I2).
        var spec = Storm(new FabricPolicies(Notify: NotifyPolicy.InactiveAndLineLow));
        var found = Enumerable.Range(1, 20).Any(seed => Check(spec, Run(spec, seed).Events).Any(v => v.Invariant == "I2"));
        Assert.True(found, "I2 within 20 schedules");
    }

    [Fact]
    public void Timers_run_in_virtual_time_with_paced_rates_and_a_fabric_without_exits_ends_with_none_left()
    {
        // vCPUs that never sleep (no WFI): 1000 exits a second each, paced above one timer tick (10 ms), are about one a
        // millisecond of virtual time each (fewer while preempted).
        var spec = Storm(vcpu: new VcpuSpec(ExitsPerSecond: 1000, WfiWhenIdle: false), host: new HostSpec(PreemptPerSecond: 100, PreemptFor: TimeSpan.FromMilliseconds(2)));
        var (events, fabric) = Run(spec, 3);
        var exits = events.Count(e => e.Ev == Ev.Exit);
        var expected = fabric.Now.TotalMilliseconds * 4;
        Assert.True(exits >= expected * 0.7 && exits <= expected * 1.05, $"{exits} exits of 4 vCPUs in {fabric.Now.TotalMilliseconds:F1} ms of virtual time");
        Assert.False(fabric.Idle);   // the exit timers run on

        var quiet = Run(Storm(vcpu: new VcpuSpec(ExitsPerSecond: 0)), 3).Fabric;
        Assert.True(quiet.Idle, "no exit timer: once drained, no message and no live timer is left (preemption's resumes included)");
    }

    [Fact]
    public void A_VM_that_moves_or_a_directed_VM_is_refused_by_name_and_runs_on_the_actors_loop_instead()
    {
        var moving = Storm() with { Migration = new MigrationSpec(TimeSpan.FromMilliseconds(50), []) };
        var e = Assert.Throws<ArgumentException>(() => new UnitFabric(1, moving, 1, ScheduleStrategy.Random, (_, _, _, _, _) => { }));
        Assert.Contains("move", e.Message);
        Assert.False(UnitFabric.Runs(Storm() with { Directed = true }));
        Assert.True(UnitFabric.Runs(Storm()));
    }
}

/// <summary>
/// The exhaustive strategy (DESIGN.md §6.5's stretch): every delivery order of a tiny scenario, on the units' own
/// interpreter, with sleep-set partial-order reduction; the count it reports is of distinct orders (traces).
/// </summary>
public class ExhaustiveExplorationSpecs
{
    /// <summary>1 VM, 2 vCPUs, 2 edge SPIs from an irqfd (<paramref name="window"/> writes outstanding per SPI), no timers.</summary>
    private static VmSpec Tiny(long injections, int window = 1, InjectionSequence sequence = InjectionSequence.Checked) =>
        new(2, 32, new FabricPolicies(Sequence: sequence),
            [new InterruptSpec(IntIdRange.Parse("spi:0-1"), HandlingMode.Edge, 8, null, true)],
            [new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("spi:0-1"), Window: window)],
            new GuestSpec(TimeSpan.Zero), new VcpuSpec(), new HostSpec(), 1, injections);

    private static InvariantChecker Checker(VmSpec spec) => new(new FabricShape(1, spec.Vcpus, spec.Spis), true, spec.Policies.Kvm);

    [Fact]
    public void A_tiny_scenario_is_enumerated_to_its_end_the_same_way_twice_and_reduction_runs_fewer_orders()
    {
        var spec = Tiny(injections: 2);
        var reduced = ExhaustiveExploration.Run(1, spec, () => Checker(spec), long.MaxValue, TimeSpan.FromMinutes(1));
        var again = ExhaustiveExploration.Run(1, spec, () => Checker(spec), long.MaxValue, TimeSpan.FromMinutes(1));
        // Without reduction, the interleavings of the same two injections: far more than 1,000, each a reordering of
        // commuting deliveries of one of the few distinct orders.
        var every = ExhaustiveExploration.Run(1, spec, () => Checker(spec), 1_000, TimeSpan.FromSeconds(30), reduce: false);
        Assert.True(reduced.Complete && reduced.Passed && every.Passed, $"{reduced} / {every}");
        Assert.Equal(reduced, again with { Violations = reduced.Violations });
        Assert.InRange(reduced.Orders, 2, 100);
        Assert.True(every.Orders == 1_000 && !every.Complete, $"every interleaving: {every.Orders} run, complete {every.Complete}");
        Assert.Equal(0, every.Pruned);
    }

    [Fact]
    public void It_finds_the_planted_race_and_finds_it_again_at_the_same_order()
    {
        // policies.injection-sequence = ignored: a deactivation report that crossed KVM's next injection takes the SPI off
        // the AP list under it; two writes outstanding per SPI let an injection cross one.
        var spec = Tiny(injections: 3, window: 2, sequence: InjectionSequence.Ignored);
        var found = ExhaustiveExploration.Run(1, spec, () => Checker(spec), long.MaxValue, TimeSpan.FromMinutes(2));
        Assert.False(found.Passed, found.ToString());
        var again = ExhaustiveExploration.Run(1, spec, () => Checker(spec), long.MaxValue, TimeSpan.FromMinutes(2));
        Assert.Equal(found.Orders, again.Orders);
        Assert.Equal(found.FailingOrder, again.FailingOrder);
    }

    [Fact]
    public void A_scenario_with_a_timer_is_refused_by_name()
    {
        var spec = Tiny(injections: 1) with { Vcpu = new VcpuSpec(ExitsPerSecond: 100) };
        var e = Assert.Throws<TimerRefusedException>(() => ExhaustiveExploration.Run(1, spec, () => Checker(spec), 10, TimeSpan.FromSeconds(10)));
        Assert.Contains("without timers", e.Message);
    }
}
