using CsCheck;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Registers;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

public class IrsRegistersSpecs
{
    // Transcribed from Linux include/linux/irqchip/arm-gic-v5.h (GICV5_IRS_*, KVM-series revision) independently of the table.
    [Theory]
    [InlineData("IRS_IDR0", 0x0000, 32)]
    [InlineData("IRS_IDR1", 0x0004, 32)]
    [InlineData("IRS_IDR2", 0x0008, 32)]
    [InlineData("IRS_IDR3", 0x000c, 32)]
    [InlineData("IRS_IDR4", 0x0010, 32)]
    [InlineData("IRS_IDR5", 0x0014, 32)]
    [InlineData("IRS_IDR6", 0x0018, 32)]
    [InlineData("IRS_IDR7", 0x001c, 32)]
    [InlineData("IRS_IIDR", 0x0040, 32)]
    [InlineData("IRS_AIDR", 0x0044, 32)]
    [InlineData("IRS_CR0", 0x0080, 32)]
    [InlineData("IRS_CR1", 0x0084, 32)]
    [InlineData("IRS_SYNCR", 0x00c0, 32)]
    [InlineData("IRS_SYNC_STATUSR", 0x00c4, 32)]
    [InlineData("IRS_SPI_VMR", 0x0100, 64)]
    [InlineData("IRS_SPI_SELR", 0x0108, 32)]
    [InlineData("IRS_SPI_DOMAINR", 0x010c, 32)]
    [InlineData("IRS_SPI_RESAMPLER", 0x0110, 32)]
    [InlineData("IRS_SPI_CFGR", 0x0114, 32)]
    [InlineData("IRS_SPI_STATUSR", 0x0118, 32)]
    [InlineData("IRS_PE_SELR", 0x0140, 32)]
    [InlineData("IRS_PE_STATUSR", 0x0144, 32)]
    [InlineData("IRS_PE_CR0", 0x0148, 32)]
    [InlineData("IRS_IST_BASER", 0x0180, 64)]
    [InlineData("IRS_IST_CFGR", 0x0190, 32)]
    [InlineData("IRS_IST_STATUSR", 0x0194, 32)]
    [InlineData("IRS_MAP_L2_ISTR", 0x01c0, 32)]
    [InlineData("IRS_VMT_BASER", 0x0200, 64)]
    [InlineData("IRS_VMT_CFGR", 0x0210, 32)]
    [InlineData("IRS_VMT_STATUSR", 0x0214, 32)]
    [InlineData("IRS_VPE_SELR", 0x0240, 64)]
    [InlineData("IRS_VPE_DBR", 0x0248, 64)]
    [InlineData("IRS_VPE_HPPIR", 0x0250, 64)]
    [InlineData("IRS_VPE_CR0", 0x0258, 32)]
    [InlineData("IRS_VPE_STATUSR", 0x025c, 32)]
    [InlineData("IRS_VM_DBR", 0x0280, 64)]
    [InlineData("IRS_VM_SELR", 0x0288, 32)]
    [InlineData("IRS_VM_STATUSR", 0x028c, 32)]
    [InlineData("IRS_VMAP_L2_VMTR", 0x02c0, 64)]
    [InlineData("IRS_VMAP_VMR", 0x02c8, 64)]
    [InlineData("IRS_VMAP_VISTR", 0x02d0, 64)]
    [InlineData("IRS_VMAP_L2_VISTR", 0x02d8, 64)]
    [InlineData("IRS_VMAP_VPER", 0x02e0, 64)]
    [InlineData("IRS_SAVE_VMR", 0x0300, 64)]
    [InlineData("IRS_SAVE_VM_STATUSR", 0x0308, 32)]
    [InlineData("IRS_MEC_IDR", 0x0340, 32)]
    [InlineData("IRS_MEC_MECID_R", 0x0344, 32)]
    [InlineData("IRS_MPAM_IDR", 0x0380, 32)]
    [InlineData("IRS_MPAM_PARTID_R", 0x0384, 32)]
    [InlineData("IRS_SWERR_STATUSR", 0x03c0, 64)]
    [InlineData("IRS_SWERR_SYNDROMER0", 0x03c8, 64)]
    [InlineData("IRS_SWERR_SYNDROMER1", 0x03d0, 64)]
    [InlineData("CORESIGHT_DEVARCH", 0xffbc, 32)]
    [InlineData("CORESIGHT_PIDR4", 0xffd0, 32)]
    [InlineData("CORESIGHT_PIDR5", 0xffd4, 32)]
    [InlineData("CORESIGHT_PIDR6", 0xffd8, 32)]
    [InlineData("CORESIGHT_PIDR7", 0xffdc, 32)]
    [InlineData("CORESIGHT_PIDR0", 0xffe0, 32)]
    [InlineData("CORESIGHT_PIDR1", 0xffe4, 32)]
    [InlineData("CORESIGHT_PIDR2", 0xffe8, 32)]
    [InlineData("CORESIGHT_PIDR3", 0xffec, 32)]
    [InlineData("CORESIGHT_CIDR0", 0xfff0, 32)]
    [InlineData("CORESIGHT_CIDR1", 0xfff4, 32)]
    [InlineData("CORESIGHT_CIDR2", 0xfff8, 32)]
    [InlineData("CORESIGHT_CIDR3", 0xfffc, 32)]
    public void Every_register_sits_at_the_linux_header_offset(string name, ulong offset, int width)
    {
        var register = Assert.Single(IrsRegisters.All, r => r.Name == name);
        Assert.Equal((offset, width), (register.Offset, register.Width));
        Assert.True(IrsRegisters.TryFindCovering(offset, out var found));
        Assert.Same(register, found);
    }

