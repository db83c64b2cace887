using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Migration;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

/// <summary>SEMANTICS.md §0.1 "Sparse vCPU IDs": KVM's IAFFID is the vcpu_id, which userspace picks, and VPE_ID_BITS is
/// sized from the largest one; Fabric numbers vCPUs 0..n-1 and maps each to its id (<see cref="VcpuIdMap"/>).</summary>
public class SparseVcpuIdSpecs
{
    private static readonly int[] Sparse = [0, 4, 9];

    private static VirtualIrs Irs(IReadOnlyList<int>? ids = null)
    {
        var irs = new VirtualIrs(new VirtualIrsConfig(32, 3, VcpuIds: ids ?? Sparse));
        irs.EnableIrs();
        return irs;
    }

    /// <summary>The sparse VM's IRS with <paramref name="spi"/> enabled, routed to <paramref name="iaffid"/> and pending.</summary>
    private static (VirtualIrs Irs, IntId Spi) PendingFor(IntId spi, int iaffid)
    {
        var irs = Irs();
        irs.CdEnable(spi, true);
        irs.CdAffinity(spi, iaffid);
        irs.Vdpend(spi, true);
        return (irs, spi);
    }

    private static ulong Read(IrsFrame f, ulong offset) => f.Read(offset, 4) is { Ok: true } r ? r.Value : throw new InvalidOperationException(offset.ToString("X"));

    [Theory]
    [InlineData(new[] { 0 }, 1)]               // max(2, roundup(1)) = 2 entries: one bit, even for one vCPU
    [InlineData(new[] { 0, 1 }, 1)]
    [InlineData(new[] { 0, 2 }, 2)]            // id 2 needs 4 entries
    [InlineData(new[] { 5 }, 3)]               // one vCPU, id 5: 8 entries
    [InlineData(new[] { 0, 4, 9 }, 4)]         // 16 entries
    [InlineData(new[] { 65535 }, 16)]
    public void VPE_ID_BITS_is_sized_from_the_largest_vcpu_id_as_KVM_rounds_it(int[] ids, int bits) =>
        Assert.Equal(bits, VcpuIdMap.Of(ids.Length, ids).VpeIdBits);

    [Fact]
    public void IRS_IDR1_counts_the_vCPUs_and_takes_IAFFID_BITS_from_the_largest_id()
    {
        var idr1 = Read(Irs().Frame, IrsRegisters.Idr1.Offset);
        Assert.Equal(3UL, IrsRegisters.Idr1PeCnt.Extract(idr1));            // PE_CNT: online_vcpus, not the largest id
        Assert.Equal(3UL, IrsRegisters.Idr1IaffidBits.Extract(idr1));       // VPE_ID_BITS 4, encoded N - 1
        var dense = Read(Irs([0, 1, 2]).Frame, IrsRegisters.Idr1.Offset);
        Assert.Equal(1UL, IrsRegisters.Idr1IaffidBits.Extract(dense));      // 3 dense vCPUs: 4 entries, 2 bits
    }

    [Theory]
    [InlineData(4, 0b111UL)]     // vCPU 1's id: IDLE | V | ONLINE
    [InlineData(9, 0b111UL)]
    [InlineData(1, 0b001UL)]     // an index, not an id: no such PE
    [InlineData(2, 0b001UL)]
    public void IRS_PE_SELR_selects_a_PE_by_vcpu_id(uint iaffid, ulong statusr)
    {
        var f = Irs().Frame;
        Assert.True(f.Write(IrsRegisters.PeSelr.Offset, iaffid, 4).Ok);
        Assert.Equal(statusr, Read(f, IrsRegisters.PeStatusr.Offset));
        Assert.Equal(statusr == 0b111 ? 1UL : 0UL, Read(f, IrsRegisters.PeCr0.Offset));   // DPS only for a present PE
    }

