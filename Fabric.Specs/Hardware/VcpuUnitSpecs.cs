using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Protocol;
using Xunit;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Specs.Hardware;

/// <summary>
/// The guest's unit (<see cref="VcpuState"/>) on its own: the handler loop, WFI, preemption, and a directed scenario's
/// vCPU (DESIGN.md §6.4), which acts only when a step says so. What it asks of its VPE — whichever interpreter hosts the
/// two — is a message to <see cref="UnitAddress.Vpe"/>(0).
/// </summary>
public class VcpuUnitSpecs
{
    private static readonly UnitAddress Vpe0 = UnitAddress.Vpe(0);
    private static readonly VmSpec Directed = VmSpec.Simple(vcpus: 2) with { Directed = true };

    /// <summary>vCPU 0, booted: it set its PCR and made its VPE resident.</summary>
    private static UnitRun Booted(VmSpec? spec = null)
    {
        var s = spec ?? VmSpec.Simple(vcpus: 2);
        var vcpu = new UnitRun(new VcpuState(0, s), new VmShape(0, s.Vcpus, s.Policies));
        Assert.Equal(["Vpe0 SetPriorityMask", "Vpe0 MakeResident"], vcpu.Step(VcpuProtocol.Boot.Instance).Sends());
        return vcpu;
    }

    [Fact]
    public void The_handler_loop_acknowledges_drops_priority_deactivates_and_asks_again()
    {
        var vcpu = Booted();
        Assert.Equal(["Vpe0 Cdia"], vcpu.Step(IrqAsserted.Instance).Sends());
        var fx = vcpu.Step(new CdiaResult(IntId.Spi(5)), Vpe0);
        Assert.Equal(["Vpe0 Cdeoi", "Irs Cddi", "Vpe0 Cdia"], fx.Sends());
        Assert.Equal(new IrsProtocol.Cddi(IntId.Spi(5), 0), Assert.Single(fx.To(UnitAddress.Irs)));
    }

    [Fact]
    public void An_idle_vcpu_blocks_in_wfi_with_a_doorbell_request_and_exits_to_kvm()
    {
        var vcpu = Booted();
        vcpu.Step(IrqAsserted.Instance);
        var fx = vcpu.Step(new CdiaResult(null), Vpe0);
        Assert.Equal(["Vpe0 MakeNonResident", "ApList VcpuExit"], fx.Sends());
        Assert.True(fx.To(Vpe0).OfType<MakeNonResident>().Single().Wfi);
        Assert.Empty(vcpu.Step(IrqAsserted.Instance).Sends());             // asleep: only a doorbell wakes it
        Assert.Equal(["Vpe0 MakeResident", "Vpe0 Cdia"], vcpu.Step(Wake.Instance).Sends());
    }

    [Fact]
    public void A_vcpu_woken_from_wfi_tells_its_VPE_what_woke_it_and_a_load_no_wake_caused_says_none()
    {
        foreach (var (wake, woken) in new[] { (Wake.ByKick, Woken.ByKick), (Wake.Instance, Woken.ByDoorbell) })
        {
            var vcpu = Booted();
            vcpu.Step(IrqAsserted.Instance);
            vcpu.Step(new CdiaResult(null), Vpe0);                         // idle: WFI
            Assert.Equal(woken, vcpu.Step(wake).To(Vpe0).OfType<MakeResident>().Single().WokenBy);
            vcpu.Step(Preempt.Instance);
            Assert.Equal(Woken.No, vcpu.Step(Resume.Instance).To(Vpe0).OfType<MakeResident>().Single().WokenBy);
        }
    }

    [Fact]
    public void A_kick_that_reaches_a_vcpu_stopped_for_a_move_makes_its_load_after_the_move_the_kicks()
    {
        var vcpu = Booted();
        vcpu.Step(IrqAsserted.Instance);
        vcpu.Step(new CdiaResult(null), Vpe0);                             // idle: WFI
        vcpu.Step(VcpuProtocol.StopVcpu.Instance);
        Assert.Empty(vcpu.Step(Wake.ByKick).Sends());                      // stopped: no load yet
        var load = vcpu.Step(VcpuProtocol.RunVcpu.Instance).To(Vpe0).OfType<MakeResident>().Single();
        Assert.Equal(Woken.ByKick, load.WokenBy);
    }

    [Fact]
    public void A_preempted_vcpu_is_put_without_a_doorbell_and_finishes_its_handler_after_resuming()
    {
        var vcpu = Booted();
        vcpu.Step(IrqAsserted.Instance);
        var put = vcpu.Step(Preempt.Instance);
        Assert.Equal(["Vpe0 MakeNonResident", "ApList VcpuExit"], put.Sends());
        Assert.False(put.To(Vpe0).OfType<MakeNonResident>().Single().Wfi);
        Assert.Empty(vcpu.Step(new CdiaResult(IntId.Spi(5)), Vpe0).Sends());   // the CDIA issued before the put
        Assert.Equal(["Vpe0 MakeResident", "Vpe0 Cdeoi", "Irs Cddi", "Vpe0 Cdia"], vcpu.Step(Resume.Instance).Sends());
    }

    [Fact]
    public void A_directed_vcpu_boots_resident_and_acknowledges_nothing_by_itself()
    {
        var vcpu = Booted(Directed);
        Assert.Empty(vcpu.Step(IrqAsserted.Instance));
    }

    [Fact]
    public void A_directed_vcpu_runs_its_handler_loop_when_told_and_stays_awake_when_it_ends()
    {
        var vcpu = Booted(Directed);
        Assert.Equal(["Vpe0 Cdia"], vcpu.Step(VcpuProtocol.HandleAll.Instance).Sends());
        Assert.Equal(["Vpe0 Cdeoi", "Irs Cddi", "Vpe0 Cdia"], vcpu.Step(new CdiaResult(IntId.Spi(5)), Vpe0).Sends());
        Assert.Empty(vcpu.Step(new CdiaResult(null), Vpe0).Sends());   // no WFI of its own
    }

    [Fact]
    public void Wfi_and_preemption_of_a_vcpu_that_is_not_running_are_refused_and_run_loads_it()
    {
        var vcpu = Booted(Directed);
        var step = "the step";
        var wfi = vcpu.Step(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Wfi), step);
        Assert.True(wfi.To(Vpe0).OfType<MakeNonResident>().Single().Wfi);
        Assert.Contains("not running (in WFI)",
            Assert.IsType<IrsProtocol.Refused>(Assert.Single(vcpu.Step(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Preempt), step).TellsTo(step))).Reason);
        Assert.Equal("exit", Assert.IsType<IrsProtocol.Refused>(Assert.Single(vcpu.Step(VcpuProtocol.TrapExit.Instance, step).TellsTo(step))).Operation);
        Assert.Equal(["Vpe0 MakeResident"], vcpu.Step(new VcpuProtocol.SetVcpu(VcpuProtocol.VcpuRun.Run), step).Sends());   // loaded, and no CDIA of its own
    }
}