    [Fact]
    public void The_map_has_one_entry_per_register_id_in_id_order()
    {
        Assert.Equal(Enum.GetValues<IrsRegisterId>().Length, IrsRegisters.All.Count);
        foreach (var id in Enum.GetValues<IrsRegisterId>()) Assert.Equal(id, IrsRegisters.Get(id).Id);
        Assert.Equal(IrsRegisters.All.Count, IrsRegisters.All.Select(r => r.Name).Distinct().Count());
    }

    [Fact]
    public void Registers_are_naturally_aligned_inside_the_frame_and_never_overlap()
    {
        var ordered = IrsRegisters.All.OrderBy(r => r.Offset).ToList();
        foreach (var r in ordered)
        {
            Assert.Equal(0UL, r.Offset % (ulong)r.SizeBytes);
            Assert.True(r.Offset + (ulong)r.SizeBytes <= IrsRegisters.FrameSize);
        }
        for (var i = 1; i < ordered.Count; i++)
            Assert.True(ordered[i - 1].Offset + (ulong)ordered[i - 1].SizeBytes <= ordered[i].Offset, $"{ordered[i - 1]} overlaps {ordered[i]}");
    }

    [Fact]
    public void Fields_fit_their_register_and_never_overlap()
    {
        foreach (var r in IrsRegisters.All)
        {
            // PIDR5-7 are wholly RES0 (GICV5_CORESIGHT_PIDRn_RES0): the only registers with no field.
            if (r.Id is not (IrsRegisterId.Pidr5 or IrsRegisterId.Pidr6 or IrsRegisterId.Pidr7)) Assert.NotEmpty(r.Fields);
            ulong seen = 0;
            foreach (var f in r.Fields)
            {
                Assert.True(f.Shift + f.Length <= r.Width, $"{r.Name}.{f.Name} does not fit {r.Width} bits");
                Assert.Equal(0UL, seen & f.Mask);
                seen |= f.Mask;
            }
            Assert.Equal(seen, r.DefinedMask);
        }
    }

