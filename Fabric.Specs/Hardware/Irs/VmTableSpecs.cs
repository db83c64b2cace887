using System.Buffers.Binary;
using CsCheck;
using Fabric.Hardware.Irs;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

public class VmTableSpecs
{
    private static readonly Gen<ulong> Aligned8 = Gen.ULong[0, (1UL << 56) - 1].Select(a => a & ~7UL);
    private static readonly Gen<ulong> Aligned64 = Gen.ULong[0, (1UL << 56) - 1].Select(a => a & ~63UL);

    internal static readonly Gen<IstDescriptor> AnyDescriptor =
        Gen.Select(Gen.Bool, Aligned64, IstConfigSpecs.AnyValidConfig).Select((v, a, c) => IstDescriptor.Create(v, a, c));

    internal static readonly Gen<VmtEntry> AnyVmte =
        Gen.Select(Gen.Bool, Aligned8, Aligned8, Gen.Int[1, 16], AnyDescriptor, AnyDescriptor)
            .Select(t => VmtEntry.Create(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6));

    private static VmtEntry Vmte(int vpeIdBits = 2, bool valid = false) =>
        VmtEntry.Create(valid, 0x1000, 0x2000, vpeIdBits, IstDescriptor.None, IstDescriptor.Create(true, 0x4_0000, IstConfig.LinearOf(6)));

