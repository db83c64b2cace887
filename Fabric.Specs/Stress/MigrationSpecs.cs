using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using Xunit;

namespace Fabric.Specs.Stress;

using Fabric.Specs.Actors;

/// <summary>Live migration in the actor fabric (issue 7): a VM moved mid-storm keeps I1–I8 across every move, what was
/// injected during a move is delivered after it, an active and a pending interrupt move with the VM, the units are
/// replaced and the old ones stop, and no other VM is touched.</summary>
public class MigrationSpecs : TestKit
{
    private static readonly TimeSpan MoveTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task Vms_moved_every_50ms_during_a_storm_over_every_path_keep_every_invariant(TrackingPolicy tracking)
    {
        var spec = FabricHarness.Everything(new FabricPolicies(Tracking: tracking), perDevice: 1500, ipis: 200)
            with { Migration = new MigrationSpec(TimeSpan.FromMilliseconds(50), []) };
        var run = await FabricHarness.RunAsync(Sys, vms: 4, spec, runFor: TimeSpan.FromSeconds(1.5));

        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.True(run.Checker.Migrations >= 4 * 10, $"{run.Checker.Migrations} moves; " + run.Describe());
        Assert.All(run.Runtime.Vms, vm => Assert.True(vm.Generation >= 10, $"vm {vm.VmId} moved {vm.Generation} times"));
        Assert.True(run.Checker.Acknowledged > 1000, run.Describe());
        Assert.True(run.Checker.Notified > 0, run.Describe());   // I2 (checked above): exactly once per consumption under push
    }

    [Fact]
    public async Task Devices_moved_with_their_vm_twenty_times_mid_storm_are_served_to_the_last_injection()
    {
        var run = await FabricHarness.MovedStormServedToTheLastAsync(Sys, moves: 20, every: TimeSpan.FromMilliseconds(15), perDevice: 3000);
        var firstMove = run.Events.First(e => e.Ev == Ev.Migrate).Seq;
        Assert.True(run.Events.Count(e => e.Ev == Ev.Ack && e.Seq > firstMove) > 100, "the storm was over before the first move");
    }

    [Fact]
    public async Task An_injection_that_arrives_during_a_move_is_held_and_delivered_after_it()
    {
        var rt = await Build(OneSpi(handlerTime: TimeSpan.Zero));

        rt.Migrate(0, TestActor);
        rt.Inject(0, 0, true);
        ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);
        var events = await Settle(rt);

