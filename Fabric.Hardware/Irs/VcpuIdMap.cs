namespace Fabric.Hardware.Irs;

/// <summary>
/// A VM's vCPU ids as its IRS sees them. In KVM, IAFFID == VPE_ID == vcpu_id (S4 kvm_get_vcpu_by_id on IRS_PE_SELR; S6
/// vgic_v5_vmte_init "the VPET is indexed by the potentially sparse vcpu_id"), and userspace picks each vCPU's id at
/// KVM_CREATE_VCPU, so the ids need not be dense. Fabric numbers a VM's vCPUs 0..n-1 in creation order (KVM's vcpu_idx:
/// the actors, the event log's <c>vpe</c>, the steps' <c>vcpu</c>) and maps each to its id here; by default id = index.
/// A guest's CDAFF names an IAFFID; one that is no vCPU's id routes the interrupt to no VPE.
/// </summary>
public sealed class VcpuIdMap
{
    /// <summary>IAFFID is 16 bits (the ISTE's IAFFID, IRS_PE_SELR.IAFFID) and VPE_ID_BITS at most 16, so a vcpu_id is
    /// 0..65535. (KVM also caps ids at KVM_MAX_VCPU_IDS, which Fabric does not model [UNVERIFIED value].)</summary>
    public const int MaxId = ushort.MaxValue;

    private readonly int[]? _ids;
    private readonly Dictionary<int, int>? _index;

    private VcpuIdMap(int count, int[]? ids)
    {
        Count = count;
        _ids = ids;
        MaxVcpuId = ids is null ? count - 1 : ids.Max();
        if (ids is not null)
        {
            _index = new Dictionary<int, int>(ids.Length);
            for (var v = 0; v < ids.Length; v++) _index.Add(ids[v], v);
        }
    }

    /// <summary>The map of <paramref name="count"/> vCPUs with <paramref name="ids"/> (null: dense, id = index); throws for
    /// ids <see cref="Problem"/> refuses.</summary>
    public static VcpuIdMap Of(int count, IReadOnlyList<int>? ids)
    {
        if (Problem(count, ids) is { } why) throw new ArgumentException(why, nameof(ids));
        return new VcpuIdMap(count, ids is null || IsDense(ids) ? null : [.. ids]);
    }

    /// <summary>Why <paramref name="ids"/> cannot be the ids of <paramref name="count"/> vCPUs, or null: one id per vCPU,
    /// each 0..<see cref="MaxId"/>, no id twice (KVM_CREATE_VCPU refuses an id already in use).</summary>
    public static string? Problem(int count, IReadOnlyList<int>? ids)
    {
        if (ids is null) return null;
        if (ids.Count != count) return $"{ids.Count} vCPU ids for {count} vCPUs: expected one id per vCPU";
        var seen = new HashSet<int>();
        for (var v = 0; v < ids.Count; v++)
        {
            if (ids[v] is < 0 or > MaxId) return $"vCPU {v}'s id {ids[v]} is out of range 0..{MaxId} (IAFFID is 16 bits)";
            if (!seen.Add(ids[v])) return $"vCPU {v}'s id {ids[v]} is already vCPU {IndexOf(ids, ids[v])}'s: each vCPU needs its own id";
        }
        return null;
    }

    private static int IndexOf(IReadOnlyList<int> ids, int id)
    {
        for (var v = 0; v < ids.Count; v++) if (ids[v] == id) return v;
        return -1;
    }

    private static bool IsDense(IReadOnlyList<int> ids)
    {
        for (var v = 0; v < ids.Count; v++) if (ids[v] != v) return false;
        return true;
    }

    /// <summary>How many vCPUs (IRS_IDR1.PE_CNT: KVM's online_vcpus).</summary>
    public int Count { get; }
    /// <summary>The largest vcpu_id.</summary>
    public int MaxVcpuId { get; }
    /// <summary>Whether every vCPU's id is its index (the default).</summary>
    public bool Dense => _ids is null;

    /// <summary>VPE_ID_BITS of the VM's VMTE, sized from the largest vcpu_id as KVM sizes it: max(2,
    /// roundup_pow_of_two(max_vpe_id + 1)) entries (S6 vgic_v5_vmte_init); IRS_IDR1.IAFFID_BITS is this minus one.</summary>
    public int VpeIdBits => VmTable.VpeIdBitsFor(MaxVcpuId + 1);

    /// <summary>The id (IAFFID, VPE_ID) of vCPU <paramref name="vpe"/>.</summary>
    public int IaffidOf(int vpe) =>
        vpe >= 0 && vpe < Count ? _ids?[vpe] ?? vpe : throw new ArgumentOutOfRangeException(nameof(vpe), $"vCPU {vpe} is not one of this VM's 0..{Count - 1}");

    /// <summary>The vCPU whose id is <paramref name="iaffid"/>, or null when no vCPU has it (kvm_get_vcpu_by_id NULL).</summary>
    public int? VpeOf(int iaffid)
    {
        if (_index is null) return iaffid >= 0 && iaffid < Count ? iaffid : null;
        return _index.TryGetValue(iaffid, out var v) ? v : null;
    }

    /// <summary>The id of vCPU <paramref name="vpe"/> under <paramref name="ids"/> (null: dense): what a guest writes as
    /// CDAFF's IAFFID to route to that vCPU.</summary>
    public static int IaffidOf(IReadOnlyList<int>? ids, int vpe) => ids is null ? vpe : ids[vpe];
}
