using Fabric.Hardware.Protocol;
using CsCheck;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using Fabric.Hardware.Reference;
using Xunit;
using static Fabric.Specs.Hardware.Migration.MigrationKit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>Save, restore, save again: the same bytes; and a restored VM that behaves as its source would have.</summary>
public class MigrationRoundTripSpecs
{
    private static readonly Gen<ulong> AnyIrsBase = Gen.ULong[0, (1UL << 32) / VmRestore.IrsAlignment - 2].Select(n => n * VmRestore.IrsAlignment);

    [Fact]
    public void Save_restore_save_gives_the_same_bytes()
    {
        var (_, state) = Busy();
        var bytes = state.Encode();
        Assert.True(VmState.TryDecode(bytes, out var decoded, out var error), error);
        var run = VmRestore.RestoreAndRun(decoded, Policies());
        Assert.True(run.Ok, run.Status.ToString());
        Assert.Equal(bytes, Save(run.Vm!.ToModel(1)).Encode());
    }

    [Fact]
    public void A_CPU_interface_with_PPIs_in_two_banks_round_trips_byte_for_byte()
    {
        var vm = Vm();
        var cpu = vm.Cpus[0];
        CpuInterfaceRules.ApplyPpi(cpu, IntId.Ppi(3), e => InterruptStateMachine.SetPriority(e, Priority.Of(4)));
        CpuInterfaceRules.ApplyPpi(cpu, IntId.Ppi(3), e => InterruptStateMachine.SetEnabled(e, true));
        CpuInterfaceRules.ApplyPpi(cpu, IntId.Ppi(3), e => InterruptStateMachine.SetPending(e, true));
        cpu.Ppis[70] = IstEntry.Zero.WithEnabled(true).WithActive(true).WithPriority(Priority.Of(9));   // acknowledged, dropped
        Assert.Equal(2, cpu.Ppis.BanksAllocated);
        Quiesce(vm);
        var bytes = Save(vm).Encode();
        Assert.True(VmState.TryDecode(bytes, out var decoded, out var error), error);
        var run = VmRestore.RestoreAndRun(decoded, Policies());
        Assert.True(run.Ok, run.Status.ToString());
        var restored = run.Vm!.Cpus[0];
        Assert.Equal(cpu.Ppis, restored.Ppis);
        Assert.Equal(2, restored.Ppis.BanksAllocated);
        Assert.Equal(0, run.Vm.Cpus[1].Ppis.BanksAllocated);
        Assert.Equal(bytes, Save(run.Vm.ToModel(1)).Encode());
    }

    [Fact]
    public void Save_restore_save_gives_the_same_bytes_for_random_VMs()
    {
        Gen.Select(AnyShape, AnyPolicies, AnyOp.Array[0, 80], Gen.Int[0, 7], AnyIrsBase).Sample((shape, policies, ops, wfi, irsBase) =>
        {
            var vm = MigrationKit.Run(shape, policies, ops, wfi);
            var bytes = Save(vm, irsBase).Encode();
            if (!VmState.TryDecode(bytes, out var state, out var error)) throw new Xunit.Sdk.XunitException(error);
            var run = VmRestore.RestoreAndRun(state, policies);
            if (!run.Ok) throw new Xunit.Sdk.XunitException(run.Status.ToString());
            var again = VmSave.Save(run.Vm!.Irs, run.Vm.Cpus, run.Vm.ApList, irsBase);
            return again.Ok && again.State!.Encode().AsSpan().SequenceEqual(bytes) && run.Doorbells.IsEmpty;
        }, iter: 400);
    }

    [Fact]
    public void A_restored_VM_behaves_as_its_source_would_have()
    {
        Gen.Select(AnyShape, AnyPolicies, AnyOp.Array[0, 60], AnyOp.Array[1, 60], Gen.Int[0, 7]).Sample((shape, policies, before, after, wfi) =>
        {
            var source = MigrationKit.Run(shape, policies, before, wfi);
            var run = VmRestore.RestoreAndRun(Save(source), policies);
            if (!run.Ok) throw new Xunit.Sdk.XunitException(run.Status.ToString());
            var restored = run.Vm!.ToModel(1);
            var notifiedBefore = source.NotifiedPerSpi.ToArray();
            foreach (var op in after)
            {
                var expected = Apply(source, op);
                var got = Apply(restored, op);
                if (expected != got) throw new Xunit.Sdk.XunitException($"after the move, {op} gave '{got}' where the source gave '{expected}'");
            }
            Quiesce(source, wfi);
            Quiesce(restored, wfi);
            var notifiedSince = source.NotifiedPerSpi.Zip(notifiedBefore, (n, b) => n - b);
            return Save(source).Encode().AsSpan().SequenceEqual(Save(restored).Encode()) && notifiedSince.SequenceEqual(restored.NotifiedPerSpi);
        }, iter: 400);
    }

