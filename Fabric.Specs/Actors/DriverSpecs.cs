using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Drivers;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Actors;

public class IrqfdActorSpecs : ProtocolSpec
{
    private IActorRef Start(DeviceSpec spec, long budget = long.MaxValue) =>
        Sys.ActorOf(IrqfdActor.Props(0, spec, Vm, Events, new DeviceState(budget), 1));

    [Fact]
    public void An_edge_irqfd_as_fast_as_accepted_keeps_its_window_and_writes_once_more_per_notification()
    {
        var dev = Start(new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("spi:4"), Window: 2));
        dev.Tell(DeviceProtocol.Start.Instance);
        Assert.Equal(4u, ApList.ExpectMsg<ApListProtocol.RegisterNotifier>().Spi);
        Assert.Equal(new ApListProtocol.SetIrq(4, true), ApList.ExpectMsg<ApListProtocol.SetIrq>());
        Assert.Equal(new ApListProtocol.SetIrq(4, true), ApList.ExpectMsg<ApListProtocol.SetIrq>());
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        dev.Tell(new DeviceProtocol.Notified(4));
        Assert.Equal(new ApListProtocol.SetIrq(4, true), ApList.ExpectMsg<ApListProtocol.SetIrq>());
    }

    [Fact]
    public void A_resampled_level_line_is_lowered_at_each_notification_and_reasserted_until_serviced()
    {
        var dev = Start(new DeviceSpec(DeviceKind.IrqfdResample, IntIdRange.Parse("spi:40"), ServiceCount: 2));
        dev.Tell(DeviceProtocol.Start.Instance);
        ApList.ExpectMsg<ApListProtocol.RegisterNotifier>();
        Assert.True(ApList.ExpectMsg<ApListProtocol.SetIrq>().Level);
        dev.Tell(new DeviceProtocol.Notified(40));
        Assert.False(ApList.ExpectMsg<ApListProtocol.SetIrq>().Level);
        Assert.True(ApList.ExpectMsg<ApListProtocol.SetIrq>().Level);      // still needs service
        dev.Tell(new DeviceProtocol.Notified(40));
        Assert.False(ApList.ExpectMsg<ApListProtocol.SetIrq>().Level);     // serviced twice: stays low
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_device_stops_at_its_budget()
    {
        var dev = Start(new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("spi:4"), Window: 4), budget: 3);
        dev.Tell(DeviceProtocol.Start.Instance);
        ApList.ExpectMsg<ApListProtocol.RegisterNotifier>();
        for (var i = 0; i < 3; i++) ApList.ExpectMsg<ApListProtocol.SetIrq>();
        dev.Tell(new DeviceProtocol.Notified(4));
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_ppi_source_pends_the_ppi_in_every_vpe()
    {
        var dev = Start(new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("ppi:27"), Rate: 200));
        dev.Tell(DeviceProtocol.Start.Instance);
        foreach (var vpe in Vpes)
            Assert.Equal(new CpuInterfaceProtocol.PpiOp(IntId.Ppi(27), PpiOperation.Pend, 1), vpe.ExpectMsg<CpuInterfaceProtocol.PpiOp>());
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }
}

public class HostSchedulerActorSpecs : ProtocolSpec
{
    [Fact]
    public void A_doorbell_wakes_its_vcpu()
    {
        var s = Sys.ActorOf(HostSchedulerActor.Props(Vm, new HostSpec(), new SchedulerState(), 1, Events));
        s.Tell(new ResidencyProtocol.Doorbell(1));
        Vcpus[1].ExpectMsg<ResidencyProtocol.Wake>();
        Vcpus[0].ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Preemption_puts_a_vcpu_and_resumes_it_and_stops_when_told()
    {
        var host = CreateTestProbe();
        var vm = new VmTopology(0, 2);
        vm.Vcpus[0] = vm.Vcpus[1] = host.Ref;
        var s = Sys.ActorOf(HostSchedulerActor.Props(vm, new HostSpec(PreemptPerSecond: 50, PreemptFor: TimeSpan.FromMilliseconds(5)), new SchedulerState(), 1, Events));
        // Both vCPUs share the probe, so only the counts are ordered: every Resume follows its own Preempt.
        int preempts = 0, resumes = 0;
        object Next()
        {
            var m = host.ReceiveOne(TimeSpan.FromSeconds(3));
            switch (m)
            {
                case ResidencyProtocol.Preempt: preempts++; break;
                case ResidencyProtocol.Resume: resumes++; break;
                case ResidencyProtocol.Wake: break;
                default: Assert.Fail($"expected Preempt, Resume or Wake, got {m?.ToString() ?? "nothing"}"); break;
            }
            Assert.True(resumes <= preempts, "a vCPU was resumed before it was preempted");
            return m!;
        }
        while (resumes == 0) Next();
        s.Tell(DeviceProtocol.Stop.Instance);
        // A doorbell after the Stop: its Wake is sent after the Stop was taken, so no Preempt can follow it.
        s.Tell(new ResidencyProtocol.Doorbell(0));
        while (Next() is not ResidencyProtocol.Wake) { }
        var preemptsBeforeStop = preempts;
        while (resumes < preempts) Assert.IsType<ResidencyProtocol.Resume>(Next());   // every preempted vCPU is resumed
        Assert.Equal(preemptsBeforeStop, preempts);
        host.ExpectNoMsg(TimeSpan.FromMilliseconds(150));
    }
}
