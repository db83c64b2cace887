using CsCheck;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Registers;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

public class IrsFrameSpecs
{
    private static IrsFrame Frame(int spis = 64, int vpes = 4, int priorityBits = 5, int idBits = 16) =>
        new(new IrsFrameConfig(spis, vpes, priorityBits, idBits));

    private static ulong Read32(IrsFrame f, IrsRegister r)
    {
        var result = f.Read(r.Offset, 4);
        Assert.True(result.Ok, result.Refusal);
        return result.Value;
    }

    private static ulong Read64(IrsFrame f, IrsRegister r)
    {
        var result = f.Read(r.Offset, 8);
        Assert.True(result.Ok, result.Refusal);
        return result.Value;
    }

    private static MmioResult Write(IrsFrame f, IrsRegister r, ulong value) => f.Write(r.Offset, value, r.SizeBytes);

    private static MmioResult Accepted(MmioResult result)
    {
        Assert.True(result.Ok, result.Refusal);
        Assert.Null(result.Refusal);
        return result;
    }

    private static string Refused(MmioResult result)
    {
        Assert.False(result.Ok);
        Assert.Equal(0UL, result.Value);
        Assert.IsType<IrsFrameEffect.None>(result.Effect);
        return Assert.IsType<string>(result.Refusal);
    }

    private static readonly IrsRegister[] Idrs =
        [IrsRegisters.Idr0, IrsRegisters.Idr1, IrsRegisters.Idr2, IrsRegisters.Idr3, IrsRegisters.Idr4, IrsRegisters.Idr5, IrsRegisters.Idr6, IrsRegisters.Idr7];

    private static ulong CfgrWithIdBits(int bits) => IstConfig.LinearOf(bits).Encode();

    // ---- Configuration ------------------------------------------------------------------------------

    [Theory]
    [InlineData(0, 1, 5, 16, "SpiCount 0")]
    [InlineData(31, 1, 5, 16, "SpiCount 31")]
    [InlineData(48, 1, 5, 16, "steps of 32")]
    [InlineData(1056, 1, 5, 16, "SpiCount 1056")]
    [InlineData(32, 0, 5, 16, "VpeCount 0")]
    [InlineData(32, 65536, 5, 16, "VpeCount 65536")]
    [InlineData(32, 1, 0, 16, "PriorityBits 0")]
    [InlineData(32, 1, 6, 16, "PriorityBits 6")]
    [InlineData(32, 1, 5, 0, "IdBits 0")]
    [InlineData(32, 1, 5, 25, "IdBits 25")]
    [InlineData(32, 1, 5, 12, "MinLpiIdBits 14")]
    public void A_frame_refuses_a_config_kvm_would_not_build_with_the_reason(int spis, int vpes, int pri, int idBits, string reason)
    {
        var config = new IrsFrameConfig(spis, vpes, pri, idBits);
        Assert.Contains(reason, config.Validate());
        var thrown = Assert.Throws<ArgumentException>(() => new IrsFrame(config));
        Assert.Contains(reason, thrown.Message);
    }

