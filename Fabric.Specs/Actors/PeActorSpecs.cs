using Akka.Actor;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Protocol;
using Xunit;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;

namespace Fabric.Specs.Actors;

/// <summary>
/// The PE actor: vCPU 0's guest and its VPE in one actor. What one unit asks of the other never leaves it (the probes
/// standing at the VPE's and the vCPU's addresses hear nothing), what comes from outside reaches the unit whose protocol
/// it is, and a restart or a freeze covers both units.
/// </summary>
public class PeActorSpecs : ProtocolSpec
{
    private readonly VirtualCpuInterface _cpu = CpuInterfaceRules.GuestEnable(new(0) { IrsEnabled = true }, Priority.Lowest);
    private readonly VpeState _vpe;
    private readonly VcpuState _vcpu = new(0, VmSpec.Simple(vcpus: 2));

    public PeActorSpecs() => _vpe = new VpeState(_cpu);

    private IActorRef Start(VcpuState? vcpu = null) => Sys.ActorOf(PeActor.Props(_vpe, vcpu ?? _vcpu, Vm, Events));

    /// <summary>A booted PE: the guest set its PCR and made its VPE resident, inside the PE.</summary>
    private IActorRef Booted(VcpuState? vcpu = null)
    {
        var pe = Start(vcpu);
        pe.Tell(VcpuProtocol.Boot.Instance);
        AwaitAssert(() => Assert.True(_cpu.Resident));
        return pe;
    }

    private void NothingBetweenTheHalves()
    {
        Vpes[0].ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Vcpus[0].ExpectNoMsg(TimeSpan.Zero);
    }