    [Fact]
    public void A_vmte_is_four_little_endian_words_laid_out_as_linux_defines_them()
    {
        var lpi = IstDescriptor.Create(true, 0x8_0000, IstConfig.LinearOf(16));
        var spi = IstDescriptor.Create(true, 0x4_0040, new IstConfig(10, IstL2Size.Size16K, IsteSize.Bytes8, IstStructure.TwoLevel));
        var bytes = VmtEntry.Create(true, 0x1000, 0x2008, 3, lpi, spi).ToBytes();
        Assert.Equal(32, bytes.Length);
        Assert.Equal(0x1001UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(0, 8)));                       // VALID[0] VMD_ADDR[55:3]
        Assert.Equal(0x2008UL | 3UL << 59, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8, 8)));           // VPET_ADDR[55:3] VPE_ID_BITS[63:59]
        Assert.Equal(0x8_0001UL | 16UL << 59, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16, 8)));       // LPI IST
        Assert.Equal(0x4_0041UL | 1UL << 1 | 1UL << 56 | 1UL << 58 | 10UL << 59,                                   // SPI IST: L2SZ[2:1] ISTSZ[57:56] STRUCTURE[58] ID_BITS[63:59]
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24, 8)));
    }

    [Fact]
    public void Vmte_encoding_round_trips_through_bytes() =>
        AnyVmte.Sample(e =>
        {
            var back = VmtEntry.Decode(e.ToBytes());
            Assert.Equal(e, back);
            Assert.Equal((e.Valid, e.VmdAddress, e.VpetAddress, e.VpeIdBits), (back.Valid, back.VmdAddress, back.VpetAddress, back.VpeIdBits));
        });

    [Fact]
    public void Vmte_fields_read_back_as_created() =>
        Gen.Select(Gen.Bool, Aligned8, Aligned8, Gen.Int[1, 16], AnyDescriptor, AnyDescriptor).Sample(t =>
        {
            var e = VmtEntry.Create(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6);
            Assert.Equal((t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6), (e.Valid, e.VmdAddress, e.VpetAddress, e.VpeIdBits, e.LpiIst, e.SpiIst));
        });

    [Fact]
    public void Ist_descriptor_round_trips_its_config_and_address() =>
        Gen.Select(Gen.Bool, Aligned64, IstConfigSpecs.AnyValidConfig).Sample((valid, address, config) =>
        {
            var d = IstDescriptor.Create(valid, address, config);
            Assert.Equal((valid, address, config), (d.Valid, d.Address, d.Config));
            Assert.True(IstDescriptor.TryDecode(d.Raw, out var back, out _));
            Assert.Equal(d, back);
        });

    [Theory]
    [InlineData(33, 0x00UL, 0UL, "32 bytes, not 33")]
    [InlineData(31, 0x00UL, 0UL, "32 bytes, not 31")]
    [InlineData(32, 0x06UL, 0UL, "dword0")]
    [InlineData(32, 0x0100_0000_0000_0000UL, 0UL, "dword0")]
    [InlineData(32, 0UL, 0x01UL, "dword1")]
    [InlineData(32, 0UL, 17UL << 59, "VPE_ID_BITS 17")]
    public void Vmte_decoding_refuses_bad_length_res0_bits_and_oversized_vpe_id_bits(int length, ulong d0, ulong d1, string reason)
    {
        var bytes = new byte[Math.Max(length, 32)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(0, 8), d0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8, 8), d1);
        var input = bytes.AsSpan(0, length).ToArray();
        Assert.False(VmtEntry.TryDecode(input, out _, out var error));
        Assert.Contains(reason, error);
        Assert.Throws<ArgumentException>(() => VmtEntry.Decode(input));
    }

    [Theory]
    [InlineData(0x08UL, "RES0")]                             // bit 3
    [InlineData(3UL << 1, "L2SZ 3 is reserved")]
    [InlineData(3UL << 56, "ISTSZ 3 is reserved")]
    [InlineData(25UL << 59, "LPI_ID_BITS 25")]
    public void Ist_descriptors_with_res0_bits_or_reserved_values_are_refused(ulong raw, string reason)
    {
        Assert.False(IstDescriptor.TryDecode(raw, out _, out var error));
        Assert.Contains(reason, error);
        var bytes = Vmte().ToBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24, 8), raw);
        Assert.False(VmtEntry.TryDecode(bytes, out _, out var vmteError));
        Assert.Contains("SPI IST (dword3)", vmteError);
    }

    [Theory]
    [InlineData(0x1004UL, 0x2000UL, 2)]
    [InlineData(0x1000UL, 0x2001UL, 2)]
    [InlineData(0x0100_0000_0000_0000UL, 0x2000UL, 2)]
    [InlineData(0x1000UL, 0x2000UL, 0)]
    [InlineData(0x1000UL, 0x2000UL, 17)]
    public void A_vmte_refuses_addresses_it_cannot_encode_and_vpe_id_bits_outside_1_to_16(ulong vmd, ulong vpet, int bits) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => VmtEntry.Create(true, vmd, vpet, bits, IstDescriptor.None, IstDescriptor.None));

    [Theory]
    [InlineData(0x20UL)]
    [InlineData(0x0100_0000_0000_0000UL)]
    public void An_ist_descriptor_refuses_an_address_that_is_not_64_byte_aligned_within_55_6(ulong address) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => IstDescriptor.Create(true, address, IstConfig.LinearOf(5)));

    [Fact]
    public void A_vpete_is_valid_0_and_vped_addr_55_3_little_endian()
    {
        var e = VpetEntry.Create(true, 0xABC8);
        var bytes = new byte[8];
        e.Encode(bytes);
        Assert.Equal(0xABC9UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal((true, 0xABC8UL), (e.Valid, e.VpedAddress));
        Assert.False(e.WithValid(false).Valid);
    }

    [Fact]
    public void Vpete_encoding_round_trips_through_bytes() =>
        Gen.Select(Gen.Bool, Aligned8).Sample((valid, address) =>
        {
            var e = VpetEntry.Create(valid, address);
            var bytes = new byte[VpetEntry.SizeBytes];
            e.Encode(bytes);
            Assert.Equal(e, VpetEntry.Decode(bytes));
            Assert.Equal((valid, address), (e.Valid, e.VpedAddress));
        });

    [Theory]
    [InlineData(8, 0x02UL, "RES0")]
    [InlineData(8, 0x0100_0000_0000_0000UL, "RES0")]
    [InlineData(7, 0UL, "8 bytes, not 7")]
    public void Vpete_decoding_refuses_res0_bits_and_bad_length(int length, ulong raw, string reason)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, raw);
        Assert.False(VpetEntry.TryDecode(bytes.AsSpan(0, length), out _, out var error));
        Assert.Contains(reason, error);
        Assert.Throws<ArgumentOutOfRangeException>(() => VpetEntry.Create(true, 0x4));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(64, 6)]
    [InlineData(65, 7)]
    [InlineData(65536, 16)]
    public void Vpe_id_bits_round_the_vcpu_count_up_to_a_power_of_two_and_are_at_least_one(int vcpus, int bits) =>
        Assert.Equal(bits, VmTable.VpeIdBitsFor(vcpus));

    [Theory]
    [InlineData(0)]
    [InlineData(65537)]
    public void Vpe_id_bits_refuse_an_impossible_vcpu_count(int vcpus) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => VmTable.VpeIdBitsFor(vcpus));

    [Theory]
    [InlineData(0, 16)]
    [InlineData(17, 16)]
    [InlineData(8, 0)]
    [InlineData(8, 17)]
    public void A_vm_table_refuses_impossible_id_widths(int vmIdBits, int vpeIdBits) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new VmTable(vmIdBits, vpeIdBits));

    [Theory]
    [InlineData(-1)]
    [InlineData(256)]
    [InlineData(int.MaxValue)]
    public void A_vm_id_beyond_vm_id_bits_is_refused_with_the_reason(int vmId)
    {
        var table = new VmTable(8);
        Assert.False(table.TryAdd(vmId, Vmte(), out var error));
        Assert.Contains("out of range 0..255", error);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void A_vm_id_already_in_use_is_refused_and_the_first_vmte_kept()
    {
        var table = new VmTable(8);
        Assert.True(table.TryAdd(7, Vmte(2), out _));
        Assert.False(table.TryAdd(7, Vmte(3), out var error));
        Assert.Contains("already in use", error);
        Assert.True(table.TryGet(7, out var kept));
        Assert.Equal(2, kept.VpeIdBits);
    }

    [Fact]
    public void A_vmte_wider_than_the_irs_vpe_id_bits_is_refused()
    {
        var table = new VmTable(8, maxVpeIdBits: 4);
        Assert.False(table.TryAdd(1, Vmte(5), out var error));
        Assert.Contains("IRS_IDR4.VPE_ID_BITS", error);
        Assert.False(table.TryAdd(2, default, out error));
        Assert.Contains("VPE_ID_BITS 0", error);
    }

    [Fact]
    public void Each_vm_has_a_vpe_table_of_two_to_the_vpe_id_bits_entries()
    {
        var table = new VmTable(8);
        table.TryAdd(3, Vmte(2), out _);
        var vpe = VpetEntry.Create(true, 0x9000);
        Assert.True(table.TrySetVpe(3, 3, vpe, out _));
        Assert.True(table.TryGetVpe(3, 3, out var back, out _));
        Assert.Equal(vpe, back);
        Assert.True(table.TryGetVpe(3, 0, out var empty, out _));
        Assert.False(empty.Valid);
        Assert.False(table.TrySetVpe(3, 4, vpe, out var error));
        Assert.Contains("VPE_ID 4 is out of range 0..3", error);
        Assert.False(table.TrySetVpe(3, -1, vpe, out _));
        Assert.False(table.TryGetVpe(4, 0, out _, out error));
        Assert.Contains("no VMTE", error);
    }

    [Fact]
    public void Vmap_vmr_sets_valid_and_a_valid_vmte_cannot_be_released()
    {
        var table = new VmTable(8);
        table.TryAdd(9, Vmte(), out _);
        Assert.True(table.TrySetValid(9, true, out _));
        Assert.True(table.TryGet(9, out var e) && e.Valid);
        Assert.False(table.TryRemove(9, out var error));
        Assert.Contains("still valid", error);
        Assert.True(table.TrySetValid(9, false, out _));
        Assert.True(table.TryRemove(9, out _));
        Assert.False(table.TryGet(9, out _));
        Assert.False(table.TryRemove(9, out error));
        Assert.Contains("no VMTE", error);
        Assert.False(table.TrySetValid(300, true, out error));
        Assert.Contains("out of range", error);
    }

    [Fact]
    public void Ist_descriptors_of_a_vm_can_be_replaced()
    {
        var table = new VmTable(4);
        table.TryAdd(1, Vmte(), out _);
        var lpi = IstDescriptor.Create(true, 0x10_0000, IstConfig.LinearOf(14));
        Assert.True(table.TrySetIst(1, spi: false, lpi, out _));
        Assert.True(table.TryGet(1, out var e));
        Assert.Equal(lpi, e.LpiIst);
        Assert.True(e.SpiIst.Valid);
        Assert.False(table.TrySetIst(2, spi: true, lpi, out _));
        Assert.Equal(new[] { 1 }, table.VmIds);
    }
}
