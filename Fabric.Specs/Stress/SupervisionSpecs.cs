using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Protocols;
using Fabric.Actors.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Stress;

using Fabric.Specs.Actors;

public class SupervisionSpecs : TestKit
{
    public SupervisionSpecs() : base("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF") { }

    public static TheoryData<string, TrackingPolicy> Kinds()
    {
        var data = new TheoryData<string, TrackingPolicy>();
        foreach (var kind in new[] { "vm", "virs", "ap-list", "vpe", "vcpu", "scheduler", "device" })
            foreach (var t in new[] { TrackingPolicy.Push, TrackingPolicy.Fold })
                data.Add(kind, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_per_vm_actor_crashing_mid_storm_is_rebuilt_from_its_state_and_nothing_is_lost(string kind, TrackingPolicy tracking)
    {
        var crashes = CreateTestProbe();
        Sys.EventStream.Subscribe(crashes, typeof(Error));
        var spec = FabricHarness.Everything(new FabricPolicies(Tracking: tracking), perDevice: 800, ipis: 100);
        var sent = 0;
        var run = await FabricHarness.RunAsync(Sys, vms: 2, spec, runFor: TimeSpan.FromMilliseconds(800), during: rt =>
        {
            // Crash the chosen kind in every VM, several times while the storm runs.
            var targets = rt.Vms.SelectMany(vm => kind switch
            {
                "vm" => [vm.Vm],
                "virs" => [vm.Virs],
                "ap-list" => [vm.ApList],
                "vpe" => vm.Vpes,
                "vcpu" => vm.Vcpus,
                "scheduler" => [vm.Scheduler],
                _ => vm.Devices.ToArray(),
            }).ToArray();
            for (var round = 1; round <= 5; round++)
                foreach (var t in targets)
                {
                    Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100 * round), t, IrsProtocol.Crash.Instance, ActorRefs.NoSender);
                    sent++;
                }
        });
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        var seen = 0;
        while (crashes.HasMessages) if (crashes.ReceiveOne(TimeSpan.Zero) is Error e && e.Cause?.Message.Contains("crash requested") == true) seen++;
        Assert.Equal(sent, seen);
        Assert.True(run.Checker.Acknowledged > 0);
        Assert.Equal(0, run.Checker.LostVms);
    }

    [Fact]
    public async Task A_VmActor_crash_keeps_its_VM_running_on_the_same_units()
    {
        var spec = FabricHarness.Everything(new FabricPolicies(), perDevice: 2_000, ipis: 50);
        var checkedUnits = false;
        var run = await FabricHarness.RunAsync(Sys, vms: 1, spec, runFor: TimeSpan.FromMilliseconds(600), during: rt =>
        {
            var vm = rt.Vms[0];
            var units = new[] { vm.Virs, vm.ApList }.Concat(vm.Vpes).Concat(vm.Vcpus).ToArray();
            Watch(vm.Virs);
            vm.Vm.Tell(IrsProtocol.Crash.Instance);
            // The restarted VmActor answers as the same VM, and its units are the same actors, alive.
            rt.Vms[0].Vm.Tell(new ClusterProtocol.Where(0), TestActor);
            ExpectMsg<ClusterProtocol.Here>(h => Assert.Equal(0, h.Generation));
            ExpectNoMsg(TimeSpan.FromMilliseconds(100));   // no Terminated of the IRS slice
            Assert.Same(units[0], rt.Vms[0].Virs);
            checkedUnits = true;
        });
        Assert.True(checkedUnits);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.Equal(0, run.Checker.LostVms);
        Assert.True(run.Checker.Acknowledged > 100, run.Describe());
    }

    [Fact]
    public async Task A_VmActor_crash_in_the_middle_of_a_move_is_reported_as_a_lost_VM()
    {
        var spec = FabricHarness.Everything(new FabricPolicies(), perDevice: 2_000, ipis: 50);
        var run = await FabricHarness.RunAsync(Sys, vms: 2, spec, runFor: TimeSpan.FromMilliseconds(400), during: rt =>
        {
            var vm = rt.Vms[1].Vm;
            // The move begins with the first message; the crash arrives while it waits for the vCPUs to stop.
            vm.Tell(new MigrationProtocol.Migrate(1));
            vm.Tell(IrsProtocol.Crash.Instance);
        });
        Assert.Equal(1, run.Checker.LostVms);
        var lost = Assert.Single(run.Violations, v => v.Invariant == "I8");
        Assert.Equal(1, lost.Vm);
        Assert.Contains("crashed during a move", lost.Message);
        // The other VM ran on and holds every invariant.
        Assert.DoesNotContain(run.Violations, v => v.Vm == 0);
    }

