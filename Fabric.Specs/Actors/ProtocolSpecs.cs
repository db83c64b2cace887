using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>One VM's actors with TestProbes standing in for every neighbour of the actor under test.</summary>
public abstract class ProtocolSpec : TestKit
{
    protected readonly TestProbe Virs, ApList, Scheduler, Device;
    protected readonly TestProbe[] Vpes, Vcpus;
    protected readonly VmTopology Vm;
    protected readonly EventLog Events = new();

    protected ProtocolSpec(int vcpus = 2)
    {
        Vm = new VmTopology(0, vcpus);
        Virs = CreateTestProbe("virs");
        ApList = CreateTestProbe("ap-list");
        Scheduler = CreateTestProbe("scheduler");
        Device = CreateTestProbe("device");
        Vpes = Enumerable.Range(0, vcpus).Select(v => CreateTestProbe($"vpe-{v}")).ToArray();
        Vcpus = Enumerable.Range(0, vcpus).Select(v => CreateTestProbe($"vcpu-{v}")).ToArray();
        Vm.Virs = Virs.Ref;
        Vm.ApList = ApList.Ref;
        Vm.Scheduler = Scheduler.Ref;
        for (var v = 0; v < vcpus; v++)
        {
            Vm.Vpes[v] = Vpes[v].Ref;
            Vm.Vcpus[v] = Vcpus[v].Ref;
        }
    }

    protected static IntId Spi(uint n) => IntId.Spi(n);

    /// <summary>The IRS forwards spi:<paramref name="spi"/> at <paramref name="prio"/> as the VPE's HPPI.</summary>
    protected static CpuInterfaceProtocol.Offer OfferOf(uint spi, int prio) => new(new Hppi(IntId.Spi(spi), Priority.Of(prio)));

    /// <summary>A VirtualIrsActor around <paramref name="state"/>, with the guest's boot of spi:5 (priority 8, enabled,
    /// routed to <paramref name="target"/>).</summary>
    protected IActorRef StartVirs(VirtualIrsState state, FabricPolicies policies, int target)
    {
        state.Irs.EnableIrs();
        var actor = Sys.ActorOf(VirtualIrsActor.Props(state, Vm, policies, Events));
        actor.Tell(new IrsProtocol.CdPriority(Spi(5), 8));
        actor.Tell(new IrsProtocol.CdAffinity(Spi(5), target));
        actor.Tell(new IrsProtocol.CdEnable(Spi(5), true));
        return actor;
    }
}

public class VirtualIrsActorSpecs : ProtocolSpec
{
    private readonly VirtualIrsState _state = new(new VirtualIrs(new VirtualIrsConfig(32, 2)));

    private IActorRef Start(TrackingPolicy tracking = TrackingPolicy.Push) => StartVirs(_state, new FabricPolicies(Tracking: tracking), target: 1);

