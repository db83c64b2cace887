using CsCheck;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>ICC_ICSR_EL1, the result of GIC CDRCFG / VDRCFG: F[0] Enabled[1] Pending[2] IRM[3] Active[4] HM[5]
/// Priority[15:11] IAFFID[47:32]; every other bit RES0 (SEMANTICS.md §1).</summary>
public class IcsrSpecs
{
    [Theory]
    //          raw                      F      E      P      IRM    A      Level  Pri  IAFFID
    [InlineData(0x0000_0000_0000_0000UL, false, false, false, false, false, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0001UL, true, false, false, false, false, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0002UL, false, true, false, false, false, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0004UL, false, false, true, false, false, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0008UL, false, false, false, true, false, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0010UL, false, false, false, false, true, false, 0, 0)]
    [InlineData(0x0000_0000_0000_0020UL, false, false, false, false, false, true, 0, 0)]
    [InlineData(0x0000_0000_0000_0800UL, false, false, false, false, false, false, 1, 0)]
    [InlineData(0x0000_0000_0000_F800UL, false, false, false, false, false, false, 31, 0)]
    [InlineData(0x0000_0001_0000_0000UL, false, false, false, false, false, false, 0, 1)]
    [InlineData(0x0000_FFFF_0000_0000UL, false, false, false, false, false, false, 0, 0xFFFF)]
    [InlineData(0x0000_0003_0000_4006UL, false, true, true, false, false, false, 8, 3)]
    [InlineData(0x0000_FFFF_0000_F83FUL, true, true, true, true, true, true, 31, 0xFFFF)]
    public void Fields_sit_at_their_architected_bit_positions(ulong raw, bool f, bool enabled, bool pending, bool irm,
        bool active, bool level, int priority, int iaffid)
    {
        var icsr = Icsr.Decode(raw);
        Assert.Equal(f, icsr.Faulted);
        Assert.Equal(enabled, icsr.Enabled);
        Assert.Equal(pending, icsr.Pending);
        Assert.Equal(irm, icsr.Irm);
        Assert.Equal(active, icsr.Active);
        Assert.Equal(level ? HandlingMode.Level : HandlingMode.Edge, icsr.HandlingMode);
        Assert.Equal(Priority.Of(priority), icsr.Priority);
        Assert.Equal((ushort)iaffid, icsr.Iaffid);
    }

    [Fact]
    public void Field_declarations_match_the_architected_layout()
    {
        Assert.Equal((0, 1), (Icsr.FField.Shift, Icsr.FField.Length));
        Assert.Equal((1, 1), (Icsr.EnabledField.Shift, Icsr.EnabledField.Length));
        Assert.Equal((2, 1), (Icsr.PendingField.Shift, Icsr.PendingField.Length));
        Assert.Equal((3, 1), (Icsr.IrmField.Shift, Icsr.IrmField.Length));
        Assert.Equal((4, 1), (Icsr.ActiveField.Shift, Icsr.ActiveField.Length));
        Assert.Equal((5, 1), (Icsr.HmField.Shift, Icsr.HmField.Length));
        Assert.Equal((11, 5), (Icsr.PriorityField.Shift, Icsr.PriorityField.Length));
        Assert.Equal((32, 16), (Icsr.IaffidField.Shift, Icsr.IaffidField.Length));
        Assert.Equal(0x0000_FFFF_0000_F83FUL, Icsr.DefinedMask);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    [InlineData(10)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(48)]
    [InlineData(63)]
    public void Res0_bits_are_refused(int bit)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Icsr.Decode(0x0000_0003_0000_4006UL | (1UL << bit)));
        Assert.Contains("RES0", ex.Message);
    }

    [Fact]
    public void Every_raw_value_without_res0_bits_decodes_and_every_one_with_them_is_refused() =>
        Gen.Select(Gen.ULong, Gen.Bool).Sample((raw, clean) =>
        {
            var v = clean ? raw & Icsr.DefinedMask : raw;
            if ((v & ~Icsr.DefinedMask) == 0) Assert.Equal(v, Icsr.Decode(v).Raw);
            else Assert.Throws<ArgumentOutOfRangeException>(() => Icsr.Decode(v));
        });

    [Fact]
    public void Fault_is_F_alone()
    {
        Assert.Equal(1UL, Icsr.Fault.Raw);
        Assert.True(Icsr.Fault.Faulted);
        Assert.False(Icsr.Fault.Pending || Icsr.Fault.Active || Icsr.Fault.Enabled || Icsr.Fault.Irm);
    }

    [Fact]
    public void From_an_iste_is_the_known_encoding()
    {
        // ISTE 0x0003_4009: P=1 E=1 Pri=8 IAFFID=3, HWU=0 -> ICSR E[1] P[2] Pri[15:11] IAFFID[47:32].
        Assert.Equal(0x0000_0003_0000_4006UL, Icsr.From(IstEntry.Decode(0x0003_4009u)).Raw);
        // Every ISTE field set (and HWU=3): every ICSR field but F set.
        Assert.Equal(0x0000_FFFF_0000_F83EUL, Icsr.From(IstEntry.Decode(0xFFFF_FE1Fu)).Raw);
    }

    [Fact]
    public void From_copies_every_field_but_HWU_and_leaves_F_clear() =>
        Gen.Select(IstEntrySpecs.AnyEntry, Gen.UInt[0, 3]).Sample((e, otherHwu) =>
        {
            var icsr = Icsr.From(e);
            Assert.False(icsr.Faulted);
            Assert.Equal(e.Enabled, icsr.Enabled);
            Assert.Equal(e.Pending, icsr.Pending);
            Assert.Equal(e.Irm, icsr.Irm);
            Assert.Equal(e.Active, icsr.Active);
            Assert.Equal(e.HandlingMode, icsr.HandlingMode);
            Assert.Equal(e.Priority, icsr.Priority);
            Assert.Equal(e.Iaffid, icsr.Iaffid);
            Assert.Equal(0UL, icsr.Raw & ~Icsr.DefinedMask);
            Assert.Equal(icsr, Icsr.From(e.WithHwu(otherHwu)));
        });
}
