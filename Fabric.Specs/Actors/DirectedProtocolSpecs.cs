using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Drivers;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Xunit;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Specs.Actors;

/// <summary>The actors' side of a directed scenario (DESIGN.md §6.4): a directed vCPU acts only when a step says so, a
/// directed device writes only when driven, and the drivers answer the quiescence question a settle asks.</summary>
public class DirectedProtocolSpecs : ProtocolSpec
{
    private static readonly VmSpec DirectedVm = VmSpec.Simple(vcpus: 2) with { Directed = true };

    /// <summary>vCPU 0 of a directed VM, booted: it set its PCR and made its VPE resident.</summary>
    private IActorRef BootedVcpu()
    {
        var vcpu = Sys.ActorOf(VcpuActor.Props(new VcpuState(0, DirectedVm), Vm, Events));
        vcpu.Tell(VcpuProtocol.Boot.Instance);
        Vpes[0].ExpectMsg<SetPriorityMask>();
        Vpes[0].ExpectMsg<MakeResident>();
        return vcpu;
    }

    [Fact]
    public void A_directed_vcpu_boots_resident_and_acknowledges_nothing_by_itself()
    {
        var vcpu = BootedVcpu();
        vcpu.Tell(IrqAsserted.Instance);

        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_directed_vcpu_runs_its_handler_loop_when_told_and_stays_awake_when_it_ends()
    {
        var vcpu = BootedVcpu();

        vcpu.Tell(VcpuProtocol.HandleAll.Instance);
        Vpes[0].ExpectMsg<Cdia>();
        vcpu.Tell(new CdiaResult(IntId.Spi(5)), Vpes[0].Ref);
        Vpes[0].ExpectMsg<Cdeoi>();
        Assert.Equal(IntId.Spi(5), Virs.ExpectMsg<IrsProtocol.Cddi>().Id);
        Vpes[0].ExpectMsg<Cdia>();
        vcpu.Tell(new CdiaResult(null), Vpes[0].Ref);

        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(200));   // no WFI of its own
    }

    [Fact]
    public void Wfi_and_preemption_of_a_vcpu_that_is_not_running_are_refused_and_run_loads_it()
    {
        var vcpu = BootedVcpu();

        vcpu.Tell(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Wfi));
        Assert.True(Vpes[0].ExpectMsg<MakeNonResident>().Wfi);
        vcpu.Tell(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Preempt));
        Assert.Contains("not running (in WFI)", ExpectMsg<IrsProtocol.Refused>().Reason);
        vcpu.Tell(VcpuProtocol.TrapExit.Instance);
        Assert.Equal("exit", ExpectMsg<IrsProtocol.Refused>().Operation);

        vcpu.Tell(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Run));
        Vpes[0].ExpectMsg<MakeResident>();
        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(100));   // loaded, and no CDIA of its own
    }

    [Fact]
    public void An_attached_device_registers_its_notifiers_injects_only_when_written_and_refuses_what_it_does_not_drive()
    {
        var spec = new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, 4, 5));
        var device = Sys.ActorOf(IrqfdActor.Props(0, spec, Vm, Events, new DeviceState(long.MaxValue), 1));

        device.Tell(DeviceProtocol.Attach.Instance);
        Assert.Equal(4u, ApList.ExpectMsg<ApListProtocol.RegisterNotifier>().Spi);
        Assert.Equal(5u, ApList.ExpectMsg<ApListProtocol.RegisterNotifier>().Spi);
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        device.Tell(new DeviceProtocol.Write(IntId.Spi(5)));
        Assert.Equal(new ApListProtocol.SetIrq(5, true), ApList.ExpectMsg<ApListProtocol.SetIrq>());
        device.Tell(new DeviceProtocol.Notified(5));                 // an edge irqfd does not refill a window when directed
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        device.Tell(new DeviceProtocol.Write(IntId.Spi(9)));
        Assert.Contains("does not drive spi:9", ExpectMsg<IrsProtocol.Refused>().Reason);
    }

    [Fact]
    public void Drivers_answer_the_quiescence_question_with_the_messages_they_processed()
    {
        var state = new SchedulerState();
        var scheduler = Sys.ActorOf(HostSchedulerActor.Props(Vm, new HostSpec(), state, 1, Events));

        scheduler.Tell(new MigrationProtocol.Quiesce(1));
        Assert.Equal(0, ExpectMsg<MigrationProtocol.Quiet>().Processed);
        scheduler.Tell(new Doorbell(1));
        Vcpus[1].ExpectMsg<Wake>();
        scheduler.Tell(new MigrationProtocol.Quiesce(2));

        var quiet = ExpectMsg<MigrationProtocol.Quiet>();
        Assert.Equal((2L, 1L), (quiet.Round, quiet.Processed));
    }
}
