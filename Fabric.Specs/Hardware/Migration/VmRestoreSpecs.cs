using System.Buffers.Binary;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using Xunit;
using static Fabric.Specs.Hardware.Migration.MigrationKit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>Restoring into a newly built VM in KVM's documented order, with KVM's checks and errors (SEMANTICS.md §4;
/// S5 "IRS Restore Sequence"): every refusal names its errno and changes nothing.</summary>
public class VmRestoreSpecs
{
    private static readonly VmState Source = Busy().State;
    private static readonly VmState SourceWithoutLpis = Busy(lpis: false).State;

    /// <summary>Runs <paramref name="call"/> and checks it was refused with <paramref name="errno"/>, naming
    /// <paramref name="reason"/>, and left the restore exactly as it was.</summary>
    private static void Refused(VmRestore r, Func<VmRestore, KvmStatus> call, Errno errno, string reason)
    {
        var before = Fingerprint(r);
        var status = call(r);
        Assert.Equal(errno, status.Errno);
        Assert.Contains(reason, status.Message);
        Assert.Equal(-(int)errno, status.ReturnValue);
        Assert.Equal(before, Fingerprint(r));
    }

    // ---- (b) the IRS address, (c) the SPI count, (d) init ------------------------------------------

    [Theory]
    [InlineData(0x0800_8000UL, Errno.EINVAL, "not 64 KiB aligned")]
    [InlineData(0xFFFF_FFFF_FFFF_0000UL, Errno.EINVAL, "wraps around")]
    [InlineData(0xFFFF_FFFF_0000UL, Errno.E2BIG, "48-bit physical address space")]
    public void An_IRS_address_KVM_cannot_map_is_refused(ulong gpa, Errno errno, string reason) =>
        Refused(new VmRestore(2, Policies()), r => r.SetIrsAddress(gpa), errno, reason);

    [Fact]
    public void The_IRS_address_is_set_once_EEXIST()
    {
        var r = new VmRestore(2, Policies());
        Assert.True(r.SetIrsAddress(0xFFFE_0000UL).Ok);                     // the last 128 KiB of a 32-bit space is fine
        Refused(r, x => x.SetIrsAddress(0x1000_0000), Errno.EEXIST, "already 0xFFFE0000");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(1056)]
    [InlineData(-32)]
    public void An_SPI_count_outside_32_to_1024_in_steps_of_32_is_EINVAL(int count) =>
        Refused(new VmRestore(2, Policies()), r => r.SetSpiCount(count), Errno.EINVAL, $"{count} SPIs");

    [Fact]
    public void The_SPI_count_is_set_once_and_before_init_EBUSY()
    {
        var r = new VmRestore(2, Policies());
        Assert.True(r.SetSpiCount(64).Ok);
        Refused(r, x => x.SetSpiCount(96), Errno.EBUSY, "already 64");
        var d = new VmRestore(2, Policies());
        Assert.True(d.Init().Ok);
        Assert.Equal(VmRestore.DefaultSpiCount, d.SpiCount);                // KVM's default of 32
        Assert.Equal(32, d.Irs!.Spis.Capacity);
        Refused(d, x => x.SetSpiCount(64), Errno.EBUSY, "initialised");
        Assert.True(d.Init().Ok);                                            // initialising again does nothing
    }

    // ---- (e) IRS registers ---------------------------------------------------------------------------

    [Fact]
    public void IRS_registers_before_init_are_EBUSY() =>
        Refused(new VmRestore(2, Policies()), r => r.SetIrsRegister(IrsRegisters.Cr0.Offset, 1), Errno.EBUSY, "not initialised");

    [Theory]
    [InlineData(0x0002UL, Errno.EINVAL, "not 32-bit aligned")]
    [InlineData(0x0184UL, Errno.EINVAL, "upper half of the 64-bit IRS_IST_BASER")]
    [InlineData(0x0020UL, Errno.ENXIO, "no IRS register")]
    [InlineData(0x1_0000UL, Errno.ENXIO, "no IRS register")]
    public void An_offset_that_is_not_a_whole_register_is_refused(ulong offset, Errno errno, string reason) =>
        Refused(Initialised(Source), r => r.SetIrsRegister(offset, 0), errno, reason);

    public static TheoryData<IrsRegisterId, Func<ulong, ulong>, string> InsaneIdentification => new()
    {
        { IrsRegisterId.Idr0, v => IrsRegisters.Idr0Virt.Set(v, true), "VIRT=1" },
        { IrsRegisterId.Idr0, v => IrsRegisters.Idr0IntDom.Deposit(v, 0), "Non-secure domain" },
        { IrsRegisterId.Idr0, v => IrsRegisters.Idr0Irsid.Deposit(v, 3), "IRSID" },
        { IrsRegisterId.Idr1, v => IrsRegisters.Idr1IaffidBits.Deposit(v, 5), "IAFFID_BITS 5" },
        { IrsRegisterId.Idr1, v => IrsRegisters.Idr1PriBits.Deposit(v, 7), "PRI_BITS 7" },
        { IrsRegisterId.Idr1, v => IrsRegisters.Idr1PriBits.Deposit(v, 2), "PRI_BITS" },
        { IrsRegisterId.Idr2, v => IrsRegisters.Idr2Lpi.Set(v, false), "LPI=0" },
        { IrsRegisterId.Idr2, v => IrsRegisters.Idr2IstLevels.Set(v, true), "IST_LEVELS=1" },
        { IrsRegisterId.Idr2, v => IrsRegisters.Idr2Istmd.Set(v, true), "metadata" },
        { IrsRegisterId.Idr2, v => IrsRegisters.Idr2MinLpiIdBits.Deposit(v, 12), "below the host's 14" },
        { IrsRegisterId.Idr2, v => IrsRegisters.Idr2IdBits.Deposit(v, 25), "exceeds the 24" },
        { IrsRegisterId.Idr5, v => IrsRegisters.Idr5SpiRange.Deposit(v, 64), "SPI_RANGE" },
        { IrsRegisterId.Idr6, v => IrsRegisters.Idr6SpiIrsRange.Deposit(v, 64), "SPI_IRS_RANGE" },
        { IrsRegisterId.Idr7, v => IrsRegisters.Idr7SpiBase.Deposit(v, 32), "SPI_BASE" },
        { IrsRegisterId.Cr0, v => v | 1UL << 32, "does not fit the 32-bit register" },
    };

    [Theory]
    [MemberData(nameof(InsaneIdentification))]
    public void An_identification_register_that_does_not_match_the_VM_is_EINVAL(IrsRegisterId id, Func<ulong, ulong> tamper, string reason)
    {
        var saved = Source.Register(id)!.Value;
        Refused(Initialised(Source), r => r.SetIrsRegister(IrsRegisters.Get(id).Offset, tamper(saved)), Errno.EINVAL, reason);
    }

    [Fact]
    public void IDR1_PE_CNT_IDR3_IDR4_IIDR_STATUSR_and_RAZ_WI_registers_are_accepted_and_ignored()
    {
        var r = Initialised(Source);
        var before = Fingerprint(r);
        Assert.True(r.SetIrsRegister(IrsRegisters.Idr1.Offset, IrsRegisters.Idr1PeCnt.Deposit(Source.Register(IrsRegisterId.Idr1)!.Value, 9)).Ok);
        foreach (var id in new[] { IrsRegisterId.Idr3, IrsRegisterId.Idr4, IrsRegisterId.Iidr, IrsRegisterId.SpiStatusr, IrsRegisterId.PeStatusr,
                     IrsRegisterId.IstStatusr, IrsRegisterId.VmtBaser, IrsRegisterId.SpiCfgr, IrsRegisterId.Syncr })
            Assert.True(r.SetIrsRegister(IrsRegisters.Get(id).Offset, 1).Ok, id.ToString());
        Assert.Equal(before, Fingerprint(r));
    }

    [Fact]
    public void Restoring_IST_BASER_records_it_and_builds_no_LPI_IST_until_the_ISTs_are_restored()
    {
        var r = UpToRegisters(Source);
        Assert.Null(r.Irs!.Lpis);
        Assert.True(r.Irs.Frame.LpiIstRestorePending);
        Assert.Equal(Source.Register(IrsRegisterId.IstBaser), r.Irs.Frame.Read(IrsRegisters.IstBaser.Offset, 8).Value);
        Assert.True(r.SetIsts(Buffers(Source)).Ok);
        Assert.NotNull(r.Irs.Lpis);
        Assert.False(r.Irs.Frame.LpiIstRestorePending);
    }

    [Theory]
    [InlineData(IrsRegisterId.IstCfgr)]
    [InlineData(IrsRegisterId.IstBaser)]
    public void Once_the_LPI_IST_exists_IST_CFGR_and_IST_BASER_accept_their_value_and_refuse_another(IrsRegisterId id)
    {
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(Buffers(Source)).Ok);
        var offset = IrsRegisters.Get(id).Offset;
        var current = Source.Register(id)!.Value;
        Assert.True(r.SetIrsRegister(offset, current).Ok);
        var other = id == IrsRegisterId.IstCfgr ? IstConfig.LinearOf(15).Encode() : current + 0x1000;
        Refused(r, x => x.SetIrsRegister(offset, other), Errno.EINVAL, "immutable once the LPI IST exists");
    }

    [Fact]
    public void Before_the_LPI_IST_exists_IST_CFGR_and_IST_BASER_may_be_restored_again()
    {
        var r = UpToRegisters(Source);
        Assert.True(r.SetIrsRegister(IrsRegisters.IstCfgr.Offset, IstConfig.LinearOf(15).Encode()).Ok);
        Assert.True(r.SetIrsRegister(IrsRegisters.IstCfgr.Offset, Source.Register(IrsRegisterId.IstCfgr)!.Value).Ok);
    }

    // ---- (f) ISTs -----------------------------------------------------------------------------------

    [Fact]
    public void ISTs_before_init_are_EBUSY() =>
        Refused(new VmRestore(2, Policies()), r => r.SetIsts(Buffers(Source)), Errno.EBUSY, "not initialised");

    /// <summary>SEMANTICS.md §0.1, the merged selftest "GICv5 IST restore before IRS state".</summary>
    [Fact]
    public void An_LPI_IST_restore_before_the_IRS_registers_is_EINVAL()
    {
        Refused(Initialised(Source), r => r.SetIsts(Buffers(Source)), Errno.EINVAL, "before IRS_IST_CFGR and IRS_IST_BASER are restored");
        var r = Initialised(Source);
        Assert.True(r.SetIrsRegister(IrsRegisters.IstCfgr.Offset, Source.Register(IrsRegisterId.IstCfgr)!.Value).Ok);
        Refused(r, x => x.SetIsts(Buffers(Source)), Errno.EINVAL, "before IRS_IST_CFGR and IRS_IST_BASER are restored");
    }

    [Fact]
    public void An_SPI_only_IST_restore_before_the_IRS_registers_is_accepted()
    {
        var r = Initialised(SourceWithoutLpis);
        Assert.True(r.SetIsts(Buffers(SourceWithoutLpis)).Ok);
    }

    public static TheoryData<string, Func<VmState, IstBuffers>, string> BadBuffers => new()
    {
        { "no SPI buffer", s => new IstBuffers(null, s.LpiIst.ToArray()), "the SPI IST buffer is required" },
        { "an empty SPI buffer", s => new IstBuffers([], s.LpiIst.ToArray()), "the SPI IST buffer is required" },
        { "a short SPI buffer", s => new IstBuffers(s.SpiIst.ToArray()[..^4], s.LpiIst.ToArray()), "too short" },
        { "a long SPI buffer", s => new IstBuffers([.. s.SpiIst, 0, 0, 0, 0], s.LpiIst.ToArray()), "too long" },
        { "no LPI buffer for the LPI IST", s => new IstBuffers(s.SpiIst.ToArray(), null), "LPI IST buffer of BIT(14) × 4 = 65536 bytes is required" },
        { "a short LPI buffer", s => new IstBuffers(s.SpiIst.ToArray(), s.LpiIst.ToArray()[..^4]), "too short" },
        { "an LPI buffer for another size", s => new IstBuffers(s.SpiIst.ToArray(), new byte[4 << 15]), "too long" },
    };

    [Theory]
    [MemberData(nameof(BadBuffers))]
    public void Missing_or_wrongly_sized_IST_buffers_are_EINVAL(string what, Func<VmState, IstBuffers> buffers, string reason)
    {
        Assert.NotEmpty(what);
        Refused(UpToRegisters(Source), r => r.SetIsts(buffers(Source)), Errno.EINVAL, reason);
    }

    [Fact]
    public void An_LPI_buffer_without_an_LPI_IST_is_EINVAL() =>
        Refused(UpToRegisters(SourceWithoutLpis), r => r.SetIsts(new IstBuffers(SourceWithoutLpis.SpiIst.ToArray(), new byte[4 << 14])),
            Errno.EINVAL, "no LPI IST is configured");

    [Fact]
    public void An_IST_CFGR_KVM_cannot_build_an_LPI_IST_from_is_EINVAL_at_IST_restore()
    {
        var r = UpToRegisters(Source);
        Assert.True(r.SetIrsRegister(IrsRegisters.IstCfgr.Offset, IstConfig.LinearOf(20).Encode()).Ok);   // recorded: nothing is built yet
        Refused(r, x => x.SetIsts(new IstBuffers(Source.SpiIst.ToArray(), new byte[4 << 20])), Errno.EINVAL, "LPI_ID_BITS 20 is outside MIN_LPI_ID_BITS..ID_BITS");
    }

    [Fact]
    public void A_second_IST_restore_once_the_LPI_IST_exists_is_EBUSY()
    {
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(Buffers(Source)).Ok);
        Refused(r, x => x.SetIsts(Buffers(Source)), Errno.EBUSY, "an LPI IST already exists");
    }

    [Fact]
    public void Without_an_LPI_IST_the_ISTs_may_be_restored_again_and_the_last_image_wins()
    {
        var r = UpToRegisters(SourceWithoutLpis);
        Assert.True(r.SetIsts(new IstBuffers(new byte[32 * 4], null)).Ok);
        Assert.Empty(r.PendingReplay);
        Assert.True(r.SetIsts(Buffers(SourceWithoutLpis)).Ok);
        Assert.Equal([IntId.Spi(3), IntId.Spi(5), IntId.Spi(7)], r.PendingReplay);
    }

    public static TheoryData<string, uint, string> UnholdableEntries => new()
    {
        { "RES0 bits", 0x0000_0020u, "RES0 bits [8:5]" },
        { "1-of-N routing", IstEntry.Zero.WithIrm(true).Raw, "IRM=1" },
        { "HM=Level under edge emulation", IstEntry.Zero.WithHandlingMode(HandlingMode.Level).Raw, "HM=Level" },
    };

    [Theory]
    [MemberData(nameof(UnholdableEntries))]
    public void An_ISTE_Fabric_could_never_hold_is_EINVAL(string what, uint raw, string reason)
    {
        Assert.NotEmpty(what);
        var spi = Source.SpiIst.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(spi.AsSpan(4 * 9), raw);
        Refused(UpToRegisters(Source), r => r.SetIsts(new IstBuffers(spi, Source.LpiIst.ToArray())), Errno.EINVAL, "spi:9");
        var lpi = Source.LpiIst.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(lpi.AsSpan(4 * 100), raw);
        var expected = raw == IstEntry.Zero.WithHandlingMode(HandlingMode.Level).Raw ? null : reason;   // an LPI's HM is the guest's (CDHM)
        var r2 = UpToRegisters(Source);
        var status = r2.SetIsts(new IstBuffers(Source.SpiIst.ToArray(), lpi));
        if (expected is null) Assert.True(status.Ok);
        else Assert.Contains(expected, status.Message);
    }

    [Fact]
    public void An_ISTE_whose_IAFFID_names_no_vCPU_is_restored_as_KVM_copies_it_and_stays_routed_nowhere()
    {
        var spi = Source.SpiIst.ToArray();
        var routedNowhere = IstEntry.Zero.WithIaffid(2).WithEnabled(true).WithPriority(Priority.Of(4));
        BinaryPrimitives.WriteUInt32LittleEndian(spi.AsSpan(4 * 9), routedNowhere.Raw);   // the guest's CDAFF to IAFFID 2
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(new IstBuffers(spi, Source.LpiIst.ToArray())).Ok);
        Assert.Equal(routedNowhere, r.Irs!.Entry(IntId.Spi(9)));
        Assert.Null(r.Irs.VpeOf(r.Irs.Entry(IntId.Spi(9))));
    }

    [Fact]
    public void Restored_ISTEs_lose_HWU_and_Pending_and_the_pending_ones_are_recorded_in_INTID_order()
    {
        var spi = Source.SpiIst.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(spi.AsSpan(4 * 12), IstEntry.Zero.WithHwu(3).WithPending(true).WithPriority(Priority.Of(6)).Raw);
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(new IstBuffers(spi, Source.LpiIst.ToArray())).Ok);
        var irs = r.Irs!;
        Assert.Equal(IstEntry.Zero.WithPriority(Priority.Of(6)), irs.Spis[12]);
        Assert.Equal("A", StateNotation.State(irs.Spis[3]));           // spi:3 was AP: Active kept, Pending cleared
        Assert.Equal(Source.SpiEntry(3).WithPending(false), irs.Spis[3]);
        Assert.False(irs.Lpis![9].Pending);
        Assert.Equal([IntId.Spi(3), IntId.Spi(5), IntId.Spi(7), IntId.Spi(12), IntId.Lpi(9)], r.PendingReplay);
        Assert.All(Enumerable.Range(0, 2), v => Assert.Null(irs.HppiFor(v)));   // nothing is offered before the first run
    }

    [Fact]
    public void Each_SPIs_KVM_config_and_latch_follow_its_ISTE_as_KVM_restores_them()
    {
        var level = Busy(lpis: false, Policies(level: VirtualLevelPolicy.HardwareLevel)).State;
        var r = UpToRegisters(level);
        Assert.True(r.SetIsts(Buffers(level)).Ok);
        Assert.Equal(new KvmIrq(HandlingMode.Level, LineLevel: false, PendingLatch: true, OnApList: false), r.KvmIrqs[5]);   // HM=Level, pending
        Assert.Equal(new KvmIrq(HandlingMode.Edge, false, PendingLatch: true, OnApList: false), r.KvmIrqs[7]);
        Assert.Equal(new KvmIrq(HandlingMode.Edge, false, false, false), r.KvmIrqs[8]);
        Assert.Equal(HandlingMode.Level, r.Irs!.TriggerMode(5));                    // IRS_SPI_CFGR.TM reads irq->config
    }

    [Fact]
    public void ISTs_after_the_first_run_are_EBUSY()
    {
        var r = Prepared(Source);
        Assert.True(r.Run().Ok);
        Refused(r, x => x.SetIsts(Buffers(Source)), Errno.EBUSY, "a vCPU has run");
    }

    // ---- CPU-interface registers ---------------------------------------------------------------------

    [Fact]
    public void CPU_interface_registers_of_a_vCPU_that_does_not_exist_are_EINVAL() =>
        Refused(Initialised(Source), r => r.SetCpuSysreg(2, CpuSysreg.IccPcr, 3), Errno.EINVAL, "no vCPU 2");

    [Fact]
    public void CPU_interface_registers_before_init_are_EBUSY() =>
        Refused(new VmRestore(2, Policies()), r => r.SetCpuSysreg(0, CpuSysreg.IccPcr, 3), Errno.EBUSY, "not initialised");

    [Fact]
    public void A_register_KVM_does_not_offer_is_ENXIO() =>
        Refused(Initialised(Source), r => r.SetCpuSysreg(0, (CpuSysreg)99, 0), Errno.ENXIO, "not one KVM saves");

    [Theory]
    [InlineData(CpuSysreg.IccPcr, 32UL, "RES0 bits [63:5]")]
    [InlineData(CpuSysreg.IccApr, 1UL << 32, "RES0 bits [63:32]")]
    [InlineData(CpuSysreg.IccCr0, 1UL << 38, "only EN is modelled")]
    [InlineData(CpuSysreg.IccPpiPriorityr3, 0x20UL, "5 bits at [8k+4:8k]")]
    [InlineData(CpuSysreg.IccIcsr, 1UL << 6, "RES0 bits")]
    public void A_CPU_interface_value_with_bits_the_register_does_not_define_is_EINVAL(CpuSysreg register, ulong value, string reason) =>
        Refused(Initialised(Source), r => r.SetCpuSysreg(1, register, value), Errno.EINVAL, reason);

    [Fact]
    public void CPU_interface_registers_after_the_first_run_are_EBUSY()
    {
        var r = Prepared(Source);
        Assert.True(r.Run().Ok);
        Refused(r, x => x.SetCpuSysreg(0, CpuSysreg.IccPcr, 3), Errno.EBUSY, "a vCPU has run");
    }

    // ---- Fabric's bookkeeping section ----------------------------------------------------------------

    [Fact]
    public void Bookkeeping_before_the_ISTs_is_EBUSY() =>
        Refused(UpToRegisters(Source), r => r.SetKvmBookkeeping(Source.Spis, Source.ApList, [.. Source.Vpes.Select(v => v.Kvm)]), Errno.EBUSY, "restore the ISTs");

    public static TheoryData<string, Func<VmState, VmState>, string> BadBookkeeping => new()
    {
        { "an entry not marked on the list", s => s with { ApList = s.ApList.Add(9) }, "irq->vcpu is NULL" },
        { "a marked SPI missing from the list", s => s with { ApList = s.ApList.RemoveAt(0) }, "spi:3 has OnApList=1 but is not on the AP list" },
        { "an entry twice", s => s with { ApList = s.ApList.Add(3) }, "twice" },
        { "an entry beyond the SPIs", s => s with { ApList = s.ApList.Add(40) }, "beyond this VM's 32 SPIs" },
    };

    [Theory]
    [MemberData(nameof(BadBookkeeping))]
    public void An_AP_list_that_is_not_exactly_the_SPIs_marked_on_it_is_EINVAL(string what, Func<VmState, VmState> tamper, string reason)
    {
        Assert.NotEmpty(what);
        var bad = tamper(Source);
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(Buffers(Source)).Ok);
        Refused(r, x => x.SetKvmBookkeeping(bad.Spis, bad.ApList, [.. bad.Vpes.Select(v => v.Kvm)]), Errno.EINVAL, reason);
    }

    [Fact]
    public void Bookkeeping_for_another_number_of_SPIs_or_vCPUs_is_EINVAL()
    {
        var r = UpToRegisters(Source);
        Assert.True(r.SetIsts(Buffers(Source)).Ok);
        var vpes = Source.Vpes.Select(v => v.Kvm).ToList();
        Refused(r, x => x.SetKvmBookkeeping(Source.Spis.RemoveAt(31), Source.ApList, vpes), Errno.EINVAL, "records for 31 SPIs");
        Refused(r, x => x.SetKvmBookkeeping(Source.Spis, Source.ApList, vpes.Take(1).ToList()), Errno.EINVAL, "records for 1 vCPUs");
    }

    [Fact]
    public void Under_hardware_level_a_config_that_disagrees_with_ISTE_HM_is_EINVAL()
    {
        var policies = Policies(level: VirtualLevelPolicy.HardwareLevel);
        var level = Busy(lpis: false, policies).State;
        var r = UpToRegisters(level, policies);
        Assert.True(r.SetIsts(Buffers(level)).Ok);
        var spis = level.Spis.SetItem(5, level.Spis[5] with { Config = HandlingMode.Edge });
        Refused(r, x => x.SetKvmBookkeeping(spis, level.ApList, [.. level.Vpes.Select(v => v.Kvm)]), Errno.EINVAL, "spi:5 has config Edge but its ISTE.HM is Level");
    }

    // ---- The first run ----------------------------------------------------------------------------------

    [Fact]
    public void Pending_interrupts_are_replayed_with_VDPEND_at_the_first_run_and_not_before()
    {
        var r = Prepared(Source);
        Assert.False(r.Irs!.Vdrcfg(IntId.Spi(5)).Pending);
        var run = r.Run();
        Assert.True(run.Ok, run.Status.ToString());
        Assert.Equal([IntId.Spi(3), IntId.Spi(5), IntId.Spi(7), IntId.Lpi(9)], run.Replayed.ToArray());
        Assert.True(r.Irs.Vdrcfg(IntId.Spi(5)).Pending);
        Assert.Equal(Source.SpiIst.ToArray(), r.Irs.Spis.SaveEntries());
        Assert.Contains(new OfferChange(1, new Hppi(IntId.Spi(5), Priority.Of(9))), run.Offers);
        Assert.Equal(new Hppi(IntId.Spi(5), Priority.Of(9)), r.Cpus[1].Offered);
        Assert.True(r.HasRun);
        Assert.Same(r.Vm, run.Vm);
    }

    [Fact]
    public void A_replayed_interrupt_rings_the_doorbell_of_a_VPE_waiting_in_WFI()
    {
        var vm = Vm(vpes: 1);
        Boot(vm, 4, priority: 3);
        vm.Load(0);
        vm.Put(0, wfi: true);                                              // idle with a doorbell request (DBPM 31)
        vm.Irs.Vdpend(IntId.Spi(4), true);                                 // pended without the model's doorbell path
        var state = Save(vm);
        Assert.True(state.Vpes[0].Kvm.Doorbell.Armed);
        var run = Prepared(state).Run();
        Assert.Equal([0], run.Doorbells.ToArray());
        Assert.True(run.Vm!.Cpus[0].DbFired);
    }

    [Fact]
    public void The_first_run_without_an_IRS_address_is_ENXIO()
    {
        var r = new VmRestore(2, Policies());
        Assert.True(r.Init().Ok);
        var before = Fingerprint(r);
        var run = r.Run();
        Assert.Equal(Errno.ENXIO, run.Status.Errno);
        Assert.Contains("never set", run.Status.Message);
        Assert.Null(run.Vm);
        Assert.Equal(before, Fingerprint(r));
    }

    [Fact]
    public void The_first_run_with_an_LPI_IST_described_but_never_restored_is_ENXIO()
    {
        var r = UpToRegisters(Source);
        var before = Fingerprint(r);
        var run = r.Run();
        Assert.Equal(Errno.ENXIO, run.Status.Errno);
        Assert.Contains("never restored", run.Status.Message);
        Assert.Equal(before, Fingerprint(r));
    }

    [Fact]
    public void The_first_run_initialises_a_VGIC_userspace_did_not()
    {
        var r = new VmRestore(1, Policies());
        Assert.True(r.SetIrsAddress(VmSave.DefaultIrsBase).Ok);
        var run = r.Run();
        Assert.True(run.Ok);
        Assert.Equal(32, run.Vm!.Irs.Config.SpiCount);
        Assert.Empty(run.Replayed.ToArray());
    }

    [Fact]
    public void Every_restore_call_after_the_first_run_is_refused_and_a_second_run_is_EBUSY()
    {
        var r = Prepared(Source);
        Assert.True(r.Run().Ok);
        Refused(r, x => x.SetIrsRegister(IrsRegisters.Cr0.Offset, 1), Errno.EBUSY, "a vCPU has run");
        Refused(r, x => x.SetKvmBookkeeping(Source.Spis, Source.ApList, [.. Source.Vpes.Select(v => v.Kvm)]), Errno.EBUSY, "a vCPU has run");
        Refused(r, x => x.SetSpiCount(64), Errno.EBUSY, "initialised");
        Refused(r, x => x.SetIrsAddress(0), Errno.EEXIST, "already");
        Refused(r, x => x.Run().Status, Errno.EBUSY, "already run");
    }

    // ---- The whole sequence ------------------------------------------------------------------------------

    [Fact]
    public void A_state_saved_under_another_virtual_level_policy_is_EINVAL()
    {
        var status = VmRestore.Prepare(Source, Policies(level: VirtualLevelPolicy.HardwareLevel), out var r);
        Assert.Equal(Errno.EINVAL, status.Errno);
        Assert.Contains("virtual-level policy", status.Message);
        Assert.Null(r);
    }

    [Fact]
    public void A_register_saved_with_another_width_is_EINVAL()
    {
        var i = Source.IrsRegisters.IndexOf(Source.IrsRegisters.Single(x => x.Offset == IrsRegisters.IstBaser.Offset));
        var bad = Source with { IrsRegisters = Source.IrsRegisters.SetItem(i, Source.IrsRegisters[i] with { Width = 32, Value = 0 }) };
        var status = VmRestore.Prepare(bad, Policies(), out _);
        Assert.Equal(Errno.EINVAL, status.Errno);
        Assert.Contains("saved as 32-bit but is 64-bit", status.Message);
    }

    [Fact]
    public void A_state_for_a_VM_with_other_priority_bits_than_the_destination_is_EINVAL()
    {
        var r = new VmRestore(2, Policies(), priorityBits: 4);
        Assert.True(r.Init().Ok);
        var status = r.SetIrsRegister(IrsRegisters.Idr1.Offset, Source.Register(IrsRegisterId.Idr1)!.Value);
        Assert.Equal(Errno.EINVAL, status.Errno);
        Assert.Contains("PRI_BITS", status.Message);
    }

    [Fact]
    public void Without_Fabric_bookkeeping_a_restore_keeps_what_KVM_derives_from_the_ISTEs_alone()
    {
        var r = UpToRegisters(SourceWithoutLpis);
        Assert.True(r.SetIsts(Buffers(SourceWithoutLpis)).Ok);
        var run = r.Run();
        Assert.True(run.Ok);
        Assert.Empty(run.Vm!.ApList.Entries);                             // KVM's replay is a bare VDPEND: nothing is tracked
        Assert.Equal(HandlingMode.Edge, run.Vm.ApList[5].Config);        // edge-emulated: HM says Edge, the level is lost
        Assert.False(run.Vm.ApList[5].LineLevel);
    }
}