    /// <summary>
    /// KVM's selftest case (S13, the IST save/restore test): a source VM holds a high-priority pending enabled SPI, a
    /// low-priority one, a pending but disabled one and an enabled one with nothing pending. Restored, they are delivered
    /// in priority order as the guest lets them through: the high one at once, the low one when the guest opens its
    /// priority mask (ICC_PCR_EL1), the disabled one when it enables it, the last when its device raises it — each
    /// consumed once and notified once, the AP list empty at the end.
    /// </summary>
    [Theory]
    [InlineData(TrackingPolicy.Push)]
    [InlineData(TrackingPolicy.Fold)]
    public void Restored_interrupts_are_delivered_in_priority_order_as_the_guest_lets_them_through(TrackingPolicy tracking)
    {
        const uint high = 10, low = 20, disabled = 30, idle = 40;
        var policies = Policies(tracking);
        var source = Vm(spis: 64, vpes: 2, policies);
        source.Load(0);
        Boot(source, high, priority: 2);
        Boot(source, low, priority: 24);
        Boot(source, disabled, priority: 12, enabled: false);
        Boot(source, idle, priority: 6);
        source.Cpus[0].Pcr = Priority.Of(4);                               // the guest lets only priorities 0..4 through
        source.Put(0, wfi: false);                                         // the VMM stops the vCPU...
        source.Inject(high, true);                                         // ...while its devices raise three lines
        source.Inject(low, true);
        source.Inject(disabled, true);
        Quiesce(source);

        var state = Save(source);
        Assert.Equal(["P", "P", "P", "I"], new[] { high, low, disabled, idle }.Select(s => StateNotation.State(state.SpiEntry(s))));
        Assert.Equal(new uint[] { high, low, disabled }, state.ApList);
        Assert.True(VmState.TryDecode(state.Encode(), out var decoded, out _));

        var status = VmRestore.Prepare(decoded, policies, out var restore);
        Assert.True(status.Ok, status.ToString());
        Assert.False(restore!.Irs!.Vdrcfg(IntId.Spi(high)).Pending);    // cleared, recorded...
        var run = restore.Run();
        Assert.Equal([IntId.Spi(high), IntId.Spi(low), IntId.Spi(disabled)], run.Replayed.ToArray());   // ...and replayed before the first run
        var vm = run.Vm!.ToModel(7);
        vm.Load(0);

        Assert.Equal(IntId.Spi(high), Handle(vm));
        Assert.Null(vm.Cdia(0));                                           // low (24) is masked; disabled is disabled; idle is idle
        vm.Cpus[0].Pcr = Priority.Lowest;                                  // the guest opens its priority mask
        Assert.Equal(IntId.Spi(low), Handle(vm));
        Assert.Null(vm.Cdia(0));
        Assert.Null(vm.Guest(new IrsProtocol.CdEnable(IntId.Spi(disabled), true)));
        Assert.Equal(IntId.Spi(disabled), Handle(vm));
        Assert.Null(vm.Cdia(0));
        Assert.Null(vm.Inject(idle, true));                                // the device raises the last one
        Assert.Equal(IntId.Spi(idle), Handle(vm));
        Assert.Null(vm.Cdia(0));

        vm.Put(0, wfi: false);                                             // an exit: under fold tracking, KVM's fold
        Assert.Equal(new long[] { 1, 1, 1, 1 }, new[] { high, low, disabled, idle }.Select(s => vm.NotifiedPerSpi[s]));
        Assert.Empty(vm.ApList.Entries);
        Assert.Equal(4L, vm.Counters.Acknowledged);
    }

    [Fact]
    public void A_level_line_still_high_at_the_move_is_resampled_on_the_destination()
    {
        var source = Vm(vpes: 1);
        Boot(source, 6, priority: 5, tm: HandlingMode.Level);
        source.Inject(6, true);                                            // a resampling irqfd asserts the line
        var run = VmRestore.RestoreAndRun(Save(source), Policies());
        var vm = run.Vm!.ToModel(0);
        Assert.Equal(new KvmIrq(HandlingMode.Level, LineLevel: true, PendingLatch: false, OnApList: true), vm.ApList[6]);
        vm.Load(0);
        Assert.Equal(IntId.Spi(6), Handle(vm));
        Assert.Equal(1L, vm.NotifiedPerSpi[6]);                            // the resampler hears of the consumption...
        Assert.Null(vm.Inject(6, false));                                  // ...lowers the line (VDPEND(0) of nothing pending)
        Assert.Null(vm.Cdia(0));
        Assert.False(vm.ApList[6].LineLevel);
    }

    private static IntId? Handle(VmModel vm)
    {
        var id = vm.Cdia(0);
        if (id is not { } got) return null;
        Assert.NotNull(vm.Cdeoi(0));
        Assert.Null(vm.Cddi(0, got));
        return got;
    }
}
