using System.Collections.Immutable;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Reference;

namespace Fabric.Hardware.Migration;

/// <summary>The outcome of a save: the state, or -EBUSY and why the VM is not quiesced.</summary>
public sealed record SaveResult(VmState? State, KvmStatus Status)
{
    public bool Ok => Status.Ok;
}

/// <summary>
/// Saving a VM (SEMANTICS.md §4 "Save"; S5 "IRS Save Sequence", S6 vgic_v5_save_*_ist): GET of GRP_IST and GRP_IRS_REGS
/// (either order: neither has a side effect), GRP_CPU_SYSREGS of every vCPU, and KVM's bookkeeping. Reads only: two
/// saves of an unchanged VM are identical, and nothing in the VM changes.
/// <para>KVM first asks the IRS to save and quiesce the VM and fails with -EBUSY if it did not stay quiesced. Fabric's
/// IRS slice is synchronous, so what can be in flight is what its owners hold: a resident VPE, an acknowledge between
/// the CPU interface's choice and the IRS's activation, or a trigger-mode write that reached the IRS and not yet KVM.
/// The caller (the actor layer) reports the CDIAs it has in flight; the units show the rest.</para>
/// </summary>
public static class VmSave
{
    /// <summary>The guest-physical IRS base a save records when the caller names none: 64 KiB aligned, Fabric's choice.</summary>
    public const ulong DefaultIrsBase = 0x0800_0000;

    /// <summary>Saves a sequential VM (which never has a CDIA in flight).</summary>
    public static SaveResult Save(VmModel vm, ulong irsBase = DefaultIrsBase)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return Save(vm.Irs, vm.Cpus, vm.ApList, irsBase);
    }

    /// <summary>Saves the VM made of these units; -EBUSY, with nothing read, unless it is quiesced.</summary>
    public static SaveResult Save(VirtualIrs irs, IReadOnlyList<VirtualCpuInterface> cpus, SpiApList apList,
        ulong irsBase = DefaultIrsBase, IReadOnlyCollection<int>? vpesWithCdiaInFlight = null)
    {
        ArgumentNullException.ThrowIfNull(irs);
        ArgumentNullException.ThrowIfNull(cpus);
        ArgumentNullException.ThrowIfNull(apList);
        if (cpus.Count != irs.Config.VpeCount || apList.SpiCount != irs.Config.SpiCount)
            throw new ArgumentException($"the units do not form one VM: {irs.Config.VpeCount} VPEs and {irs.Config.SpiCount} SPIs in the IRS, " +
                                        $"{cpus.Count} CPU interfaces, an AP list of {apList.SpiCount} SPIs");
        var busy = NotQuiesced(irs, cpus, apList, vpesWithCdiaInFlight);
        if (busy is not null) return new SaveResult(null, KvmStatus.Fail(Errno.EBUSY, $"KVM_DEV_ARM_VGIC_GRP_IST: the VM is not quiesced: {busy}"));

        var state = new VmState(
            new VmShape(irs.Config.SpiCount, irs.Config.VpeCount, irs.Config.PriorityBits, irs.Config.VirtualLevel, irsBase),
            IrsRegisterValues(irs.Frame),
            [.. irs.Spis.SaveEntries()],
            irs.Lpis is { } lpis ? [.. lpis.SaveEntries()] : [],
            [.. cpus.Select(c => new VpeState(c.VpeId, CpuInterfaceSysregs.ReadAll(c), new VpeBookkeeping(c.DbFired, c.Doorbell)))],
            [.. Enumerable.Range(0, apList.SpiCount).Select(s => apList[(uint)s])],
            [.. apList.Entries]);
        return new SaveResult(state, KvmStatus.Success);
    }

    /// <summary>Why the VM is not quiesced, or null: a resident VPE (its vCPU still runs the guest), a CDIA in flight, or
    /// an SPI whose trigger mode the IRS frame and KVM's irq->config disagree on (a TM write not yet seen by KVM).</summary>
    public static string? NotQuiesced(VirtualIrs irs, IReadOnlyList<VirtualCpuInterface> cpus, SpiApList apList,
        IReadOnlyCollection<int>? vpesWithCdiaInFlight = null)
    {
        var resident = cpus.Where(c => c.Resident).Select(c => c.VpeId).ToList();
        if (resident.Count > 0) return $"VPE {string.Join(", ", resident)} resident (ICH_CONTEXTR_EL2.V=1): stop every vCPU first";
        if (vpesWithCdiaInFlight is { Count: > 0 })
            return $"a CDIA of VPE {string.Join(", ", vpesWithCdiaInFlight.Order())} is between the CPU interface and the IRS";
        for (var spi = 0u; spi < (uint)apList.SpiCount; spi++)
            if (irs.TriggerMode(spi) != apList[spi].Config)
                return $"spi:{spi}'s IRS_SPI_CFGR.TM is {irs.TriggerMode(spi)} but KVM's irq->config is {apList[spi].Config}";
        return null;
    }

    /// <summary>GRP_IRS_REGS GET of every register that holds or shows state — all but the write-only command registers —
    /// in offset order, each as a guest read returns it (the frame's <see cref="IrsFrame.Read"/>).</summary>
    public static ImmutableArray<IrsRegisterValue> IrsRegisterValues(IrsFrame frame) =>
    [
        .. IrsRegisters.All
            .Where(r => r.Access != RegisterAccess.WriteOnly)
            .OrderBy(r => r.Offset)
            .Select(r => new IrsRegisterValue((uint)r.Offset, r.Width, frame.Read(r.Offset, r.SizeBytes).Value)),
    ];
}