        var moved = events.Single(e => e.Ev == Ev.Migrate).Seq;
        var pend = events.Single(e => e.Ev == Ev.Pend && e.IntId == IntId.Spi(0));
        Assert.True(pend.Seq > moved, "the held injection reached the IRS before the move ended");
        Assert.Single(events, e => e.Ev == Ev.Ack && e.IntId == IntId.Spi(0) && e.Seq > pend.Seq);
        Assert.Single(events, e => e.Ev == Ev.Notify && e.IntId == IntId.Spi(0));
    }

    [Fact]
    public async Task An_active_interrupt_and_a_pending_one_move_with_the_vm_and_each_is_handled_once()
    {
        // The handler outlasts any delay of a loaded machine between the first Ack and the move.
        var handler = TimeSpan.FromSeconds(1.5);
        var rt = await Build(OneSpi(handlerTime: handler, spis: 2));
        rt.Inject(0, 0, true);
        rt.Inject(0, 1, true);
        var seen = new List<FabricEvent>();
        await AwaitAssertAsync(() =>
        {
            rt.Log.Drain(seen);
            Assert.Contains(seen, e => e.Ev == Ev.Ack);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(5));

        rt.Migrate(0, TestActor);
        ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);
        var events = seen.Concat(await Settle(rt, quiet: handler + TimeSpan.FromMilliseconds(500))).OrderBy(e => e.Seq).ToList();

        var moved = events.Single(e => e.Ev == Ev.Migrate).Seq;
        var acks = events.Where(e => e.Ev == Ev.Ack).ToList();
        Assert.True(acks.Count == 2, string.Join("\n", events));
        Assert.True(acks[0].Seq < moved && acks[1].Seq > moved, "one was active across the move, the other pending behind it");
        Assert.Equal(2, events.Count(e => e.Ev == Ev.Deactivate));
        Assert.Equal(2, events.Count(e => e.Ev == Ev.Notify));
        Assert.True(events.Single(e => e.Ev == Ev.Deactivate && e.IntId == acks[0].IntId).Seq > moved, "the active one was deactivated on the destination");
        Assert.Empty(Check(events, 1, 2, 2));
    }

    [Fact]
    public async Task A_move_replaces_every_unit_and_the_old_ones_stop()
    {
        var rt = await Build(OneSpi(handlerTime: TimeSpan.Zero) with { Vcpus = 2 });
        var vm = rt.Vms[0];
        var old = vm.Vpes.Concat(vm.Vcpus).Append(vm.Virs).Append(vm.ApList).ToArray();
        foreach (var unit in old) Watch(unit);

        rt.Migrate(0, TestActor);
        // The reply and the old units' deaths race: the old ones stop as the new ones take over.
        var received = Enumerable.Range(0, old.Length + 1).Select(_ => ReceiveOne(MoveTimeout)).ToList();
        Assert.Equal(1, Assert.Single(received.OfType<MigrationProtocol.Migrated>()).Generation);
        var stopped = received.OfType<Terminated>().Select(t => t.ActorRef).ToHashSet();
        Assert.True(stopped.SetEquals(old));
        var fresh = vm.Vpes.Concat(vm.Vcpus).Append(vm.Virs).Append(vm.ApList).ToArray();
        Assert.Empty(fresh.Intersect(old));
        Assert.All(fresh, u => Assert.EndsWith("@1", u.Path.Name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_move_runs_as_a_saga_of_its_own_which_stops_when_the_move_ends()
    {
        var rt = await Build(OneSpi(handlerTime: TimeSpan.Zero));
        var vm = rt.Vms[0].Vm;

        rt.Migrate(0, TestActor);
        ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);
        rt.Migrate(0, TestActor);
        ExpectMsg<MigrationProtocol.Migrated>(m => Assert.Equal(2, m.Generation), MoveTimeout);

        // Each move was a child of the VmActor (move-1, move-2), gone once its move ended.
        foreach (var name in new[] { "move-1", "move-2" })
            await AwaitAssertAsync(() => Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection(vm.Path / name).ResolveOne(TimeSpan.FromMilliseconds(200))));
        await Settle(rt);
    }

    [Fact]
    public async Task Two_moves_of_an_idle_vm_carry_identical_bytes_that_decode_to_its_shape()
    {
        var rt = await Build(OneSpi(handlerTime: TimeSpan.Zero, spis: 4) with { Vcpus = 3, Vcpu = new VcpuSpec(WfiWhenIdle: false) });
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));

        rt.Migrate(0, TestActor);
        var first = ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
        rt.Migrate(0, TestActor);
        var second = ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);

        Assert.Equal(first.State.ToArray(), second.State.ToArray());
        Assert.True(VmStateFormat.TryDecode(first.State.AsSpan(), out var state, out var error), error);
        Assert.Equal((32, 3), (state.Shape.SpiCount, state.Shape.VpeCount));
        Assert.Equal(2, second.Generation);
    }

    [Fact]
    public async Task Moving_one_vm_leaves_every_other_vm_as_it_was()
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(Sys, 3, OneSpi(handlerTime: TimeSpan.Zero), log, name: "irs-iso");
        var others = new[] { 0, 2 }.Select(v => rt.Vms[v].Vpes.Concat(rt.Vms[v].Vcpus).Append(rt.Vms[v].Virs).Append(rt.Vms[v].ApList).ToArray()).ToArray();

        rt.Migrate(1, TestActor);
        ExpectMsg<MigrationProtocol.Migrated>(MoveTimeout);
        foreach (var v in new[] { 0, 1, 2 }) rt.Inject(v, 0, true);
        var events = await Settle(rt);

        Assert.Equal(0, rt.Vms[0].Generation + rt.Vms[2].Generation);
        Assert.Equal(others[0], rt.Vms[0].Vpes.Concat(rt.Vms[0].Vcpus).Append(rt.Vms[0].Virs).Append(rt.Vms[0].ApList));
        Assert.Equal(others[1], rt.Vms[2].Vpes.Concat(rt.Vms[2].Vcpus).Append(rt.Vms[2].Virs).Append(rt.Vms[2].ApList));
        Assert.Single(events, e => e.Ev == Ev.Migrate && e.Vm == 1);
        Assert.Equal(3, events.Count(e => e.Ev == Ev.Ack));
        Assert.Empty(Check(events, 3, 1, 32));
    }

    [Fact]
    public async Task A_move_of_a_vm_that_does_not_exist_is_refused()
    {
        var rt = await FabricRuntime.BuildAsync(Sys, 1, OneSpi(TimeSpan.Zero), EventLog.Off(), name: "irs-none");
        Assert.Contains("migrate: VM 5 does not exist", rt.Migrate(5));
        Assert.Contains("migrate: VM -1 does not exist", rt.Migrate(-1));
    }

    // ---- helpers ----

    /// <summary>One VM whose guest programs spi:0..(spis-1) as enabled edge interrupts at priority 8 on vCPU 0, with no
    /// device: the spec injects.</summary>
    private static VmSpec OneSpi(TimeSpan handlerTime, int spis = 1) =>
        new(1, 32, FabricPolicies.Default,
            [new InterruptSpec(new IntIdRange(IntIdType.Spi, 0, (uint)spis - 1), HandlingMode.Edge, 8, 0, true)],
            [], new GuestSpec(handlerTime), new VcpuSpec(), new HostSpec(), Seed: 11);

    private async Task<FabricRuntime> Build(VmSpec spec)
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(Sys, 1, spec, log, name: "irs-" + Guid.NewGuid().ToString("N")[..8]);
        rt.StartDevices();
        return rt;
    }

    /// <summary>Quiet for longer than any handler of these specs runs.</summary>
    private static Task<List<FabricEvent>> Settle(FabricRuntime rt, TimeSpan? quiet = null) =>
        FabricHarness.SettleAsync(rt, quiet ?? TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(20));

    private static IReadOnlyList<Violation> Check(IEnumerable<FabricEvent> events, int vms, int vcpus, int spis) =>
        FabricHarness.Checked(events, new FabricShape(vms, vcpus, spis)).Violations;
}