    // Transcribed from the GICV5_IRS_*_<FIELD> GENMASK/BIT definitions.
    [Theory]
    [InlineData("IRS_CR0", "IRSEN", 0, 1)]
    [InlineData("IRS_CR0", "IDLE", 1, 1)]
    [InlineData("IRS_IDR1", "PRI_BITS", 20, 3)]
    [InlineData("IRS_IDR1", "IAFFID_BITS", 16, 4)]
    [InlineData("IRS_IDR2", "IST_LEVELS", 10, 1)]
    [InlineData("IRS_IDR2", "ISTMD", 14, 1)]
    [InlineData("IRS_IDR5", "SPI_RANGE", 0, 25)]
    [InlineData("IRS_IST_BASER", "VALID", 0, 1)]
    [InlineData("IRS_IST_BASER", "ADDR", 6, 50)]
    [InlineData("IRS_IST_CFGR", "LPI_ID_BITS", 0, 5)]
    [InlineData("IRS_IST_CFGR", "L2SZ", 5, 2)]
    [InlineData("IRS_IST_CFGR", "ISTSZ", 7, 2)]
    [InlineData("IRS_IST_CFGR", "STRUCTURE", 16, 1)]
    [InlineData("IRS_SPI_CFGR", "TM", 0, 1)]
    [InlineData("IRS_PE_STATUSR", "ONLINE", 2, 1)]
    [InlineData("IRS_VMT_BASER", "ADDR", 3, 53)]
    [InlineData("IRS_VPE_SELR", "VPE_ID", 32, 16)]
    [InlineData("IRS_VPE_DBR", "DBPM", 32, 5)]
    [InlineData("IRS_VPE_DBR", "REQ_DB", 62, 1)]
    [InlineData("IRS_VPE_DBR", "DBV", 63, 1)]
    [InlineData("IRS_VPE_HPPIR", "HPPIV", 32, 1)]
    [InlineData("IRS_VMAP_VISTR", "TYPE", 29, 3)]
    [InlineData("IRS_VMAP_VPER", "VM_ID", 32, 16)]
    [InlineData("IRS_SAVE_VMR", "Q", 62, 1)]
    [InlineData("IRS_SAVE_VM_STATUSR", "Q", 1, 1)]
    public void Fields_sit_where_the_linux_header_puts_them(string register, string field, int shift, int length)
    {
        var f = IrsRegisters.All.Single(r => r.Name == register)[field];
        Assert.Equal((shift, length), (f.Shift, f.Length));
    }

    [Fact]
    public void Asking_a_register_for_a_field_it_lacks_is_refused() =>
        Assert.Throws<ArgumentException>(() => IrsRegisters.Cr0["TM"]);

    [Theory]
    [InlineData(0x0184UL, "IRS_IST_BASER")]
    [InlineData(0x024cUL, "IRS_VPE_DBR")]
    [InlineData(0x0254UL, "IRS_VPE_HPPIR")]
    public void The_upper_word_of_a_64_bit_register_belongs_to_it(ulong offset, string name)
    {
        Assert.True(IrsRegisters.TryFindCovering(offset, out var r));
        Assert.Equal(name, r.Name);
    }

    [Theory]
    [InlineData(0x0020UL)]
    [InlineData(0x0088UL)]
    [InlineData(0x0198UL)]
    [InlineData(0x0124UL)]
    [InlineData(0xFFB8UL)]
    [InlineData(0xFFC0UL)]
    public void Holes_in_the_map_name_no_register(ulong offset) =>
        Assert.False(IrsRegisters.TryFindCovering(offset, out _));

    [Fact]
    public void Every_field_deposits_and_extracts_without_touching_its_neighbours() =>
        Gen.Select(Gen.Int[0, IrsRegisters.All.Count - 1], Gen.Int[0, 64], Gen.ULong, Gen.ULong)
            .Sample((registerIndex, fieldPick, raw, value) =>
            {
                var register = IrsRegisters.All[registerIndex];
                if (register.Fields.Count == 0) return;
                var field = register.Fields[fieldPick % register.Fields.Count];
                var v = value & field.Max;
                var written = field.Deposit(raw, v);
                Assert.Equal(v, field.Extract(written));
                Assert.Equal(raw & ~field.Mask, written & ~field.Mask);
                foreach (Field other in register.Fields.Where(o => o != field))
                    Assert.Equal(other.Extract(raw), other.Extract(written));
            });
}