/// <summary>SEMANTICS.md §0.1: the merged selftest saves a VM, restores it, saves again before the first run and compares
/// the ISTs byte for byte, pending bits included.</summary>
public sealed class ResaveBeforeRunSpecs
{
    [Fact]
    public void A_save_after_a_restore_and_before_the_first_run_equals_the_restored_state_pending_bits_included()
    {
        var (_, source) = MigrationKit.Busy(lpis: true);
        Assert.Contains(Enumerable.Range(0, source.Shape.SpiCount), s => source.SpiEntry((uint)s).Pending);
        var restored = MigrationKit.Prepared(source);

        var again = restored.SaveBeforeRun(source.Shape.IrsBase);

        Assert.True(again.Ok, again.Status.ToString());
        Assert.Equal(source.SpiIst.ToArray(), again.State!.SpiIst.ToArray());
        Assert.Equal(source.LpiIst.ToArray(), again.State.LpiIst.ToArray());
        Assert.Equal(source.Encode(), again.State.Encode());
    }

    [Fact]
    public void A_save_before_run_after_the_first_run_is_EBUSY()
    {
        var (_, source) = MigrationKit.Busy(lpis: false);
        var restored = MigrationKit.Prepared(source);
        Assert.True(restored.Run().Ok);
        Assert.Equal(Errno.EBUSY, restored.SaveBeforeRun().Status.Errno);
    }
}
