using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;

namespace Fabric.Actors.Vm;

/// <summary>
/// The state a VM's units are built around, whatever it comes from: the boot's (<see cref="Fresh"/>), a restore's (a
/// move or a handoff, <see cref="Restored"/>), or the state the units already had (a refused move, a crashed move saga).
/// <see cref="VmActor"/> builds every generation of units from one of these, by one path.
/// </summary>
public sealed record VmUnits(VirtualIrsState Virs, ApListState ApList, VpeState[] Vpes, VcpuState[] Vcpus)
{
    /// <summary>A new VM's units, after the guest's early boot that runs before the IRS slice has its owner:
    /// IRS_CR0.IRSEN = 1, and its LPI IST when it uses LPIs.</summary>
    public static VmUnits Fresh(int vmId, VmSpec spec)
    {
        var p = spec.Policies;
        var irs = new VirtualIrs(new VirtualIrsConfig(spec.Spis, spec.Vcpus, VirtualLevel: p.VirtualLevel, VcpuIds: spec.VcpuIds));
        irs.EnableIrs();
        if (LpiIdBits(spec) is { } bits && irs.ConfigureLpiIst(bits) is { Ok: false } refused)
            throw new InvalidOperationException($"vm-{vmId}: LPI IST refused: {refused.Access.Refusal}");
        return new(new VirtualIrsState(irs),
            new ApListState(new SpiApList(spec.Spis, p.Notify, p.Kvm)),
            [.. Enumerable.Range(0, spec.Vcpus).Select(v => new VpeState(GuestCpuInterface(v, irs, spec)))],
            [.. Enumerable.Range(0, spec.Vcpus).Select(v => new VcpuState(v, spec))]);
    }

    /// <summary>The units of a VM the hardware restored (<see cref="VmRestore"/>), with its vCPUs' guest contexts and
    /// the AP list's fold count; the notifier registrations are the caller's to add (they name its devices).</summary>
    public static VmUnits Restored(RestoredVm vm, long foldId, VcpuState[] vcpus) =>
        new(new VirtualIrsState(vm.Irs), new ApListState(vm.ApList) { FoldId = foldId }, [.. vm.Cpus.Select(c => new VpeState(c))], vcpus);

    /// <summary>The guest's boot-time programming of its IRS interrupts (SPIs and LPIs; PPIs are each vCPU's own), as vCPU 0
    /// issues it: each SPI's trigger mode (IRS_SPI_CFGR) or LPI's handling mode, its priority, its affinity (the vCPU the
    /// spec names, or round-robin over the vCPUs, by IAFFID) and its enable — for the IRS slice to run as one
    /// <see cref="IrsProtocol.ProgramAtBoot"/>.</summary>
    public static List<object> IrsBootProgram(VmSpec spec)
    {
        var ops = new List<object>();
        foreach (var s in spec.Interrupts)
        {
            if (s.Ids.Type == IntIdType.Ppi) continue;
            var n = 0;
            foreach (var id in s.Ids.All())
            {
                var target = s.Affinity ?? n++ % spec.Vcpus;
                ops.Add(id.IsSpi ? new IrsProtocol.ConfigureSpi(id.Id, s.Mode) : new IrsProtocol.CdHandlingMode(id, s.Mode));
                ops.Add(new IrsProtocol.CdPriority(id, s.Priority));
                ops.Add(new IrsProtocol.CdAffinity(id, VcpuIdMap.IaffidOf(spec.VcpuIds, target)));   // the vCPU's IAFFID
                if (s.Enabled) ops.Add(new IrsProtocol.CdEnable(id, true));
            }
        }
        return ops;
    }

    /// <summary>A vCPU's CPU interface as the guest's early boot leaves it: out of reset (PCR 0, EN 0), then programmed by
    /// the guest (ICC_PCR_EL1 = its priority mask, ICC_CR0_EL1.EN = 1) and loaded with the IRS's IRSEN.</summary>
    private static VirtualCpuInterface GuestCpuInterface(int v, VirtualIrs irs, VmSpec spec) =>
        CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(v) { IrsEnabled = irs.Enabled }, Priority.Of(spec.Guest.PriorityMask));

    /// <summary>The LPI ID width the guest's LPI IST needs for the LPIs it programs (none when it programs no LPI).</summary>
    private static int? LpiIdBits(VmSpec spec)
    {
        var max = spec.Interrupts.Where(s => s.Ids.Type == IntIdType.Lpi).Select(s => (long?)s.Ids.Last).Max();
        return max is { } m ? VmLimits.LpiIstIdBitsFor(m) : null;
    }
}

/// <summary>A VM that arrives from another node: the snapshot it was handed, and the hardware's restore of its interrupt
/// state (<see cref="VmRestore.RestoreAndRun"/>, done by its entity, which judged it sound); when its load began (UTC
/// ticks), the blackout's start when the snapshot does not say when it was saved.</summary>
public sealed record VmArrival(VmSnapshot Snapshot, RunOutcome FirstRun, long LoadStartedTicks);
