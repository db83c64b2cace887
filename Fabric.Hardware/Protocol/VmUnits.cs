using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;

namespace Fabric.Hardware.Protocol;

/// <summary>
/// The state a VM's units are built around, whatever it comes from: the boot's (<see cref="Fresh"/>), a restore's (a
/// move or a handoff, <see cref="Restored"/>), or the state the units already had (a refused move, a crashed move saga).
/// Every interpreter builds a VM's units from one of these (the actors' VmActor every generation, by one path).
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

/// <summary>
/// What every interpreter does to bring a VM's units up, so that each does it the same way: the guest's boot as vCPU 0
/// runs it (program every interrupt — trigger mode, priority, affinity, enable — then bring every vCPU up), and the
/// seeds of its drivers.
/// </summary>
public static class VmBoot
{
    /// <summary>The boot's messages, in order: each VPE programs its own PPIs (PPIs are per PE), the IRS slice takes the
    /// SPIs' and LPIs' programming as one <see cref="IrsProtocol.ProgramAtBoot"/>, and every vCPU boots.</summary>
    public static IEnumerable<(UnitAddress To, object Message)> Program(VmSpec spec)
    {
        foreach (var s in spec.Interrupts)
        {
            if (s.Ids.Type != IntIdType.Ppi) continue;
            foreach (var id in s.Ids.All())
                for (var vpe = 0; vpe < spec.Vcpus; vpe++)
                {
                    yield return (UnitAddress.Vpe(vpe), new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Priority, s.Priority));
                    yield return (UnitAddress.Vpe(vpe), new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Enable, s.Enabled ? 1 : 0));
                }
        }
        var virs = VmUnits.IrsBootProgram(spec);
        if (virs.Count > 0) yield return (UnitAddress.Irs, new IrsProtocol.ProgramAtBoot(virs));
        for (var v = 0; v < spec.Vcpus; v++) yield return (UnitAddress.Vcpu(v), VcpuProtocol.Boot.Instance);
    }

    /// <summary>The host scheduler's seed (which vCPU it preempts) for VM <paramref name="vmId"/>.</summary>
    public static long SchedulerSeed(VmSpec spec, int vmId) => unchecked((spec.Seed ^ vmId) * 31 + vmId);

    /// <summary>The seed of device <paramref name="device"/> of VM <paramref name="vmId"/> (its interrupts' phases).</summary>
    public static long DeviceSeed(VmSpec spec, int vmId, int device) => unchecked(spec.Seed * 7919 + vmId * 131 + device);
}