    [Fact]
    public void A_guest_acknowledges_and_ends_an_interrupt_through_its_own_cpu_interface_with_no_message_between_them()
    {
        var pe = Booted();
        pe.Tell(new Offer(new Hppi(IntId.Spi(5), Priority.Of(8))), Virs.Ref);

        var activate = Virs.ExpectMsg<IrsProtocol.Activate>();   // IrqAsserted and CDIA stayed inside the PE
        Assert.Equal((IntId.Spi(5), 0), (activate.Id, activate.Vpe));
        pe.Tell(new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8)), Virs.Ref);
        pe.Tell(new Offer(null), Virs.Ref);

        Assert.Equal(new IrsProtocol.Cddi(IntId.Spi(5), 0), (IrsProtocol.Cddi)Virs.FishForMessage(m => m is IrsProtocol.Cddi));   // CdiaResult and CDEOI too
        AwaitAssert(() => Assert.Equal(0u, _cpu.Apr));
        NothingBetweenTheHalves();
    }

    [Fact]
    public void An_idle_guest_blocks_in_wfi_and_its_vpe_asks_for_a_doorbell_inside_the_pe()
    {
        var pe = Booted();
        pe.Tell(new Offer(new Hppi(IntId.Spi(5), Priority.Of(8))), Virs.Ref);
        Virs.ExpectMsg<IrsProtocol.Activate>();
        pe.Tell(new Offer(null), Virs.Ref);                                // the offer was withdrawn meanwhile:
        pe.Tell(new IrsProtocol.ActivateRefused(IntId.Spi(5)), Virs.Ref);   // CDIA returns nothing

        ApList.ExpectMsg<ApListProtocol.VcpuExit>();
        AwaitAssert(() => Assert.True(!_cpu.Resident && _cpu.Doorbell.Armed));
        Scheduler.ExpectNoMsg(TimeSpan.FromMilliseconds(100));            // nothing pending: no doorbell yet
        NothingBetweenTheHalves();
    }

    [Fact]
    public void Messages_from_outside_reach_the_unit_whose_protocol_they_are_and_directed_reads_read_the_vpe()
    {
        var pe = Start();
        pe.Tell(ResidencyProtocol.MakeResident.Instance);             // the VPE's
        pe.Tell(new SetPriorityMask(16));
        pe.Tell(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Wfi));   // the vCPU's: not booted, so not running
        Assert.Equal("vcpu-state = wfi", ExpectMsg<IrsProtocol.Refused>().Operation);

        pe.Tell(DirectedProtocol.ReadCpu.Instance);
        var cpu = ExpectMsg<DirectedProtocol.CpuRead>();
        Assert.Equal((0, true, 16), (cpu.Vpe, cpu.Resident, cpu.Pcr));
        pe.Tell(new DirectedProtocol.ReadEntry(IntId.Ppi(3)));
        Assert.Null(ExpectMsg<DirectedProtocol.EntryRead>().Error);
    }

    [Fact]
    public void A_cdia_from_outside_is_answered_to_whoever_issued_it()
    {
        var pe = Start();
        pe.Tell(ResidencyProtocol.MakeResident.Instance);
        pe.Tell(new Offer(new Hppi(IntId.Spi(5), Priority.Of(8))));
        pe.Tell(Cdia.Instance, TestActor);
        Virs.ExpectMsg<IrsProtocol.Activate>();
        pe.Tell(new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8)), Virs.Ref);
        Assert.Equal(IntId.Spi(5), ExpectMsg<CdiaResult>().Id);
        NothingBetweenTheHalves();
    }

    [Fact]
    public void A_restarted_pe_resumes_the_guests_handler_from_the_state_both_units_kept()
    {
        var slow = new VcpuState(0, VmSpec.Simple(vcpus: 2) with { Guest = new GuestSpec(TimeSpan.FromHours(1)) });
        var pe = Booted(slow);
        pe.Tell(new Offer(new Hppi(IntId.Spi(5), Priority.Of(8))), Virs.Ref);
        Virs.ExpectMsg<IrsProtocol.Activate>();
        pe.Tell(new IrsProtocol.Activated(IntId.Spi(5), Priority.Of(8)), Virs.Ref);
        AwaitAssert(() => Assert.Equal(IntId.Spi(5), slow.Handling));   // its handler runs for an hour

        pe.Tell(IrsProtocol.Crash.Instance);

        // The restart re-runs both units' Restarted: the guest resumes its handler at once (its timer went with the
        // actor), so the interrupt ends; the VPE's APR, which survived, is dropped by that CDEOI.
        Assert.Equal(IntId.Spi(5), ((IrsProtocol.Cddi)Virs.FishForMessage(m => m is IrsProtocol.Cddi)).Id);
        AwaitAssert(() => Assert.Equal(0u, _cpu.Apr));
        NothingBetweenTheHalves();
    }

    [Fact]
    public void A_frozen_pe_hands_over_both_units_state()
    {
        var pe = Booted();
        pe.Tell(MigrationProtocol.Freeze.Instance);
        var units = new[] { ExpectMsg<MigrationProtocol.Frozen>().Unit, ExpectMsg<MigrationProtocol.Frozen>().Unit };
        Assert.Same(_vpe, units.OfType<VpeState>().Single());
        Assert.Same(_vcpu, units.OfType<VcpuState>().Single());
    }

    [Fact]
    public void A_vm_is_built_with_one_pe_per_vcpu_at_both_of_its_addresses_named_in_the_tree()
    {
        Sys.ActorOf(VmActor.Props(0, VmSpec.Simple(vcpus: 2), Events, TestActor), "vm-0");
        var t = ExpectMsg<HostIrsProtocol.VmCreated>().Topology;
        for (var v = 0; v < 2; v++)
        {
            Assert.Same(t.Vpes[v], t.Vcpus[v]);
            Assert.EndsWith($"/vm-0/pe-{v}", t.Vpes[v].Path.ToStringWithoutAddress());
        }
        Assert.Equal(4, t.UnitActors().Length);   // the two PEs, the IRS slice, the AP list
    }

    [Fact]
    public void A_pe_is_one_vcpu_and_its_own_vpe()
    {
        var other = new VcpuState(1, VmSpec.Simple(vcpus: 2));
        var e = Assert.Throws<ArgumentException>(() => PeActor.Props(_vpe, other, Vm, Events));
        Assert.Contains("VPE (0) and vCPU (1)", e.Message);
    }
}
