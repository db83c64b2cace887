using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Protocols;
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
        foreach (var kind in new[] { "virs", "ap-list", "vpe", "vcpu", "scheduler", "device" })
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
    }
}
