using CsCheck;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The architected 32-bit L2 ISTE: Pending[0] Active[1] HM[2] Enable[3] IRM[4] HWU[10:9] Priority[15:11]
/// IAFFID[31:16], bits [8:5] RES0 (SEMANTICS.md §1).</summary>
public class IstEntrySpecs
{
    [Theory]
    //          raw            P      A      Level  E      IRM    HWU  Pri  IAFFID
    [InlineData(0x0000_0000u, false, false, false, false, false, 0u, 0, 0)]
    [InlineData(0x0000_0001u, true, false, false, false, false, 0u, 0, 0)]
    [InlineData(0x0000_0002u, false, true, false, false, false, 0u, 0, 0)]
    [InlineData(0x0000_0004u, false, false, true, false, false, 0u, 0, 0)]
    [InlineData(0x0000_0008u, false, false, false, true, false, 0u, 0, 0)]
    [InlineData(0x0000_0010u, false, false, false, false, true, 0u, 0, 0)]
    [InlineData(0x0000_0200u, false, false, false, false, false, 1u, 0, 0)]
    [InlineData(0x0000_0400u, false, false, false, false, false, 2u, 0, 0)]
    [InlineData(0x0000_0600u, false, false, false, false, false, 3u, 0, 0)]
    [InlineData(0x0000_0800u, false, false, false, false, false, 0u, 1, 0)]
    [InlineData(0x0000_8000u, false, false, false, false, false, 0u, 16, 0)]
    [InlineData(0x0000_F800u, false, false, false, false, false, 0u, 31, 0)]
    [InlineData(0x0001_0000u, false, false, false, false, false, 0u, 0, 1)]
    [InlineData(0xFFFF_0000u, false, false, false, false, false, 0u, 0, 0xFFFF)]
    [InlineData(0x0003_4009u, true, false, false, true, false, 0u, 8, 3)]
    [InlineData(0x8001_F81Fu, true, true, true, true, true, 0u, 31, 0x8001)]
    [InlineData(0xFFFF_FE1Fu, true, true, true, true, true, 3u, 31, 0xFFFF)]
    public void Fields_sit_at_their_architected_bit_positions(uint raw, bool pending, bool active, bool level, bool enabled,
        bool irm, uint hwu, int priority, int iaffid)
    {
        var decoded = IstEntry.Decode(raw);
        Assert.Equal(pending, decoded.Pending);
        Assert.Equal(active, decoded.Active);
        Assert.Equal(level ? HandlingMode.Level : HandlingMode.Edge, decoded.HandlingMode);
        Assert.Equal(enabled, decoded.Enabled);
        Assert.Equal(irm, decoded.Irm);
        Assert.Equal(hwu, decoded.Hwu);
        Assert.Equal(Priority.Of(priority), decoded.Priority);
        Assert.Equal((ushort)iaffid, decoded.Iaffid);

        var built = IstEntry.Zero.WithPending(pending).WithActive(active)
            .WithHandlingMode(level ? HandlingMode.Level : HandlingMode.Edge).WithEnabled(enabled).WithIrm(irm)
            .WithHwu(hwu).WithPriority(Priority.Of(priority)).WithIaffid((ushort)iaffid);
        Assert.Equal(raw, built.Raw);
    }

