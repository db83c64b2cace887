using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using CsCheck;
using Fabric.Hardware.Migration;
using Xunit;
using static Fabric.Specs.Hardware.Migration.MigrationKit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>The byte format of a saved VM (docs/vm-state-format.md): versioned, little-endian, CRC-32 protected,
/// canonical; a decoder that refuses anything else by name and never throws.</summary>
public class VmStateFormatSpecs
{
    [Fact]
    public void Crc32_is_the_IEEE_zlib_CRC_with_its_check_value()
    {
        Assert.Equal(0xCBF4_3926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute([]));
        Assert.Equal(0xE8B7_BE43u, Crc32.Compute("a"u8));
    }

    [Fact]
    public void Encoding_then_decoding_gives_back_the_same_state_and_the_same_bytes()
    {
        var (_, state) = Busy();
        var bytes = state.Encode();
        Assert.True(VmState.TryDecode(bytes, out var decoded, out var error), error);
        Assert.Equal(state, decoded);
        Assert.Equal(bytes, decoded.Encode());
    }

    [Fact]
    public void Random_VMs_round_trip_through_their_bytes()
    {
        Gen.Select(AnyShape, AnyPolicies, AnyOp.Array[0, 60], Gen.Int[0, 7]).Sample((shape, policies, ops, wfi) =>
        {
            var state = Save(MigrationKit.Run(shape, policies, ops, wfi));
            var bytes = state.Encode();
            return VmState.TryDecode(bytes, out var decoded, out _) && decoded.Equals(state) && decoded.Encode().AsSpan().SequenceEqual(bytes);
        });
    }

