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

/// <summary>The actors' side of a directed scenario (DESIGN.md §6.4): a directed device writes only when driven, and the
/// drivers answer the quiescence question a settle asks. A directed vCPU's rules are its unit's
/// (<see cref="Fabric.Specs.Hardware.VcpuUnitSpecs"/>).</summary>
public class DirectedProtocolSpecs : ProtocolSpec
{
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