    [Fact]
    public async Task A_move_saga_crash_rebuilds_the_VM_around_its_units_state_and_refuses_the_move()
    {
        var spec = FabricHarness.Everything(new FabricPolicies(), perDevice: 2_000, ipis: 50);
        var answered = false;
        var run = await FabricHarness.RunAsync(Sys, vms: 2, spec, runFor: TimeSpan.FromMilliseconds(500), during: rt =>
        {
            var vm = rt.Vms[1].Vm;
            // The move's saga takes the crash forwarded by its VmActor, at whatever phase it has reached.
            vm.Tell(new MigrationProtocol.Migrate(1), TestActor);
            vm.Tell(MigrationProtocol.CrashMove.Instance);
            vm.Tell(new ClusterProtocol.Where(1), TestActor);
            ExpectMsg<IrsProtocol.Refused>(r => Assert.Contains("saga crashed", r.Reason));
            // The VM runs on in units rebuilt around the state its frozen units held: the next generation.
            ExpectMsg<ClusterProtocol.Here>(h => Assert.Equal(1, h.Generation));
            answered = true;
        });
        Assert.True(answered);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.Equal(0, run.Checker.LostVms);
        Assert.Equal(1, run.Runtime.Vms[1].Generation);
        Assert.True(run.Checker.Acknowledged > 100, run.Describe());
    }

    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public async Task Move_sagas_crashing_at_every_phase_mid_storm_lose_nothing(TrackingPolicy tracking)
    {
        var crashes = CreateTestProbe();
        Sys.EventStream.Subscribe(crashes, typeof(Error));
        var spec = FabricHarness.Everything(new FabricPolicies(Tracking: tracking), perDevice: 800, ipis: 100)
            with { Migration = new Fabric.Hardware.Protocol.MigrationSpec(TimeSpan.FromMilliseconds(20), []) };
        var run = await FabricHarness.RunAsync(Sys, vms: 2, spec, runFor: TimeSpan.FromMilliseconds(800), during: rt =>
        {
            // Crashes every 3 ms: one that finds no move in progress changes nothing; the others hit a saga wherever it is.
            for (var ms = 3; ms < 700; ms += 3)
                foreach (var vm in rt.Vms)
                    Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(ms), vm.Vm, MigrationProtocol.CrashMove.Instance, ActorRefs.NoSender);
            // However loaded the machine, some crashes find a saga: a move asked for and crashed in one turn of the timer
            // thread reaches its VmActor in that order, so the crash meets the saga at its first phase.
            for (var ms = 50; ms < 700; ms += 100)
                foreach (var vm in rt.Vms)
                    Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(ms), () =>
                    {
                        vm.Vm.Tell(new MigrationProtocol.Migrate(vm.VmId));
                        vm.Vm.Tell(MigrationProtocol.CrashMove.Instance);
                    });
        });
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.Equal(0, run.Checker.LostVms);
        var sagas = 0;
        while (crashes.HasMessages) if (crashes.ReceiveOne(TimeSpan.Zero) is Error e && e.Cause?.Message.Contains("/move-") == true) sagas++;
        Assert.True(sagas > 0, "no crash reached a move in progress");
        Assert.True(run.Checker.Migrations > 0, run.Describe());
        Assert.True(run.Checker.Acknowledged > 0, run.Describe());
    }

    [Fact]
    public void A_saga_recovering_a_crashed_move_waits_until_the_drivers_hold_before_it_quiesces_and_stops_no_vCPU_again()
    {
        // The crashed saga told the drivers to hold, but perhaps crashed before they had: a driver still sending while the
        // units are frozen and retired would send to a unit that is gone (an injection, a wake lost).
        var spec = FabricHarness.Everything(new FabricPolicies(), perDevice: 10, ipis: 0);
        var t = new VmTopology(0, spec.Vcpus);
        var (pe, device, scheduler) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        for (var v = 0; v < spec.Vcpus; v++) t.Vpes[v] = t.Vcpus[v] = pe.Ref;
        (t.Virs, t.ApList, t.Scheduler) = (pe.Ref, pe.Ref, scheduler.Ref);
        t.Devices.Add(device.Ref);
        var saga = Sys.ActorOf(VmMoveActor.Props(t, spec, new EventLog(), ActorRefs.Nobody, VmMoveActor.Mode.Recover));
        device.ExpectMsg<MigrationProtocol.Hold>();
        scheduler.ExpectMsg<MigrationProtocol.Hold>();
        saga.Tell(MigrationProtocol.Held.Instance, device.Ref);
        pe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));   // one driver may still send: no quiescence check yet
        saga.Tell(MigrationProtocol.Held.Instance, scheduler.Ref);
        // Then the check, and nothing else: its predecessor's stop already reached every PE.
        var first = pe.ExpectMsg<object>();
        Assert.IsType<MigrationProtocol.Quiesce>(first);
    }

    [Fact]
    public async Task An_IRS_crash_keeps_every_VM_and_its_table()
    {
        var spec = FabricHarness.Everything(new FabricPolicies(), perDevice: 2_000, ipis: 50);
        var routed = false;
        var run = await FabricHarness.RunAsync(Sys, vms: 2, spec, runFor: TimeSpan.FromMilliseconds(500), during: rt =>
        {
            rt.Irs.Tell(IrsProtocol.Crash.Instance);
            // The restarted IRS still routes to VM 1: it read its table back from its children.
            rt.Irs.Tell(new ClusterProtocol.VmEnvelope(1, new ClusterProtocol.Where(1)), TestActor);
            ExpectMsg<ClusterProtocol.Here>(h => Assert.Equal(1, h.VmId));
            routed = true;
        });
        Assert.True(routed);
        Assert.True(run.Quiesced, run.Describe());
        Assert.True(run.Violations.Count == 0, run.Describe());
        Assert.True(run.Checker.Acknowledged > 100, run.Describe());
    }
}