    [Fact]
    public void Min_lpi_id_bits_must_fit_its_4_bit_field() =>
        Assert.Contains("MinLpiIdBits 16", new IrsFrameConfig(32, 1, IdBits: 20, MinLpiIdBits: 16).Validate());

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(1024)]
    public void Any_multiple_of_32_spis_from_32_to_1024_is_accepted(int spis) =>
        Assert.Null(new IrsFrameConfig(spis, 1).Validate());

    // ---- Identification ------------------------------------------------------------------------------

    [Fact]
    public void Idrs_describe_the_vm_a_single_non_secure_irs_with_linear_ists_and_no_virtualisation()
    {
        var f = Frame(spis: 96, vpes: 3, priorityBits: 4, idBits: 16);
        var idr0 = Read32(f, IrsRegisters.Idr0);
        Assert.Equal(1UL, IrsRegisters.Idr0IntDom.Extract(idr0));
        Assert.Equal(0UL, idr0 & (IrsRegisters.Idr0Virt.Mask | IrsRegisters.Idr0OneN.Mask | IrsRegisters.Idr0VirtOneN.Mask |
                                   IrsRegisters.Idr0Setlpi.Mask | IrsRegisters.Idr0Mec.Mask | IrsRegisters.Idr0Mpam.Mask |
                                   IrsRegisters.Idr0Swe.Mask | IrsRegisters.Idr0Irsid.Mask));
        var idr1 = Read32(f, IrsRegisters.Idr1);
        Assert.Equal(3UL, IrsRegisters.Idr1PeCnt.Extract(idr1));
        Assert.Equal(1UL, IrsRegisters.Idr1IaffidBits.Extract(idr1));   // 3 vCPUs -> 2 VPE ID bits -> N-1
        Assert.Equal(3UL, IrsRegisters.Idr1PriBits.Extract(idr1));      // 4 bits -> N-1
        var idr2 = Read32(f, IrsRegisters.Idr2);
        Assert.Equal(16UL, IrsRegisters.Idr2IdBits.Extract(idr2));
        Assert.True(IrsRegisters.Idr2Lpi.Flag(idr2));
        Assert.Equal(14UL, IrsRegisters.Idr2MinLpiIdBits.Extract(idr2));
        Assert.False(IrsRegisters.Idr2IstLevels.Flag(idr2));
        Assert.False(IrsRegisters.Idr2Istmd.Flag(idr2));
        Assert.Equal(0UL, IrsRegisters.Idr2IstmdSz.Extract(idr2));
        Assert.Equal(0UL, Read32(f, IrsRegisters.Idr3));
        Assert.Equal(0UL, Read32(f, IrsRegisters.Idr4));
        Assert.Equal(96UL, Read32(f, IrsRegisters.Idr5));
        Assert.Equal(96UL, Read32(f, IrsRegisters.Idr6));
        Assert.Equal(0UL, Read32(f, IrsRegisters.Idr7));
    }

    [Fact]
    public void Iidr_names_kvm_and_aidr_a_gicv5_0_irs()
    {
        var f = Frame();
        var iidr = Read32(f, IrsRegisters.Iidr);
        Assert.Equal(0x43bUL, IrsRegisters.IidrImplementer.Extract(iidr));
        Assert.Equal(0x4bUL, IrsRegisters.IidrProductId.Extract(iidr));
        Assert.Equal(0UL, Read32(f, IrsRegisters.Aidr));
    }

    [Fact]
    public void Aidr_reads_component_irs_architecture_v5_0_as_kvm_builds_it()
    {
        var aidr = Read32(Frame(), IrsRegisters.Aidr);
        Assert.Equal(0b00UL, IrsRegisters.AidrComponent.Extract(aidr));      // GICV5_AIDR_COMPONENT_IRS
        Assert.Equal(0UL, IrsRegisters.AidrArchMajorRev.Extract(aidr));       // GICV5_AIDR_ARCH_MAJ_REV_V5
        Assert.Equal(0UL, IrsRegisters.AidrArchMinorRev.Extract(aidr));       // GICV5_AIDR_ARCH_MIN_REV_V0
        Assert.Equal(IrsFrame.Aidr, aidr);
    }

    // Transcribed from Linux arm-gic-v5.h GICV5_CORESIGHT_* (offsets and *_VAL), independently of the frame.
    [Theory]
    [InlineData(0xffbcUL, 0x47705a19UL)]   // DEVARCH: ARCHITECT 0x23b, PRESENT, ARCHID 0x5a19
    [InlineData(0xffd0UL, 0x04UL)]         // PIDR4: JEP106 continuation
    [InlineData(0xffd4UL, 0x00UL)]         // PIDR5-7: RES0
    [InlineData(0xffd8UL, 0x00UL)]
    [InlineData(0xffdcUL, 0x00UL)]
    [InlineData(0xffe0UL, 0x4bUL)]         // PIDR0: PART_0
    [InlineData(0xffe4UL, 0xb0UL)]         // PIDR1: DES_0 | PART_1
    [InlineData(0xffe8UL, 0x0bUL)]         // PIDR2: DES_1
    [InlineData(0xffecUL, 0x00UL)]         // PIDR3: REVAND | CMOD
    [InlineData(0xfff0UL, 0x0dUL)]         // CIDR0-3: the CoreSight preamble
    [InlineData(0xfff4UL, 0xf0UL)]
    [InlineData(0xfff8UL, 0x05UL)]
    [InlineData(0xfffcUL, 0xb1UL)]
    public void The_coresight_id_registers_read_as_kvm_presents_them(ulong offset, ulong value)
    {
        var r = Frame().Read(offset, 4);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(value, r.Value);
    }

    [Fact]
    public void The_coresight_id_registers_are_32_bit_and_read_only()
    {
        var f = Frame();
        Assert.Contains("32-bit register", Refused(f.Read(0xfff8, 8)));
        var before = f.Snapshot();
        Assert.Contains("read-only", Refused(f.Write(0xffbc, 0, 4)));
        Assert.Equal(before, f.Snapshot());
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 2)]
    [InlineData(9, 3)]
    [InlineData(512, 8)]
    public void Iaffid_bits_are_the_vpe_id_bits_minus_one(int vpes, int iaffidBits) =>
        Assert.Equal((ulong)iaffidBits, IrsRegisters.Idr1IaffidBits.Extract(Read32(Frame(vpes: vpes), IrsRegisters.Idr1)));

    [Theory]
    [InlineData(IrsRegisterId.Idr0)]
    [InlineData(IrsRegisterId.Idr1)]
    [InlineData(IrsRegisterId.Idr2)]
    [InlineData(IrsRegisterId.Idr5)]
    [InlineData(IrsRegisterId.Idr7)]
    [InlineData(IrsRegisterId.Iidr)]
    [InlineData(IrsRegisterId.Aidr)]
    [InlineData(IrsRegisterId.Devarch)]
    [InlineData(IrsRegisterId.Cidr3)]
    [InlineData(IrsRegisterId.SyncStatusr)]
    [InlineData(IrsRegisterId.SpiStatusr)]
    [InlineData(IrsRegisterId.PeStatusr)]
    [InlineData(IrsRegisterId.IstStatusr)]
    public void Writes_to_read_only_registers_are_refused_and_change_nothing(IrsRegisterId id)
    {
        var f = Frame();
        var register = IrsRegisters.Get(id);
        var before = f.Snapshot();
        Assert.Contains("read-only", Refused(Write(f, register, 0xFFFF_FFFF)));
        Assert.Equal(before, f.Snapshot());
    }

    // ---- Control -------------------------------------------------------------------------------------

    [Fact]
    public void Cr0_idle_always_reads_1_and_irsen_reads_as_written()
    {
        var f = Frame();
        Assert.Equal(0b10UL, Read32(f, IrsRegisters.Cr0));
        Accepted(Write(f, IrsRegisters.Cr0, 0b01));
        Assert.Equal(0b11UL, Read32(f, IrsRegisters.Cr0));
        Accepted(Write(f, IrsRegisters.Cr0, 0b00));
        Assert.Equal(0b10UL, Read32(f, IrsRegisters.Cr0));
    }

    [Fact]
    public void Writing_irsen_toggles_enabled_and_reports_only_edges()
    {
        var f = Frame();
        Assert.False(f.Enabled);
        var on = Accepted(Write(f, IrsRegisters.Cr0, 1));
        Assert.True(f.Enabled);
        Assert.Equal(new IrsFrameEffect.IrsEnabledChanged(true), on.Effect);
        Assert.IsType<IrsFrameEffect.None>(Accepted(Write(f, IrsRegisters.Cr0, 1)).Effect);
        Assert.Equal(new IrsFrameEffect.IrsEnabledChanged(false), Accepted(Write(f, IrsRegisters.Cr0, 0b10)).Effect);
        Assert.False(f.Enabled);
    }

    [Fact]
    public void Cr1_keeps_the_fields_kvm_tracks_and_drops_vmt_wa_and_vpet_wa()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.Cr1, 0xFFFF_FFFF));
        var cr1 = Read32(f, IrsRegisters.Cr1);
        Assert.Equal(0xF5FFUL, cr1);
        Assert.False(IrsRegisters.Cr1VmtWa.Flag(cr1));
        Assert.False(IrsRegisters.Cr1VpetWa.Flag(cr1));
    }

    [Theory]
    [InlineData(IrsRegisterId.SyncStatusr)]
    [InlineData(IrsRegisterId.SpiStatusr)]
    [InlineData(IrsRegisterId.PeStatusr)]
    [InlineData(IrsRegisterId.IstStatusr)]
    public void The_irs_is_always_idle(IrsRegisterId id) =>
        Assert.Equal(1UL, Read32(Frame(), IrsRegisters.Get(id)) & 1);

    [Fact]
    public void A_sync_completes_at_once() =>
        Assert.IsType<IrsFrameEffect.None>(Accepted(Write(Frame(), IrsRegisters.Syncr, 1UL << 31)).Effect);

    // ---- VM / VPE registers --------------------------------------------------------------------------

    public static TheoryData<IrsRegisterId> VmRegisters => new()
    {
        IrsRegisterId.SpiVmr, IrsRegisterId.VmtBaser, IrsRegisterId.VmtCfgr, IrsRegisterId.VmtStatusr, IrsRegisterId.VpeSelr,
        IrsRegisterId.VpeDbr, IrsRegisterId.VpeHppir, IrsRegisterId.VpeCr0, IrsRegisterId.VpeStatusr, IrsRegisterId.VmDbr,
        IrsRegisterId.VmSelr, IrsRegisterId.VmStatusr, IrsRegisterId.VmapL2Vmtr, IrsRegisterId.VmapVmr, IrsRegisterId.VmapVistr,
        IrsRegisterId.VmapL2Vistr, IrsRegisterId.VmapVper, IrsRegisterId.SaveVmr, IrsRegisterId.SaveVmStatusr,
    };

    [Theory]
    [MemberData(nameof(VmRegisters))]
    public void Vm_and_vpe_registers_are_raz_wi_to_a_guest_even_their_idle_bits(IrsRegisterId id)
    {
        var f = Frame();
        var r = IrsRegisters.Get(id);
        var before = f.Snapshot();
        var why = Refused(Write(f, r, r.Width == 64 ? ulong.MaxValue : uint.MaxValue));
        Assert.True(why.Contains("RAZ/WI") || why.Contains("read-only"), why);
        Assert.Equal(0UL, r.Width == 64 ? Read64(f, r) : Read32(f, r));
        Assert.Equal(before, f.Snapshot());
    }

    [Theory]
    [InlineData(IrsRegisterId.MecMecidR)]
    [InlineData(IrsRegisterId.MpamPartidR)]
    [InlineData(IrsRegisterId.SwerrStatusr)]
    public void Mec_mpam_and_swerr_are_unimplemented_raz_wi(IrsRegisterId id)
    {
        var f = Frame();
        var r = IrsRegisters.Get(id);
        Assert.Contains("RAZ/WI", Refused(Write(f, r, 1)));
        Assert.Equal(0UL, r.Width == 64 ? Read64(f, r) : Read32(f, r));
    }

    // ---- The LPI IST ---------------------------------------------------------------------------------

    [Fact]
    public void Setting_ist_baser_valid_creates_the_lpi_ist_sized_from_lpi_id_bits()
    {
        var f = Frame();
        Assert.Null(f.LpiIst);
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(15)));
        var result = Accepted(Write(f, IrsRegisters.IstBaser, 0x8000_0000UL | 1));
        Assert.Equal(new IrsFrameEffect.LpiIstCreated(15), result.Effect);
        Assert.NotNull(f.LpiIst);
        Assert.Equal((IstStructure.Linear, 1 << 15), (f.LpiIst!.Structure, f.LpiIst.Capacity));
        Assert.Equal(0x8000_0001UL, Read64(f, IrsRegisters.IstBaser));
    }

    [Theory]
    [InlineData(13, 0, 0, "LPI_ID_BITS 13")]          // below MIN_LPI_ID_BITS (14)
    [InlineData(17, 0, 0, "LPI_ID_BITS 17")]          // above ID_BITS (16)
    [InlineData(14, 1, 0, "ISTSZ 1")]                 // metadata-sized ISTEs, but IDR2.ISTMD=0
    [InlineData(14, 0, 1, "STRUCTURE")]               // two-level, but IDR2.IST_LEVELS=0
    public void Setting_ist_baser_valid_over_a_cfgr_kvm_rejects_is_refused_and_changes_nothing(int idBits, int istsz, int structure, string reason)
    {
        var f = Frame();
        ulong cfgr = IstConfig.LpiIdBitsField.Deposit(0, (ulong)idBits);
        cfgr = IstConfig.IstSzField.Deposit(cfgr, (ulong)istsz);
        cfgr = IstConfig.StructureField.Deposit(cfgr, (ulong)structure);
        Accepted(Write(f, IrsRegisters.IstCfgr, cfgr));
        var before = f.Snapshot();
        Assert.Contains(reason, Refused(Write(f, IrsRegisters.IstBaser, 0x1000UL | 1)));
        Assert.Null(f.LpiIst);
        Assert.Equal(before, f.Snapshot());
    }

    [Fact]
    public void Ist_base_address_is_read_only_while_valid()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(14)));
        Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL | 1));
        var ist = f.LpiIst;
        Assert.Contains("ADDR is read-only while VALID", Refused(Write(f, IrsRegisters.IstBaser, 0x8_0000UL | 1)));
        Assert.Contains("read-only", Refused(f.Write(IrsRegisters.IstBaser.Offset + 4, 0x1, 4)));
        Assert.Equal(0x4_0001UL, Read64(f, IrsRegisters.IstBaser));
        Assert.Same(ist, f.LpiIst);
        Assert.IsType<IrsFrameEffect.None>(Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL | 1)).Effect);
    }

    [Fact]
    public void Ist_cfgr_writes_are_ignored_while_baser_is_valid()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(14)));
        Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL | 1));
        Assert.Contains("ignored while IRS_IST_BASER.VALID", Refused(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(16))));
        Assert.Equal(14UL, Read32(f, IrsRegisters.IstCfgr));
    }

    [Fact]
    public void Clearing_ist_baser_valid_drops_the_lpi_ist_and_frees_cfgr()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(14)));
        Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL | 1));
        Assert.Same(IrsFrameEffect.LpiIstDestroyed.Instance, Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL)).Effect);
        Assert.Null(f.LpiIst);
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(16)));
        Assert.Equal(new IrsFrameEffect.LpiIstCreated(16), Accepted(Write(f, IrsRegisters.IstBaser, 0x9_0000UL | 1)).Effect);
        Assert.Equal(1 << 16, f.LpiIst!.Capacity);
    }

    [Fact]
    public void Ist_baser_takes_two_32_bit_halves()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(14)));
        Accepted(f.Write(IrsRegisters.IstBaser.Offset + 4, 0x12, 4));
        Assert.Null(f.LpiIst);
        Accepted(f.Write(IrsRegisters.IstBaser.Offset, 0x3400_0001, 4));
        Assert.NotNull(f.LpiIst);
        Assert.Equal(0x12_3400_0001UL, Read64(f, IrsRegisters.IstBaser));
        Assert.Equal(0x12UL, f.Read(IrsRegisters.IstBaser.Offset + 4, 4).Value);
        Assert.Equal(0x3400_0001UL, f.Read(IrsRegisters.IstBaser.Offset, 4).Value);
    }

    [Fact]
    public void Ist_baser_keeps_only_valid_and_addr_55_6()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.IstBaser, ulong.MaxValue & ~1UL));
        Assert.Equal(IrsRegisters.IstBaserAddr.Mask, Read64(f, IrsRegisters.IstBaser));
    }

    [Fact]
    public void Map_l2_istr_is_refused_because_a_guest_ist_is_linear() =>
        Assert.Contains("linear", Refused(Write(Frame(), IrsRegisters.MapL2Istr, 5)));

    // ---- SPIs ----------------------------------------------------------------------------------------

    [Fact]
    public void Spi_selr_resets_to_select_no_spi()
    {
        var f = Frame();
        Assert.Equal(0xFF_FFFFUL, Read32(f, IrsRegisters.SpiSelr));
        Assert.Equal(1UL, Read32(f, IrsRegisters.SpiStatusr));
        Assert.Equal(0UL, Read32(f, IrsRegisters.SpiCfgr));
    }

    [Fact]
    public void Spi_cfgr_tm_write_changes_the_selected_spi_trigger_mode()
    {
        var f = Frame(spis: 64);
        Accepted(Write(f, IrsRegisters.SpiSelr, 40));
        Assert.Equal(0b11UL, Read32(f, IrsRegisters.SpiStatusr));
        Assert.Equal(HandlingMode.Edge, f.TriggerMode(40));
        var result = Accepted(Write(f, IrsRegisters.SpiCfgr, 1));
        Assert.Equal(new IrsFrameEffect.SpiTriggerModeChanged(40, HandlingMode.Level), result.Effect);
        Assert.Equal(HandlingMode.Level, f.TriggerMode(40));
        Assert.Equal(1UL, Read32(f, IrsRegisters.SpiCfgr));
        Assert.Equal(HandlingMode.Edge, f.TriggerMode(41));
        Assert.IsType<IrsFrameEffect.None>(Accepted(Write(f, IrsRegisters.SpiCfgr, 1)).Effect);
        Assert.Equal(new IrsFrameEffect.SpiTriggerModeChanged(40, HandlingMode.Edge), Accepted(Write(f, IrsRegisters.SpiCfgr, 0)).Effect);
    }

    [Theory]
    [InlineData(64UL)]
    [InlineData(1000UL)]
    [InlineData(0xFF_FFFFUL)]
    public void Spi_cfgr_write_with_a_selr_naming_no_spi_is_ignored(ulong selr)
    {
        var f = Frame(spis: 64);
        Accepted(Write(f, IrsRegisters.SpiSelr, selr));
        Assert.Equal(selr, Read32(f, IrsRegisters.SpiSelr));
        Assert.Equal(1UL, Read32(f, IrsRegisters.SpiStatusr));
        var before = f.Snapshot();
        Assert.Contains("names no SPI", Refused(Write(f, IrsRegisters.SpiCfgr, 1)));
        Assert.Equal(before, f.Snapshot());
        Assert.All(Enumerable.Range(0, 64), i => Assert.Equal(HandlingMode.Edge, f.TriggerMode((uint)i)));
    }

    [Fact]
    public void Spi_selr_keeps_only_its_24_bit_id() =>
        Assert.Equal(0x12_3456UL, Read32(Written(Frame(), IrsRegisters.SpiSelr, 0xAB12_3456), IrsRegisters.SpiSelr));

    private static IrsFrame Written(IrsFrame f, IrsRegister r, ulong value)
    {
        Accepted(Write(f, r, value));
        return f;
    }

    [Fact]
    public void Spi_resampler_writes_are_ignored()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.SpiSelr, 3));
        Accepted(Write(f, IrsRegisters.SpiCfgr, 1));
        Assert.Contains("resampling", Refused(Write(f, IrsRegisters.SpiResampler, 3)));
        Assert.Equal(HandlingMode.Level, f.TriggerMode(3));
    }

    [Fact]
    public void Spi_domain_is_non_secure_and_cannot_be_changed()
    {
        var f = Frame();
        Assert.Equal(1UL, Read32(f, IrsRegisters.SpiDomainr));
        Assert.Contains("Non-secure", Refused(Write(f, IrsRegisters.SpiDomainr, 0)));
        Assert.Equal(1UL, Read32(f, IrsRegisters.SpiDomainr));
    }

    [Theory]
    [InlineData(64u)]
    [InlineData(uint.MaxValue)]
    public void Trigger_mode_of_an_spi_the_vm_lacks_is_refused(uint spi) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Frame(spis: 64).TriggerMode(spi));

    // ---- PEs -----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0UL, true)]
    [InlineData(3UL, true)]
    [InlineData(4UL, false)]
    [InlineData(0xFFFFUL, false)]
    public void Pe_statusr_v_and_online_iff_pe_selr_names_an_existing_vcpu(ulong iaffid, bool exists)
    {
        var f = Frame(vpes: 4);
        Accepted(Write(f, IrsRegisters.PeSelr, iaffid));
        var status = Read32(f, IrsRegisters.PeStatusr);
        Assert.True(IrsRegisters.PeStatusrIdle.Flag(status));
        Assert.Equal(exists, IrsRegisters.PeStatusrV.Flag(status));
        Assert.Equal(exists, IrsRegisters.PeStatusrOnline.Flag(status));
        Assert.Equal(exists, IrsRegisters.PeCr0Dps.Flag(Read32(f, IrsRegisters.PeCr0)));
    }

    [Fact]
    public void Pe_selr_resets_to_select_no_vcpu() =>
        Assert.Equal(1UL, Read32(Frame(), IrsRegisters.PeStatusr));

    [Fact]
    public void Pe_cr0_accepts_targeted_routing_and_refuses_one_of_n()
    {
        var f = Frame();
        Accepted(Write(f, IrsRegisters.PeSelr, 0));
        Accepted(Write(f, IrsRegisters.PeCr0, 1));
        Assert.Contains("1-of-N", Refused(Write(f, IrsRegisters.PeCr0, 0)));
        Assert.Equal(1UL, Read32(f, IrsRegisters.PeCr0));
    }

    // ---- Hostile accesses ----------------------------------------------------------------------------

    [Theory]
    [InlineData(0x0198UL, 4, "no IRS register")]
    [InlineData(0x0020UL, 4, "no IRS register")]
    [InlineData(0x0082UL, 4, "misaligned")]
    [InlineData(0x0184UL, 8, "misaligned")]
    [InlineData(0x0080UL, 2, "4- or 8-byte")]
    [InlineData(0x0080UL, 1, "4- or 8-byte")]
    [InlineData(0x0080UL, 0, "4- or 8-byte")]
    [InlineData(0x0080UL, -4, "4- or 8-byte")]
    [InlineData(0x0080UL, 16, "4- or 8-byte")]
    [InlineData(0x0080UL, 8, "IRS_CR0 is a 32-bit register")]
    [InlineData(0x1_0000UL, 4, "outside the 64 KiB")]
    [InlineData(ulong.MaxValue, 4, "outside the 64 KiB")]
    public void Malformed_accesses_are_refused_with_the_reason_and_change_nothing(ulong offset, int size, string reason)
    {
        var f = Frame();
        var before = f.Snapshot();
        Assert.Contains(reason, Refused(f.Read(offset, size)));
        Assert.Contains(reason, Refused(f.Write(offset, 1, size)));
        Assert.Equal(before, f.Snapshot());
    }

    [Fact]
    public void A_value_wider_than_a_32_bit_access_is_refused()
    {
        var f = Frame();
        Assert.Contains("does not fit a 32-bit access", Refused(f.Write(IrsRegisters.Cr0.Offset, 0x1_0000_0001, 4)));
        Assert.False(f.Enabled);
    }

    [Fact]
    public void A_refusal_names_the_access()
    {
        var f = Frame();
        Assert.StartsWith("read", Refused(f.Read(0x0198, 4)));
        Assert.StartsWith("write", Refused(f.Write(0x0198, 0, 4)));
    }

    // ---- Snapshot ------------------------------------------------------------------------------------

    [Fact]
    public void Snapshot_holds_every_register_by_name_and_follows_writes()
    {
        var f = Frame();
        var before = f.Snapshot();
        Assert.Equal(IrsRegisters.All.Select(r => r.Name).Order(), before.Keys.Order());
        Assert.Equal(before, f.Snapshot());
        Accepted(Write(f, IrsRegisters.Cr0, 1));
        Accepted(Write(f, IrsRegisters.PeSelr, 2));
        var after = f.Snapshot();
        Assert.Equal(0b11UL, after["IRS_CR0"]);
        Assert.Equal(2UL, after["IRS_PE_SELR"]);
        Assert.Equal(0b111UL, after["IRS_PE_STATUSR"]);
        Assert.Equal(before["IRS_IDR1"], after["IRS_IDR1"]);
    }

    // ---- Any guest ---------------------------------------------------------------------------------

    private static readonly ulong[] InterestingOffsets =
        IrsRegisters.All.SelectMany(r => r.Width == 64 ? new[] { r.Offset, r.Offset + 4 } : new[] { r.Offset }).ToArray();

    private static readonly Gen<(bool IsWrite, ulong Offset, int Size, ulong Value)> AnyAccess =
        Gen.Select(
            Gen.Bool,
            Gen.Frequency<ulong>((6, Gen.OneOf(InterestingOffsets)), (3, Gen.OneOf(IrsRegisters.IstCfgr.Offset, IrsRegisters.IstBaser.Offset,
                IrsRegisters.SpiSelr.Offset, IrsRegisters.SpiCfgr.Offset, IrsRegisters.Cr0.Offset, IrsRegisters.PeSelr.Offset)),
                (1, Gen.ULong[0, 0x1_0100]), (1, Gen.ULong)),
            Gen.Frequency<int>((8, Gen.OneOf(4, 8)), (1, Gen.OneOf(-1, 0, 1, 2, 3, 16))),
            Gen.Frequency<ulong>((3, Gen.ULong[0, 0x1_FFFF]), (1, Gen.OneOf(1UL, 0x4_0001UL, 0x4_0000UL, 14UL, 16UL)), (2, Gen.ULong)));

    [Fact]
    public void Any_sequence_of_guest_accesses_never_throws_never_changes_the_idrs_and_refusals_change_nothing() =>
        Gen.Select(Gen.OneOf(32, 64, 1024), Gen.Int[1, 9], Gen.Bool, AnyAccess.Array[1, 60])
            .Sample((spis, vpes, withLpiIst, accesses) =>
            {
                var f = new IrsFrame(new IrsFrameConfig(spis, vpes));
                var idrs = Idrs.Select(r => Read32(f, r)).ToArray();
                if (withLpiIst)
                {
                    Accepted(Write(f, IrsRegisters.IstCfgr, CfgrWithIdBits(14)));
                    Accepted(Write(f, IrsRegisters.IstBaser, 0x4_0000UL | 1));
                }
                foreach (var (isWrite, offset, size, value) in accesses)
                {
                    var before = f.Snapshot();
                    var lpiIst = f.LpiIst;
                    var result = isWrite ? f.Write(offset, value, size) : f.Read(offset, size);
                    Assert.Equal(result.Ok, result.Refusal is null);
                    if (!isWrite || !result.Ok)
                    {
                        Assert.Equal(before, f.Snapshot());
                        Assert.Same(lpiIst, f.LpiIst);
                    }
                    if (!result.Ok) Assert.False(string.IsNullOrWhiteSpace(result.Refusal));
                    Assert.Equal(f.LpiIst is not null, IrsRegisters.IstBaserValid.Flag(f.Snapshot()["IRS_IST_BASER"]));
                }
                Assert.Equal(idrs, Idrs.Select(r => Read32(f, r)).ToArray());
                Assert.True(IrsRegisters.Cr0Idle.Flag(Read32(f, IrsRegisters.Cr0)));
            }, iter: 300);
}