    [Fact]
    public void The_layout_is_the_documented_one_so_another_tool_can_read_it()
    {
        var (vm, state) = Busy();
        var bytes = state.Encode();
        Assert.Equal("FVMS", Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)));
        Assert.Equal(Crc32.Compute(bytes.AsSpan(0, bytes.Length - 4)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)));

        var tags = new List<string>();
        for (var at = 16; at < bytes.Length - 4; at += 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4)))
            tags.Add(Encoding.ASCII.GetString(bytes, at, 4));
        Assert.Equal(["CONF", "IRSR", "SIST", "LIST", "VCPU", "KSPI", "APLS"], tags);

        var conf = PayloadOffset(bytes, "CONF");
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(conf)));       // SPI count
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(conf + 4)));   // vCPU count
        Assert.Equal(5, bytes[conf + 8]);                                                     // priority bits
        Assert.Equal(VmSave.DefaultIrsBase, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(conf + 12)));

        var sist = PayloadOffset(bytes, "SIST");                                              // spi:3 is Active and Pending
        Assert.Equal(vm.Irs.Spis[3].Raw, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(sist + 3 * 4)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(sist + 3 * 4)) & 3u);
        Assert.Equal(4 << LpiIdBits, (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(PayloadOffset(bytes, "LIST") - 4)));

        var kspi = PayloadOffset(bytes, "KSPI");                                              // spi:5: level, line high, on the list
        Assert.Equal(VmStateFormat.SpiConfigLevel | VmStateFormat.SpiLineLevel | VmStateFormat.SpiOnApList, bytes[kspi + 5]);
        var apls = PayloadOffset(bytes, "APLS");
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(apls)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(apls + 4)));  // list order: 3, 5, 7

        var vcpu1 = PayloadOffset(bytes, "VCPU") + VmStateFormat.VpeBytes;                   // VPE 1 went to WFI; its doorbell fired
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(vcpu1)));
        Assert.Equal(VmStateFormat.VpeDbFired, bytes[vcpu1 + 4]);
        Assert.Equal(16UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(vcpu1 + 8 + 8 * (int)CpuSysreg.IccPcr)));
    }

    [Fact]
    public void Two_encodings_of_one_state_are_identical()
    {
        var (_, state) = Busy();
        Assert.Equal(state.Encode(), state.Encode());
    }

    public static TheoryData<string, Func<byte[], byte[]>, string> Corruptions => new()
    {
        { "magic", b => Resealed(Poke(b, 0, (byte)'X')), "not a Fabric VM state" },
        { "version", b => Resealed(Poke(b, 4, 2)), "format version 2 is not supported" },
        { "header flags", b => Resealed(Poke(b, 6, 1)), "header flags" },
        { "a flipped bit", b => Poke(b, b.Length / 2, (byte)(b[b.Length / 2] ^ 0x10)), "CRC-32 mismatch" },
        { "truncation", b => b[..^9], "truncated" },
        { "trailing bytes", b => [.. b, 0, 0], "trailing bytes" },
        { "too short for a header", b => b[..10], "truncated" },
        { "section count", b => Resealed(Poke(b, 12, 6)), "announces 6 sections" },
        { "section order", b => Resealed(Poke(b, PayloadOffset(b, "SIST") - 8, (byte)'L')), "expected 'SIST'" },
        { "CONF reserved bytes", b => Resealed(Poke(b, PayloadOffset(b, "CONF") + 10, 1)), "reserved bytes 10-11" },
        { "a shape KVM refuses", b => Resealed(Poke(b, PayloadOffset(b, "CONF"), 33)), "SPI count 33" },
        { "an SPI count the IST does not match", b => Resealed(Poke(b, PayloadOffset(b, "CONF"), 64)), "64 SPIs need 256" },
        { "an unknown virtual-level policy", b => Resealed(Poke(b, PayloadOffset(b, "CONF") + 9, 7)), "virtual-level policy 7" },
        { "IRSR reserved bytes", b => Resealed(Poke(b, PayloadOffset(b, "IRSR") + 4 + 5, 1)), "non-zero reserved bytes" },
        { "IRSR out of order", b => Resealed(Poke(b, PayloadOffset(b, "IRSR") + 4, 0x44)), "strictly increasing offset order" },
        { "IRSR width", b => Resealed(Poke(b, PayloadOffset(b, "IRSR") + 4 + 4, 16)), "width 16" },
        { "VCPU flags", b => Resealed(Poke(b, PayloadOffset(b, "VCPU") + 4, 0x80)), "set reserved bits" },
        { "VCPU DBPM", b => Resealed(Poke(b, PayloadOffset(b, "VCPU") + 5, 32)), "DBPM 32" },
        { "VCPU id", b => Resealed(Poke(b, PayloadOffset(b, "VCPU"), 1)), "names VPE 1" },
        { "KSPI reserved bits", b => Resealed(Poke(b, PayloadOffset(b, "KSPI"), 0x10)), "reserved bits [7:4]" },
        { "APLS count", b => Resealed(Poke(b, PayloadOffset(b, "APLS"), 9)), "APLS: 9 entries" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void A_corrupted_state_is_refused_by_name(string what, Func<byte[], byte[]> corrupt, string expected)
    {
        var (_, state) = Busy();
        var bad = corrupt(state.Encode());
        Assert.False(VmState.TryDecode(bad, out var decoded, out var error), what);
        Assert.Null(decoded);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Decoding_never_throws_whatever_the_bytes()
    {
        var bytes = Busy(lpis: false).State.Encode();
        Gen.Select(Gen.Int[0, bytes.Length - 1].Array[1, 8], Gen.Byte, Gen.Bool, Gen.Int[0, bytes.Length]).Sample((positions, value, reseal, cut) =>
        {
            var bad = bytes.ToArray();
            foreach (var p in positions) bad[p] ^= (byte)(value | 1);
            bad = bad[..Math.Max(cut, 0)];
            if (reseal && bad.Length >= 20) bad = Resealed(bad);
            var ok = VmState.TryDecode(bad, out var state, out var error);
            return ok ? state is not null && state.Validate() is null : state is null && error.Length > 0;
        });
    }

    [Fact]
    public void An_inconsistent_state_is_not_encoded()
    {
        var (_, state) = Busy();
        var bad = state with { SpiIst = state.SpiIst.RemoveRange(0, 4) };
        var e = Assert.Throws<ArgumentException>(() => bad.Encode());
        Assert.Contains("SPI IST is 124 bytes", e.Message);
        Assert.Contains("VPE_ID order", (state with { Vpes = state.Vpes.Reverse().ToImmutableArray() }).Validate());
    }

    private static byte[] Poke(byte[] bytes, int at, byte value)
    {
        var copy = bytes.ToArray();
        copy[at] = value;
        return copy;
    }
}
