using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Migration;

/// <summary>A move: the saved bytes and the destination's first run — or the refusal that stopped it (nothing changed).</summary>
public sealed record MoveOutcome(KvmStatus Status, byte[]? Bytes, RunOutcome? Run)
{
    public bool Ok => Status.Ok;
    public RestoredVm Vm => Run?.Vm ?? throw new InvalidOperationException($"the move failed: {Status}");
}

/// <summary>
/// One live migration of a quiesced VM (SEMANTICS.md §4): save it on the source (<see cref="VmSave"/>), carry it as the
/// documented byte format (docs/vm-state-format.md), and restore it on the destination in KVM's order, up to the first
/// run that replays the pending interrupts (<see cref="VmRestore.RestoreAndRun"/>). The source units are only read: after
/// a refusal they are intact, and the VM can run on where it was.
/// </summary>
public static class VmMove
{
    public static MoveOutcome Move(VirtualIrs irs, IReadOnlyList<VirtualCpuInterface> cpus, SpiApList apList, FabricPolicies policies,
        IReadOnlyCollection<int>? vpesWithCdiaInFlight = null)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var saved = VmSave.Save(irs, cpus, apList, vpesWithCdiaInFlight: vpesWithCdiaInFlight);
        if (!saved.Ok) return new MoveOutcome(saved.Status, null, null);
        var bytes = VmStateFormat.Encode(saved.State!);
        if (!VmStateFormat.TryDecode(bytes, out var carried, out var error))
            return new MoveOutcome(KvmStatus.Fail(Errno.EINVAL, $"the saved state does not decode: {error}"), bytes, null);
        var run = VmRestore.RestoreAndRun(carried, policies, irs.Config.VcpuIds);   // the VMM creates the vCPUs with the source's ids
        return new MoveOutcome(run.Status, bytes, run);
    }
}