    [Fact]
    public void Vdpend_pends_and_offers_the_interrupt_to_the_vpe_its_iaffid_names()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        var offer = Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>();
        Assert.Equal(new Hppi(Spi(5), Priority.Of(8)), offer.Hppi);
        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Activation_of_the_offered_interrupt_is_confirmed_and_the_offer_withdrawn()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        var activated = Vpes[1].ExpectMsg<IrsProtocol.Activated>();
        Assert.Equal(Spi(5), activated.Id);
        Assert.Null(activated.Next!.Hppi);                            // the withdrawal rides with the answer ...
        Vpes[1].ExpectNoMsg(TimeSpan.FromMilliseconds(100));          // ... not as an offer of its own
        Assert.True(_state.Irs.Entry(Spi(5)).Active);
    }

    [Fact]
    public void An_activation_carries_the_vpes_next_offer_with_its_answer()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.CdPriority(Spi(6), 8));
        virs.Tell(new IrsProtocol.CdAffinity(Spi(6), 1));
        virs.Tell(new IrsProtocol.CdEnable(Spi(6), true));
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        virs.Tell(new IrsProtocol.Vdpend(Spi(6), true, 1));
        Assert.Equal(Spi(5), Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        Assert.Equal(Spi(6), Vpes[1].ExpectMsg<IrsProtocol.Activated>().Next!.Hppi!.Value.Id);   // the next one, at once
        Vpes[1].ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void An_offer_disabled_before_cdia_is_refused_and_nothing_changes()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.CdEnable(Spi(5), false));
        Assert.Null(Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi);
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        Vpes[1].ExpectMsg<IrsProtocol.ActivateRefused>();
        var e = _state.Irs.Entry(Spi(5));
        Assert.True(e.Pending && !e.Active);
    }

    [Fact]
    public void An_offer_retargeted_before_cdia_is_refused_to_the_old_vpe_and_offered_to_the_new()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(new IrsProtocol.CdAffinity(Spi(5), 0));
        Assert.Null(Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi);
        Assert.Equal(Spi(5), Vpes[0].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        Vpes[1].ExpectMsg<IrsProtocol.ActivateRefused>();
    }

    [Fact]
    public void Under_push_a_deactivation_is_reported_to_the_ap_list_with_the_last_applied_injection()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 7));
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        virs.Tell(new IrsProtocol.Cddi(Spi(5), 1));
        var report = ApList.FishForMessage<ApListProtocol.Deactivated>(_ => true);
        Assert.Equal((5u, true, 7L), (report.Spi, report.Deactivation, report.AppliedSeq));
        Assert.False(report.Icsr.Active);
    }

    [Fact]
    public void Under_fold_nothing_is_pushed_and_vdrcfg_reads_the_state()
    {
        var virs = Start(TrackingPolicy.Fold);
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 3));
        virs.Tell(new IrsProtocol.Activate(Spi(5), 1), Vpes[1].Ref);
        virs.Tell(new IrsProtocol.Cddi(Spi(5), 1));
        virs.Tell(new IrsProtocol.Vdrcfg(1, [5u]), ApList.Ref);
        var result = ApList.FishForMessage<IrsProtocol.VdrcfgResult>(_ => true);
        Assert.False(result.Icsrs[0].Active || result.Icsrs[0].Pending);
        Assert.Equal(3L, result.AppliedSeqs[0]);
        ApList.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Theory]
    [InlineData("CDPRI", 40)]
    [InlineData("CDAFF", 65536)]
    public void Out_of_range_guest_values_are_refused_by_name_and_change_nothing(string op, int value)
    {
        var virs = Start();
        AwaitAssert(() => Assert.True(_state.Irs.Entry(Spi(5)).Enabled));
        var before = _state.Irs.Entry(Spi(5));
        virs.Tell(op == "CDPRI" ? new IrsProtocol.CdPriority(Spi(5), value) : new IrsProtocol.CdAffinity(Spi(5), value), TestActor);
        var refused = ExpectMsg<IrsProtocol.Refused>();
        Assert.Equal(op, refused.Operation);
        Assert.Equal(before, _state.Irs.Entry(Spi(5)));
    }

    [Fact]
    public void An_intid_beyond_the_vm_is_refused_and_changes_nothing()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(40), true, 1), TestActor);
        Assert.Contains("beyond this VM's 32 SPIs", ExpectMsg<IrsProtocol.Refused>().Reason);
        Assert.All(_state.Irs.Entries(), e => Assert.False(e.Entry.Pending));
    }

    [Fact]
    public void A_restarted_virs_keeps_its_ists_and_re_offers()
    {
        var virs = Start();
        virs.Tell(new IrsProtocol.Vdpend(Spi(5), true, 1));
        Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>();
        virs.Tell(IrsProtocol.Crash.Instance);
        Assert.Equal(Spi(5), Vpes[1].ExpectMsg<CpuInterfaceProtocol.Offer>().Hppi!.Value.Id);
        Assert.True(_state.Irs.Entry(Spi(5)).Pending);
    }
}

public class SpiApListActorSpecs : ProtocolSpec
{
    private readonly ApListState _state = new(new SpiApList(32, NotifyPolicy.OnDeactivate));

    private IActorRef Start(TrackingPolicy tracking = TrackingPolicy.Push)
    {
        var actor = Sys.ActorOf(SpiApListActor.Props(_state, Vm, new FabricPolicies(Tracking: tracking), Events));
        actor.Tell(new ApListProtocol.RegisterNotifier(5, Device.Ref));
        return actor;
    }

    private static Icsr Idle => Icsr.From(IstEntry.Zero);