    [Fact]
    public void CDAFF_to_a_vcpu_id_routes_to_that_vCPU_and_to_an_index_that_is_no_id_routes_nowhere()
    {
        var irs = Irs();
        var spi = IntId.Spi(5);
        irs.CdPriority(spi, 4);
        irs.CdEnable(spi, true);
        var toId4 = irs.CdAffinity(spi, 4);
        Assert.True(toId4.Ok);
        var pended = irs.Vdpend(spi, true);
        Assert.Equal(new OfferChange(1, new(spi, Priority.Of(4))), pended.First);   // IAFFID 4 is vCPU 1
        Assert.Equal(1, irs.VpeOf(irs.Entry(spi)));

        var toId1 = irs.CdAffinity(spi, 1);                                          // no vCPU has id 1
        Assert.True(toId1.Ok);
        Assert.Equal(new OfferChange(1, null), toId1.First);                         // withdrawn from vCPU 1 ...
        Assert.Null(toId1.Second);                                                   // ... and offered to no one
        Assert.Null(irs.VpeOf(irs.Entry(spi)));
        Assert.Null(irs.HppiFor(1));

        var toId9 = irs.CdAffinity(spi, 9);
        Assert.Equal(new OfferChange(2, new(spi, Priority.Of(4))), toId9.Second);   // IAFFID 9 is vCPU 2
    }

    [Fact]
    public void A_CDIA_activates_through_the_vCPU_index_whatever_its_id()
    {
        var (irs, spi) = PendingFor(IntId.Spi(7), iaffid: 9);
        var o = irs.Activate(spi, vpe: 2);
        Assert.True(o.Has(IstEffect.Activated));
        Assert.True(irs.Entry(spi).Active);
    }

    [Theory]
    [InlineData(new[] { 0, 4 }, "2 vCPU ids for 3 vCPUs")]
    [InlineData(new[] { 0, 4, 4 }, "id 4 is already vCPU 1's")]
    [InlineData(new[] { 0, -1, 4 }, "out of range 0..65535")]
    [InlineData(new[] { 0, 65536, 4 }, "out of range 0..65535")]
    public void Ids_are_one_per_vCPU_distinct_and_fit_the_16_bit_IAFFID(int[] ids, string reason)
    {
        Assert.Contains(reason, VcpuIdMap.Problem(3, ids));
        Assert.Contains(reason, new VirtualIrsConfig(32, 3, VcpuIds: ids).Validate());
        Assert.Contains(reason, Assert.Throws<ArgumentOutOfRangeException>(() => new VirtualIrs(new VirtualIrsConfig(32, 3, VcpuIds: ids))).Message);
    }

    [Fact]
    public void Dense_ids_are_the_default_and_the_same_map()
    {
        var dense = VcpuIdMap.Of(3, [0, 1, 2]);
        Assert.True(dense.Dense);
        Assert.True(VcpuIdMap.Of(3, null).Dense);
        Assert.Equal((2, (int?)2, (int?)null), (dense.IaffidOf(2), dense.VpeOf(2), dense.VpeOf(3)));
        var sparse = VcpuIdMap.Of(3, Sparse);
        Assert.Equal((9, (int?)2, (int?)null), (sparse.IaffidOf(2), sparse.VpeOf(9), sparse.VpeOf(2)));
    }

    [Fact]
    public void A_VM_with_sparse_ids_moves_into_vCPUs_created_with_the_same_ids_and_not_into_dense_ones()
    {
        var (irs, spi) = PendingFor(IntId.Spi(3), iaffid: 9);
        var cpus = Enumerable.Range(0, 3).Select(v => new Fabric.Hardware.CpuInterface.VirtualCpuInterface(v)).ToArray();
        var apList = new Fabric.Hardware.Kvm.SpiApList(32, FabricPolicies.Default.Notify, FabricPolicies.Default.Kvm);
        var saved = VmSave.Save(irs, cpus, apList);
        Assert.True(saved.Ok, saved.Status.Message);

        var moved = VmRestore.RestoreAndRun(saved.State!, FabricPolicies.Default, Sparse);
        Assert.True(moved.Status.Ok, moved.Status.Message);
        Assert.Equal(2, moved.Vm!.Irs.VpeOf(moved.Vm.Irs.Entry(spi)));

        var dense = VmRestore.RestoreAndRun(saved.State!, FabricPolicies.Default);
        Assert.False(dense.Status.Ok);
        Assert.Contains("IAFFID_BITS 3 is not this VM's VPE_ID_BITS - 1 = 1", dense.Status.Message);
    }
}
