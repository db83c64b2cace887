using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors;
using Fabric.Actors.Irs;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>I8: what names a VM, VPE or INTID that does not exist is refused with an error and changes nothing.</summary>
public class IsolationSpecs : TestKit
{
    [Theory]
    [InlineData(-1, "out of range")]
    [InlineData(4, "out of range")]
    public void The_irs_refuses_a_vm_id_outside_its_table(int vmId, string reason)
    {
        var irs = Sys.ActorOf(IrsActor.Props(4, new EventLog()));
        irs.Tell(new HostIrsProtocol.CreateVm(vmId, VmSpec.Simple()));
        Assert.Contains(reason, ExpectMsg<IrsProtocol.Refused>().Reason);
    }

    [Fact]
    public void The_irs_refuses_a_vm_id_already_valid_and_a_destroy_of_one_that_is_not()
    {
        var irs = Sys.ActorOf(IrsActor.Props(4, new EventLog()));
        irs.Tell(new HostIrsProtocol.CreateVm(1, VmSpec.Simple()));
        Assert.Equal(1, ExpectMsg<HostIrsProtocol.VmCreated>().VmId);
        irs.Tell(new HostIrsProtocol.CreateVm(1, VmSpec.Simple()));
        Assert.Contains("already valid", ExpectMsg<IrsProtocol.Refused>().Reason);
        irs.Tell(new HostIrsProtocol.DestroyVm(2));
        Assert.Contains("does not exist", ExpectMsg<IrsProtocol.Refused>().Reason);
    }

    [Fact]
    public async Task A_destroyed_vm_gives_its_vm_id_back_to_the_table()
    {
        var irs = Sys.ActorOf(IrsActor.Props(4, new EventLog()));
        irs.Tell(new HostIrsProtocol.CreateVm(1, VmSpec.Simple()));
        var vm = ExpectMsg<HostIrsProtocol.VmCreated>().Topology.Vm;
        Watch(vm);
        irs.Tell(new HostIrsProtocol.DestroyVm(1));
        ExpectTerminated(vm);
        // Until the IRS has seen its VM stop, the ID is refused (never half-created); then it is free again.
        await AwaitAssertAsync(() =>
        {
            irs.Tell(new HostIrsProtocol.CreateVm(1, VmSpec.Simple()));
            Assert.Equal(1, ExpectMsg<HostIrsProtocol.VmCreated>(TimeSpan.FromMilliseconds(200)).VmId);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        irs.Tell(new HostIrsProtocol.DestroyVm(3));
        Assert.Contains("VM 3 does not exist", ExpectMsg<IrsProtocol.Refused>().Reason);
    }

    [Fact]
    public void The_irs_refuses_a_vm_kvm_could_not_build()
    {
        var irs = Sys.ActorOf(IrsActor.Props(4, new EventLog()));
        irs.Tell(new HostIrsProtocol.CreateVm(0, VmSpec.Simple(spis: 48)));
        Assert.Contains("48 SPIs", ExpectMsg<IrsProtocol.Refused>().Reason);
    }

    [Fact]
    public async Task Injecting_into_a_vm_or_spi_that_does_not_exist_is_refused_and_nothing_happens()
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(Sys, 2, VmSpec.Simple(vcpus: 2), log);
        Assert.True(await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));
        var before = log.LastSeq;
        Assert.Contains("VM 2 does not exist", rt.Inject(2, 0, true));
        Assert.Null(rt.Inject(1, 32, true, TestActor));
        Assert.Equal("kvm_set_irq", ExpectMsg<IrsProtocol.Refused>().Operation);
        Assert.True(await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));
        Assert.Equal(before, log.LastSeq);
    }

    [Fact]
    public async Task A_message_addressed_by_vm_id_reaches_that_vm_through_the_shared_extractor_and_a_missing_vm_is_refused()
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(Sys, 2, VmSpec.Simple(vcpus: 1), log, name: "irs-envelope");
        Assert.True(await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));

        rt.Irs.Tell(new ClusterProtocol.VmEnvelope(1, new ApListProtocol.SetIrq(40, true)), TestActor);
        Assert.Contains("spi:40", ExpectMsg<IrsProtocol.Refused>().Reason);   // VM 1's AP list answered: it has 32 SPIs
        rt.Irs.Tell(new ClusterProtocol.VmEnvelope(7, new ApListProtocol.SetIrq(0, true)), TestActor);
        Assert.Contains("VM 7 does not exist", ExpectMsg<IrsProtocol.Refused>().Reason);
    }
}
