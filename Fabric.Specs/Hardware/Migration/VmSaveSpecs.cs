using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using Xunit;
using static Fabric.Specs.Hardware.Migration.MigrationKit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>Saving a VM (SEMANTICS.md §4 "Save"): only from a quiesced VM, a pure read, and everything a restore needs.</summary>
public class VmSaveSpecs
{
    [Fact]
    public void Two_saves_of_an_unchanged_VM_are_identical_and_change_nothing()
    {
        var (vm, first) = Busy();
        var before = (Convert.ToHexString(vm.Irs.Spis.SaveEntries()), string.Join(",", vm.Irs.Frame.Snapshot()), vm.Counters.ToString());
        var second = Save(vm);
        Assert.Equal(first.Encode(), second.Encode());
        Assert.Equal(before, (Convert.ToHexString(vm.Irs.Spis.SaveEntries()), string.Join(",", vm.Irs.Frame.Snapshot()), vm.Counters.ToString()));
    }

    [Fact]
    public void A_resident_VPE_makes_the_save_EBUSY_and_nothing_is_read()
    {
        var vm = Vm();
        vm.Load(1);
        var r = VmSave.Save(vm);
        Assert.False(r.Ok);
        Assert.Null(r.State);
        Assert.Equal(Errno.EBUSY, r.Status.Errno);
        Assert.Equal(-16, r.Status.ReturnValue);
        Assert.Contains("VPE 1 resident", r.Status.Message);
        vm.Put(1, wfi: false);
        Assert.True(VmSave.Save(vm).Ok);
    }

    [Fact]
    public void A_CDIA_in_flight_makes_the_save_EBUSY()
    {
        var vm = Vm();
        var r = VmSave.Save(vm.Irs, vm.Cpus, vm.ApList, vpesWithCdiaInFlight: [0]);
        Assert.Equal(Errno.EBUSY, r.Status.Errno);
        Assert.Contains("CDIA of VPE 0", r.Status.Message);
    }

    [Fact]
    public void A_trigger_mode_KVM_has_not_seen_yet_makes_the_save_EBUSY()
    {
        var vm = Vm();
        Assert.True(vm.Irs.ConfigureSpiTrigger(6, HandlingMode.Level).Ok);   // the IRS frame took it; KVM's irq->config did not
        var r = VmSave.Save(vm);
        Assert.Equal(Errno.EBUSY, r.Status.Errno);
        Assert.Contains("spi:6", r.Status.Message);
        vm.ApList.Configure(6, HandlingMode.Level);
        Assert.True(VmSave.Save(vm).Ok);
    }

    [Fact]
    public void The_ISTs_are_saved_as_KVM_does_one_little_endian_ISTE_per_interrupt_with_Pending_as_it_is()
    {
        var (vm, state) = Busy();
        Assert.Equal(vm.Irs.Spis.SaveEntries(), state.SpiIst.ToArray());
        Assert.Equal(32 * 4, state.SpiIst.Length);
        Assert.Equal("AP", StateNotation.State(state.SpiEntry(3)));
        Assert.Equal(vm.Irs.Lpis!.SaveEntries(), state.LpiIst.ToArray());
        Assert.Equal(4 << LpiIdBits, state.LpiIst.Length);
        Assert.Empty(Busy(lpis: false).State.LpiIst);
    }

    [Fact]
    public void The_IRS_registers_are_every_readable_one_in_offset_order_as_a_guest_reads_them()
    {
        var (vm, state) = Busy();
        var expected = IrsRegisters.All.Where(r => r.Access != RegisterAccess.WriteOnly).OrderBy(r => r.Offset).ToList();
        Assert.Equal(expected.Select(r => (uint)r.Offset), state.IrsRegisters.Select(r => r.Offset));
        Assert.Equal(expected.Select(r => r.Width), state.IrsRegisters.Select(r => r.Width));
        Assert.DoesNotContain(state.IrsRegisters, r => r.Offset == IrsRegisters.Syncr.Offset);
        Assert.Equal(vm.Irs.Frame.Read(IrsRegisters.IstBaser.Offset, 8).Value, state.Register(IrsRegisterId.IstBaser));
        Assert.Equal(1UL, state.Register(IrsRegisterId.Cr0)! & 1);   // IRSEN
    }

    [Fact]
    public void Every_vCPU_is_saved_with_its_CPU_interface_registers_and_KVM_bookkeeping()
    {
        var (vm, state) = Busy();
        Assert.Equal(1UL << 4, state.Vpes[0][CpuSysreg.IccApr]);                  // spi:3 (priority 4) acknowledged, not dropped
        Assert.Equal(1UL << 23, state.Vpes[0][CpuSysreg.IccPpiSpendr0]);          // PPI 23 pending
        Assert.Equal(16UL, state.Vpes[1][CpuSysreg.IccPcr]);
        Assert.Equal(1UL, state.Vpes[1][CpuSysreg.IccCr0]);
        Assert.Equal(new VpeBookkeeping(vm.Cpus[1].DbFired, vm.Cpus[1].Doorbell), state.Vpes[1].Kvm);
        Assert.True(state.Vpes[1].Kvm.DbFired);                                     // spi:5 rang VPE 1's doorbell as it went to WFI
        Assert.Equal(CpuInterfaceSysregs.ReadAll(vm.Cpus[0]).ToArray(), state.Vpes[0].Sysregs.ToArray());
    }

    [Fact]
    public void KVM_bookkeeping_and_the_AP_list_are_saved_in_list_order()
    {
        var (vm, state) = Busy();
        Assert.Equal(new uint[] { 3, 5, 7 }, state.ApList);
        Assert.Equal(vm.ApList[5], state.Spis[5]);
        Assert.Equal(new KvmIrq(HandlingMode.Level, LineLevel: true, PendingLatch: false, OnApList: true), state.Spis[5]);
        Assert.Equal(new KvmIrq(HandlingMode.Edge, false, PendingLatch: true, OnApList: true), state.Spis[7]);
        Assert.Equal(default, state.Spis[8]);
    }
}