    [Fact]
    public void An_injection_issues_vdpend_and_puts_the_spi_on_the_list_once()
    {
        var list = Start();
        list.Tell(new ApListProtocol.SetIrq(5, true));
        list.Tell(new ApListProtocol.SetIrq(5, true));
        Assert.Equal(new IrsProtocol.Vdpend(Spi(5), true, 1), Virs.ExpectMsg<IrsProtocol.Vdpend>());
        Assert.Equal(new IrsProtocol.Vdpend(Spi(5), true, 2), Virs.ExpectMsg<IrsProtocol.Vdpend>());
        AwaitAssert(() => Assert.Equal([5u], _state.List.Entries));
    }

    [Fact]
    public void Each_pushed_deactivation_fires_the_notifier_exactly_once()
    {
        var list = Start();
        list.Tell(new ApListProtocol.SetIrq(5, true));
        Virs.ExpectMsg<IrsProtocol.Vdpend>();
        list.Tell(new ApListProtocol.Deactivated(5, Idle, true, 1));
        Assert.Equal(5u, Device.ExpectMsg<DeviceProtocol.Notified>().Spi);
        list.Tell(new ApListProtocol.Deactivated(5, Idle, true, 1));
        Device.ExpectNoMsg(TimeSpan.FromMilliseconds(150));
        AwaitAssert(() => Assert.Empty(_state.List.Entries));
    }

    [Fact]
    public void A_deactivation_racing_a_re_injection_notifies_and_keeps_the_spi_on_the_list()
    {
        var list = Start();
        list.Tell(new ApListProtocol.SetIrq(5, true));
        list.Tell(new ApListProtocol.SetIrq(5, true));
        Virs.ExpectMsg<IrsProtocol.Vdpend>();
        Virs.ExpectMsg<IrsProtocol.Vdpend>();
        // The IRS read the state after applying injection 1 only: injection 2 is still in flight.
        list.Tell(new ApListProtocol.Deactivated(5, Idle, true, 1));
        Device.ExpectMsg<DeviceProtocol.Notified>();
        AwaitAssert(() => Assert.Equal([5u], _state.List.Entries));
    }

    [Fact]
    public void Under_the_merged_design_an_injection_issues_vdpend_and_tracks_nothing_and_a_consumption_notifies_nothing()
    {
        var state = new ApListState(new SpiApList(32, NotifyPolicy.OnDeactivate, KvmDesign.Merged));
        var list = Sys.ActorOf(SpiApListActor.Props(state, Vm, new FabricPolicies(Tracking: TrackingPolicy.Fold, Kvm: KvmDesign.Merged), Events));
        list.Tell(new ApListProtocol.RegisterNotifier(5, Device.Ref));
        list.Tell(new ApListProtocol.SetIrq(5, true));
        Assert.Equal(new IrsProtocol.Vdpend(Spi(5), true, 1), Virs.ExpectMsg<IrsProtocol.Vdpend>());
        list.Tell(new ApListProtocol.VcpuExit(0));                     // no fold: the merged host has no VDRCFG
        list.Tell(new ApListProtocol.Deactivated(5, Idle, true, 1));
        // The device sees the consumption on its own completion path; KVM's notifier never fires.
        Assert.Equal(5u, Device.ExpectMsg<DeviceProtocol.Consumed>().Spi);
        Virs.ExpectNoMsg(TimeSpan.FromMilliseconds(150));
        Assert.Empty(state.List.Entries);
        var logged = new List<FabricEvent>();
        Events.Drain(logged);
        Assert.DoesNotContain(logged, e => e.Ev is Ev.Track or Ev.Notify);
    }

    [Fact]
    public void Under_fold_a_vcpu_exit_reads_every_entry_and_prunes_the_consumed()
    {
        var list = Start(TrackingPolicy.Fold);
        list.Tell(new ApListProtocol.SetIrq(5, true));
        Virs.ExpectMsg<IrsProtocol.Vdpend>();
        list.Tell(new ApListProtocol.VcpuExit(0));
        var read = Virs.ExpectMsg<IrsProtocol.Vdrcfg>();
        Assert.Equal([5u], read.Spis);
        list.Tell(new IrsProtocol.VdrcfgResult(read.FoldId, read.Spis, [Idle], [1L]));
        Device.ExpectMsg<DeviceProtocol.Notified>();
        AwaitAssert(() => Assert.Empty(_state.List.Entries));
    }

    [Fact]
    public void An_spi_beyond_the_vm_is_refused()
    {
        var list = Start();
        list.Tell(new ApListProtocol.SetIrq(99, true), TestActor);
        Assert.Equal("kvm_set_irq", ExpectMsg<IrsProtocol.Refused>().Operation);
        Virs.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}