    [Fact]
    public void Field_declarations_match_the_architected_layout()
    {
        Assert.Equal((0, 1), (IstEntry.PendingField.Shift, IstEntry.PendingField.Length));
        Assert.Equal((1, 1), (IstEntry.ActiveField.Shift, IstEntry.ActiveField.Length));
        Assert.Equal((2, 1), (IstEntry.HmField.Shift, IstEntry.HmField.Length));
        Assert.Equal((3, 1), (IstEntry.EnableField.Shift, IstEntry.EnableField.Length));
        Assert.Equal((4, 1), (IstEntry.IrmField.Shift, IstEntry.IrmField.Length));
        Assert.Equal((9, 2), (IstEntry.HwuField.Shift, IstEntry.HwuField.Length));
        Assert.Equal((11, 5), (IstEntry.PriorityField.Shift, IstEntry.PriorityField.Length));
        Assert.Equal((16, 16), (IstEntry.IaffidField.Shift, IstEntry.IaffidField.Length));
        Assert.Equal(0xFFFF_FE1Fu, IstEntry.DefinedMask);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Res0_bits_8_to_5_are_refused_on_decode_and_on_little_endian_read(int bit)
    {
        var raw = 0x0003_4009u | (1u << bit);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => IstEntry.Decode(raw));
        Assert.Contains("RES0", ex.Message);
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, raw);
        Assert.Throws<ArgumentOutOfRangeException>(() => IstEntry.ReadLittleEndian(bytes));
    }

    [Fact]
    public void Every_raw_value_without_res0_bits_decodes_and_every_one_with_them_is_refused() =>
        Gen.UInt.Sample(raw =>
        {
            if ((raw & 0x1E0u) == 0) Assert.Equal(raw, IstEntry.Decode(raw).Raw);
            else Assert.Throws<ArgumentOutOfRangeException>(() => IstEntry.Decode(raw));
        });

    [Theory]
    [InlineData(4u)]
    [InlineData(7u)]
    public void A_value_wider_than_its_field_is_refused_not_truncated(uint hwu) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => IstEntry.Zero.WithHwu(hwu));

    internal static readonly Gen<IstEntry> AnyEntry =
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, Gen.UInt[0, 3], Gen.Int[0, 31], Gen.UShort,
            (p, a, level, e, irm, hwu, pri, aff) => IstEntry.Zero.WithPending(p).WithActive(a)
                .WithHandlingMode(level ? HandlingMode.Level : HandlingMode.Edge).WithEnabled(e).WithIrm(irm)
                .WithHwu(hwu).WithPriority(Priority.Of(pri)).WithIaffid(aff));

    [Fact]
    public void Encode_and_decode_round_trip_every_field() =>
        AnyEntry.Sample(e =>
        {
            Assert.Equal(0u, e.Raw & ~IstEntry.DefinedMask);
            var d = IstEntry.Decode(e.Raw);
            Assert.Equal(e, d);
            var rebuilt = IstEntry.Zero.WithPending(d.Pending).WithActive(d.Active).WithHandlingMode(d.HandlingMode)
                .WithEnabled(d.Enabled).WithIrm(d.Irm).WithHwu(d.Hwu).WithPriority(d.Priority).WithIaffid(d.Iaffid);
            Assert.Equal(e.Raw, rebuilt.Raw);
        });

    [Fact]
    public void Little_endian_bytes_hold_the_raw_value_low_byte_first_and_round_trip() =>
        AnyEntry.Sample(e =>
        {
            var bytes = new byte[4];
            e.WriteLittleEndian(bytes);
            Assert.Equal(new[] { (byte)e.Raw, (byte)(e.Raw >> 8), (byte)(e.Raw >> 16), (byte)(e.Raw >> 24) }, bytes);
            Assert.Equal(e, IstEntry.ReadLittleEndian(bytes));
        });

    [Fact]
    public void A_with_method_changes_only_its_own_field() =>
        Gen.Select(AnyEntry, Gen.Int[0, 31], Gen.UShort).Sample((e, pri, aff) =>
        {
            Assert.Equal(e.Raw & ~IstEntry.PriorityField.Mask, e.WithPriority(Priority.Of(pri)).Raw & ~IstEntry.PriorityField.Mask);
            Assert.Equal(e.Raw & ~IstEntry.IaffidField.Mask, e.WithIaffid(aff).Raw & ~IstEntry.IaffidField.Mask);
            Assert.Equal(e.Raw & ~IstEntry.PendingField.Mask, e.WithPending(!e.Pending).Raw & ~IstEntry.PendingField.Mask);
            Assert.Equal(e.Raw & ~IstEntry.ActiveField.Mask, e.WithActive(!e.Active).Raw & ~IstEntry.ActiveField.Mask);
            Assert.Equal(e.Raw & ~IstEntry.EnableField.Mask, e.WithEnabled(!e.Enabled).Raw & ~IstEntry.EnableField.Mask);
            Assert.Equal(e.Raw & ~IstEntry.HwuField.Mask, e.WithHwu(3 - e.Hwu).Raw & ~IstEntry.HwuField.Mask);
        });

    [Theory]
    [InlineData(0x0000_0000u, true)]
    [InlineData(0x0000_0001u, false)]
    [InlineData(0x0000_0002u, false)]
    [InlineData(0x0000_0003u, false)]
    [InlineData(0xFFFF_FE1Cu, true)]
    public void Idle_means_neither_pending_nor_active(uint raw, bool idle) =>
        Assert.Equal(idle, IstEntry.Decode(raw).Idle);
}
