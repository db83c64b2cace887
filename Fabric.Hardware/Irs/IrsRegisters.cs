using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Irs;

/// <summary>How the architecture lets software access a register. The GICv5 spec (IHI 111701) was not
/// available: the access of each register is inferred from its role — ID and STATUS registers read-only,
/// command registers (SYNCR, MAP_L2_ISTR, SPI_RESAMPLER, VMAP_*, SAVE_VMR) write-only — [INFERRED].</summary>
public enum RegisterAccess
{
    ReadOnly,
    ReadWrite,
    WriteOnly,
}

/// <summary>Every register of the IRS CONFIG_FRAME, one name per entry of <see cref="IrsRegisters.All"/>.</summary>
public enum IrsRegisterId
{
    Idr0, Idr1, Idr2, Idr3, Idr4, Idr5, Idr6, Idr7, Iidr, Aidr,
    Cr0, Cr1, Syncr, SyncStatusr,
    SpiVmr, SpiSelr, SpiDomainr, SpiResampler, SpiCfgr, SpiStatusr,
    PeSelr, PeStatusr, PeCr0,
    IstBaser, IstCfgr, IstStatusr, MapL2Istr,
    VmtBaser, VmtCfgr, VmtStatusr,
    VpeSelr, VpeDbr, VpeHppir, VpeCr0, VpeStatusr,
    VmDbr, VmSelr, VmStatusr,
    VmapL2Vmtr, VmapVmr, VmapVistr, VmapL2Vistr, VmapVper,
    SaveVmr, SaveVmStatusr,
    MecIdr, MecMecidR, MpamIdr, MpamPartidR,
    SwerrStatusr, SwerrSyndromer0, SwerrSyndromer1,
    Devarch, Pidr4, Pidr5, Pidr6, Pidr7, Pidr0, Pidr1, Pidr2, Pidr3, Cidr0, Cidr1, Cidr2, Cidr3,
}

/// <summary>
/// One register of the IRS CONFIG_FRAME declared as data, as QEMU's <c>REG32(IRS_CR0, 0x80)</c> /
/// <c>REG64(IRS_IST_BASER, 0x180)</c> followed by its <c>FIELD(...)</c> lines: offset in the 64 KiB frame,
/// width in bits (32 or 64), architectural access, and the fields from which masks are derived.
/// </summary>
public sealed record IrsRegister(IrsRegisterId Id, string Name, ulong Offset, int Width, RegisterAccess Access, IReadOnlyList<Field> Fields)
{
    public int SizeBytes => Width / 8;

    /// <summary>The bits some field defines; the rest are RES0.</summary>
    public ulong DefinedMask => Fields.Aggregate(0UL, (m, f) => m | f.Mask);

    /// <summary>The field named <paramref name="name"/> (e.g. "IRSEN"); throws for a name the register does not have.</summary>
    public Field this[string name] =>
        Fields.FirstOrDefault(f => f.Name == name) is { Name: not null } f
            ? f
            : throw new ArgumentException($"{Name} has no field {name}", nameof(name));

    public override string ToString() => $"{Name}@0x{Offset:X3}";
}

/// <summary>
/// The IRS CONFIG_FRAME register map: offsets and field layouts exactly as Linux
/// <c>include/linux/irqchip/arm-gic-v5.h</c> (<c>GICV5_IRS_*</c>, the KVM-series revision that defines the
/// VM/VPE registers: analogdevicesinc/linux @49dc289d) and QEMU <c>hw/intc/arm_gicv5.c</c>
/// (qemu/qemu @3fcf6e10, <c>REG32/REG64 + FIELD</c>) define them. Where the two disagree, Linux wins and the
/// entry says so.
/// </summary>
public static class IrsRegisters
{
    /// <summary>The CONFIG_FRAME is 64 KiB (SEMANTICS.md §1; QEMU IRS_CONFIG_FRAME_SIZE).</summary>
    public const ulong FrameSize = 0x1_0000;

    private static IrsRegister R32(IrsRegisterId id, string name, ulong offset, RegisterAccess access, params Field[] fields) => new(id, name, offset, 32, access, fields);
    private static IrsRegister R64(IrsRegisterId id, string name, ulong offset, RegisterAccess access, params Field[] fields) => new(id, name, offset, 64, access, fields);
    private static Field F(string name, int shift, int length = 1) => new(name, shift, length);

    // ---- Identification -------------------------------------------------------------------------------
    public static readonly Field Idr0IntDom = F("INT_DOM", 0, 2);
    public static readonly Field Idr0PaRange = F("PA_RANGE", 2, 4);
    public static readonly Field Idr0Virt = F("VIRT", 6);
    public static readonly Field Idr0OneN = F("ONE_N", 7);
    public static readonly Field Idr0VirtOneN = F("VIRT_ONE_N", 8);
    public static readonly Field Idr0Setlpi = F("SETLPI", 9);
    public static readonly Field Idr0Mec = F("MEC", 10);
    public static readonly Field Idr0Mpam = F("MPAM", 11);
    public static readonly Field Idr0Swe = F("SWE", 12);
    public static readonly Field Idr0Irsid = F("IRSID", 16, 16);
    public static readonly IrsRegister Idr0 = R32(IrsRegisterId.Idr0, "IRS_IDR0", 0x0000, RegisterAccess.ReadOnly,
        Idr0IntDom, Idr0PaRange, Idr0Virt, Idr0OneN, Idr0VirtOneN, Idr0Setlpi, Idr0Mec, Idr0Mpam, Idr0Swe, Idr0Irsid);

    public static readonly Field Idr1PeCnt = F("PE_CNT", 0, 16);
    public static readonly Field Idr1IaffidBits = F("IAFFID_BITS", 16, 4);
    public static readonly Field Idr1PriBits = F("PRI_BITS", 20, 3);
    public static readonly IrsRegister Idr1 = R32(IrsRegisterId.Idr1, "IRS_IDR1", 0x0004, RegisterAccess.ReadOnly, Idr1PeCnt, Idr1IaffidBits, Idr1PriBits);

    public static readonly Field Idr2IdBits = F("ID_BITS", 0, 5);
    public static readonly Field Idr2Lpi = F("LPI", 5);
    public static readonly Field Idr2MinLpiIdBits = F("MIN_LPI_ID_BITS", 6, 4);
    public static readonly Field Idr2IstLevels = F("IST_LEVELS", 10);
    public static readonly Field Idr2IstL2sz = F("IST_L2SZ", 11, 3);
    public static readonly Field Idr2Istmd = F("ISTMD", 14);
    public static readonly Field Idr2IstmdSz = F("ISTMD_SZ", 15, 5);
    public static readonly IrsRegister Idr2 = R32(IrsRegisterId.Idr2, "IRS_IDR2", 0x0008, RegisterAccess.ReadOnly,
        Idr2IdBits, Idr2Lpi, Idr2MinLpiIdBits, Idr2IstLevels, Idr2IstL2sz, Idr2Istmd, Idr2IstmdSz);

    public static readonly IrsRegister Idr3 = R32(IrsRegisterId.Idr3, "IRS_IDR3", 0x000c, RegisterAccess.ReadOnly,
        F("VMD", 0), F("VMD_SZ", 1, 4), F("VM_ID_BITS", 5, 5), F("VMT_LEVELS", 10));
    public static readonly IrsRegister Idr4 = R32(IrsRegisterId.Idr4, "IRS_IDR4", 0x0010, RegisterAccess.ReadOnly,
        F("VPED_SZ", 0, 6), F("VPE_ID_BITS", 6, 4));

    public static readonly Field Idr5SpiRange = F("SPI_RANGE", 0, 25);
    public static readonly IrsRegister Idr5 = R32(IrsRegisterId.Idr5, "IRS_IDR5", 0x0014, RegisterAccess.ReadOnly, Idr5SpiRange);
    public static readonly Field Idr6SpiIrsRange = F("SPI_IRS_RANGE", 0, 25);
    public static readonly IrsRegister Idr6 = R32(IrsRegisterId.Idr6, "IRS_IDR6", 0x0018, RegisterAccess.ReadOnly, Idr6SpiIrsRange);
    public static readonly Field Idr7SpiBase = F("SPI_BASE", 0, 24);
    public static readonly IrsRegister Idr7 = R32(IrsRegisterId.Idr7, "IRS_IDR7", 0x001c, RegisterAccess.ReadOnly, Idr7SpiBase);

    public static readonly Field IidrImplementer = F("IMPLEMENTER", 0, 12);
    public static readonly Field IidrRevision = F("REVISION", 12, 4);
    public static readonly Field IidrVariant = F("VARIANT", 16, 4);
    public static readonly Field IidrProductId = F("PRODUCT_ID", 20, 12);
    public static readonly IrsRegister Iidr = R32(IrsRegisterId.Iidr, "IRS_IIDR", 0x0040, RegisterAccess.ReadOnly, IidrImplementer, IidrRevision, IidrVariant, IidrProductId);

    public static readonly Field AidrArchMinorRev = F("ARCHMINORREV", 0, 4);
    public static readonly Field AidrArchMajorRev = F("ARCHMAJORREV", 4, 4);
    public static readonly Field AidrComponent = F("COMPONENT", 8, 4);
    public static readonly IrsRegister Aidr = R32(IrsRegisterId.Aidr, "IRS_AIDR", 0x0044, RegisterAccess.ReadOnly,
        AidrArchMinorRev, AidrArchMajorRev, AidrComponent);

    // ---- Control ------------------------------------------------------------------------------------
    public static readonly Field Cr0Irsen = F("IRSEN", 0);
    public static readonly Field Cr0Idle = F("IDLE", 1);
    public static readonly IrsRegister Cr0 = R32(IrsRegisterId.Cr0, "IRS_CR0", 0x0080, RegisterAccess.ReadWrite, Cr0Irsen, Cr0Idle);

    public static readonly Field Cr1Sh = F("SH", 0, 2);
    public static readonly Field Cr1Oc = F("OC", 2, 2);
    public static readonly Field Cr1Ic = F("IC", 4, 2);
    public static readonly Field Cr1IstRa = F("IST_RA", 6);
    public static readonly Field Cr1IstWa = F("IST_WA", 7);
    public static readonly Field Cr1VmtRa = F("VMT_RA", 8);
    public static readonly Field Cr1VmtWa = F("VMT_WA", 9);
    public static readonly Field Cr1VpetRa = F("VPET_RA", 10);
    public static readonly Field Cr1VpetWa = F("VPET_WA", 11);
    public static readonly Field Cr1VmdRa = F("VMD_RA", 12);
    public static readonly Field Cr1VmdWa = F("VMD_WA", 13);
    public static readonly Field Cr1VpedRa = F("VPED_RA", 14);
    public static readonly Field Cr1VpedWa = F("VPED_WA", 15);
    public static readonly IrsRegister Cr1 = R32(IrsRegisterId.Cr1, "IRS_CR1", 0x0084, RegisterAccess.ReadWrite,
        Cr1Sh, Cr1Oc, Cr1Ic, Cr1IstRa, Cr1IstWa, Cr1VmtRa, Cr1VmtWa, Cr1VpetRa, Cr1VpetWa, Cr1VmdRa, Cr1VmdWa, Cr1VpedRa, Cr1VpedWa);

    public static readonly IrsRegister Syncr = R32(IrsRegisterId.Syncr, "IRS_SYNCR", 0x00c0, RegisterAccess.WriteOnly, F("SYNC", 31));
    public static readonly Field SyncStatusrIdle = F("IDLE", 0);
    public static readonly IrsRegister SyncStatusr = R32(IrsRegisterId.SyncStatusr, "IRS_SYNC_STATUSR", 0x00c4, RegisterAccess.ReadOnly, SyncStatusrIdle);

    // ---- SPIs ---------------------------------------------------------------------------------------
    public static readonly IrsRegister SpiVmr = R64(IrsRegisterId.SpiVmr, "IRS_SPI_VMR", 0x0100, RegisterAccess.ReadWrite, F("VM_ID", 0, 16), F("VIRT", 63));
    public static readonly Field SpiSelrId = F("ID", 0, 24);
    public static readonly IrsRegister SpiSelr = R32(IrsRegisterId.SpiSelr, "IRS_SPI_SELR", 0x0108, RegisterAccess.ReadWrite, SpiSelrId);
    public static readonly Field SpiDomainrDomain = F("DOMAIN", 0, 2);
    public static readonly IrsRegister SpiDomainr = R32(IrsRegisterId.SpiDomainr, "IRS_SPI_DOMAINR", 0x010c, RegisterAccess.ReadWrite, SpiDomainrDomain);
    public static readonly IrsRegister SpiResampler = R32(IrsRegisterId.SpiResampler, "IRS_SPI_RESAMPLER", 0x0110, RegisterAccess.WriteOnly, F("SPI_ID", 0, 24));
    public static readonly Field SpiCfgrTm = F("TM", 0);
    public static readonly IrsRegister SpiCfgr = R32(IrsRegisterId.SpiCfgr, "IRS_SPI_CFGR", 0x0114, RegisterAccess.ReadWrite, SpiCfgrTm);
    public static readonly Field SpiStatusrIdle = F("IDLE", 0);
    public static readonly Field SpiStatusrV = F("V", 1);
    public static readonly IrsRegister SpiStatusr = R32(IrsRegisterId.SpiStatusr, "IRS_SPI_STATUSR", 0x0118, RegisterAccess.ReadOnly, SpiStatusrIdle, SpiStatusrV);

    // ---- PEs ----------------------------------------------------------------------------------------
    public static readonly Field PeSelrIaffid = F("IAFFID", 0, 16);
    public static readonly IrsRegister PeSelr = R32(IrsRegisterId.PeSelr, "IRS_PE_SELR", 0x0140, RegisterAccess.ReadWrite, PeSelrIaffid);
    public static readonly Field PeStatusrIdle = F("IDLE", 0);
    public static readonly Field PeStatusrV = F("V", 1);
    public static readonly Field PeStatusrOnline = F("ONLINE", 2);
    public static readonly IrsRegister PeStatusr = R32(IrsRegisterId.PeStatusr, "IRS_PE_STATUSR", 0x0144, RegisterAccess.ReadOnly, PeStatusrIdle, PeStatusrV, PeStatusrOnline);
    public static readonly Field PeCr0Dps = F("DPS", 0);
    public static readonly IrsRegister PeCr0 = R32(IrsRegisterId.PeCr0, "IRS_PE_CR0", 0x0148, RegisterAccess.ReadWrite, PeCr0Dps);

    // ---- The physical/guest LPI IST -------------------------------------------------------------------
    public static readonly Field IstBaserValid = F("VALID", 0);
    public static readonly Field IstBaserAddr = F("ADDR", 6, 50);
    public static readonly IrsRegister IstBaser = R64(IrsRegisterId.IstBaser, "IRS_IST_BASER", 0x0180, RegisterAccess.ReadWrite, IstBaserValid, IstBaserAddr);
    public static readonly IrsRegister IstCfgr = R32(IrsRegisterId.IstCfgr, "IRS_IST_CFGR", 0x0190, RegisterAccess.ReadWrite,
        IstConfig.LpiIdBitsField, IstConfig.L2SzField, IstConfig.IstSzField, IstConfig.StructureField);
    public static readonly Field IstStatusrIdle = F("IDLE", 0);
    public static readonly IrsRegister IstStatusr = R32(IrsRegisterId.IstStatusr, "IRS_IST_STATUSR", 0x0194, RegisterAccess.ReadOnly, IstStatusrIdle);
    public static readonly Field MapL2IstrId = F("ID", 0, 24);
    public static readonly IrsRegister MapL2Istr = R32(IrsRegisterId.MapL2Istr, "IRS_MAP_L2_ISTR", 0x01c0, RegisterAccess.WriteOnly, MapL2IstrId);

    // ---- Virtualisation: the host's VM table and VPE commands ----------------------------------------
    public static readonly IrsRegister VmtBaser = R64(IrsRegisterId.VmtBaser, "IRS_VMT_BASER", 0x0200, RegisterAccess.ReadWrite, F("VALID", 0), F("ADDR", 3, 53));
    public static readonly IrsRegister VmtCfgr = R32(IrsRegisterId.VmtCfgr, "IRS_VMT_CFGR", 0x0210, RegisterAccess.ReadWrite, F("VM_ID_BITS", 0, 5), F("STRUCTURE", 16));
    /// <summary>Linux GICV5_IRS_VMT_STATUSR = 0x0214. QEMU @3fcf6e10 declares <c>REG32(IRS_VMT_STATUSR, 0x124)</c>,
    /// which lands among the SPI registers and is taken to be a QEMU slip; Linux's offset is used.</summary>
    public static readonly IrsRegister VmtStatusr = R32(IrsRegisterId.VmtStatusr, "IRS_VMT_STATUSR", 0x0214, RegisterAccess.ReadOnly, F("IDLE", 0));
    public static readonly IrsRegister VpeSelr = R64(IrsRegisterId.VpeSelr, "IRS_VPE_SELR", 0x0240, RegisterAccess.ReadWrite, F("VM_ID", 0, 16), F("VPE_ID", 32, 16), F("S", 63));
    public static readonly IrsRegister VpeDbr = R64(IrsRegisterId.VpeDbr, "IRS_VPE_DBR", 0x0248, RegisterAccess.ReadWrite, F("INTID", 0, 24), F("DBPM", 32, 5), F("REQ_DB", 62), F("DBV", 63));
    /// <summary>64-bit as in Linux (GENMASK_ULL fields, HPPIV at bit 32; KVM registers it with length 8). QEMU declares it
    /// REG32 while still placing HPPIV at bit 32.</summary>
    public static readonly IrsRegister VpeHppir = R64(IrsRegisterId.VpeHppir, "IRS_VPE_HPPIR", 0x0250, RegisterAccess.ReadOnly, F("ID", 0, 24), F("TYPE", 29, 3), F("HPPIV", 32));
    public static readonly IrsRegister VpeCr0 = R32(IrsRegisterId.VpeCr0, "IRS_VPE_CR0", 0x0258, RegisterAccess.ReadWrite, F("DPS", 0));
    /// <summary>IDLE and V as in the Linux header and QEMU. An early KVM revision also read a fault bit
    /// <c>GICV5_IRS_VPE_STATUSR_F</c>; no header defining its position was found, so it is not declared.</summary>
    public static readonly IrsRegister VpeStatusr = R32(IrsRegisterId.VpeStatusr, "IRS_VPE_STATUSR", 0x025c, RegisterAccess.ReadOnly, F("IDLE", 0), F("V", 1));
    public static readonly IrsRegister VmDbr = R64(IrsRegisterId.VmDbr, "IRS_VM_DBR", 0x0280, RegisterAccess.ReadWrite, F("VPE_ID", 0, 16), F("EN", 63));
    public static readonly IrsRegister VmSelr = R32(IrsRegisterId.VmSelr, "IRS_VM_SELR", 0x0288, RegisterAccess.ReadWrite, F("VM_ID", 0, 16));
    public static readonly IrsRegister VmStatusr = R32(IrsRegisterId.VmStatusr, "IRS_VM_STATUSR", 0x028c, RegisterAccess.ReadOnly, F("IDLE", 0), F("V", 1));
    public static readonly IrsRegister VmapL2Vmtr = R64(IrsRegisterId.VmapL2Vmtr, "IRS_VMAP_L2_VMTR", 0x02c0, RegisterAccess.WriteOnly, F("VM_ID", 0, 16), F("M", 63));
    public static readonly IrsRegister VmapVmr = R64(IrsRegisterId.VmapVmr, "IRS_VMAP_VMR", 0x02c8, RegisterAccess.WriteOnly, F("VM_ID", 0, 16), F("U", 62), F("M", 63));
    public static readonly IrsRegister VmapVistr = R64(IrsRegisterId.VmapVistr, "IRS_VMAP_VISTR", 0x02d0, RegisterAccess.WriteOnly, F("TYPE", 29, 3), F("VM_ID", 32, 16), F("U", 62), F("M", 63));
    public static readonly IrsRegister VmapL2Vistr = R64(IrsRegisterId.VmapL2Vistr, "IRS_VMAP_L2_VISTR", 0x02d8, RegisterAccess.WriteOnly, F("ID", 0, 24), F("TYPE", 29, 3), F("VM_ID", 32, 16), F("M", 63));
    public static readonly IrsRegister VmapVper = R64(IrsRegisterId.VmapVper, "IRS_VMAP_VPER", 0x02e0, RegisterAccess.WriteOnly, F("VPE_ID", 0, 16), F("VM_ID", 32, 16), F("M", 63));
    public static readonly IrsRegister SaveVmr = R64(IrsRegisterId.SaveVmr, "IRS_SAVE_VMR", 0x0300, RegisterAccess.WriteOnly, F("VM_ID", 0, 16), F("Q", 62), F("S", 63));
    public static readonly IrsRegister SaveVmStatusr = R32(IrsRegisterId.SaveVmStatusr, "IRS_SAVE_VM_STATUSR", 0x0308, RegisterAccess.ReadOnly, F("IDLE", 0), F("Q", 1));

    // ---- MEC, MPAM, software error reporting (KVM: unimplemented, RAZ/WI) ----------------------------
    public static readonly IrsRegister MecIdr = R32(IrsRegisterId.MecIdr, "IRS_MEC_IDR", 0x0340, RegisterAccess.ReadOnly, F("MECIDSIZE", 0, 4));
    public static readonly IrsRegister MecMecidR = R32(IrsRegisterId.MecMecidR, "IRS_MEC_MECID_R", 0x0344, RegisterAccess.ReadWrite, F("MECID", 0, 16));
    public static readonly IrsRegister MpamIdr = R32(IrsRegisterId.MpamIdr, "IRS_MPAM_IDR", 0x0380, RegisterAccess.ReadOnly, F("PARTID_MAX", 0, 16), F("PMG_MAX", 16, 8), F("HAS_MPAM_SP", 24));
    public static readonly IrsRegister MpamPartidR = R32(IrsRegisterId.MpamPartidR, "IRS_MPAM_PARTID_R", 0x0384, RegisterAccess.ReadWrite, F("PARTID", 0, 16), F("PMG", 16, 8), F("MPAM_SP", 24, 2), F("IDLE", 31));
    public static readonly IrsRegister SwerrStatusr = R64(IrsRegisterId.SwerrStatusr, "IRS_SWERR_STATUSR", 0x03c0, RegisterAccess.ReadWrite, F("V", 0), F("S0V", 1), F("S1V", 2), F("OF", 3), F("EC", 16, 8), F("IMP_EC", 24, 8));
    public static readonly IrsRegister SwerrSyndromer0 = R64(IrsRegisterId.SwerrSyndromer0, "IRS_SWERR_SYNDROMER0", 0x03c8, RegisterAccess.ReadOnly, F("VM_ID", 0, 16), F("ID", 32, 24), F("TYPE", 60, 3), F("VIRTUAL", 63));
    public static readonly IrsRegister SwerrSyndromer1 = R64(IrsRegisterId.SwerrSyndromer1, "IRS_SWERR_SYNDROMER1", 0x03d0, RegisterAccess.ReadOnly, F("ADDR", 3, 53));

    // ---- CoreSight identification (the top of the 64 KiB frame; Linux GICV5_CORESIGHT_*) ----------------
    // The architected CoreSight layout: DEVARCH {ARCHITECT[31:21], PRESENT[20], REVISION[19:16], ARCHID[15:0]}; each
    // PIDRn/CIDRn holds one byte in [7:0], the rest RES0. PIDR5-7 are wholly RES0, so they declare no field.
    public static readonly Field DevarchArchitect = F("ARCHITECT", 21, 11);
    public static readonly Field DevarchPresent = F("PRESENT", 20);
    public static readonly Field DevarchRevision = F("REVISION", 16, 4);
    public static readonly Field DevarchArchId = F("ARCHID", 0, 16);
    public static readonly IrsRegister Devarch = R32(IrsRegisterId.Devarch, "CORESIGHT_DEVARCH", 0xffbc, RegisterAccess.ReadOnly,
        DevarchArchId, DevarchRevision, DevarchPresent, DevarchArchitect);
    public static readonly IrsRegister Pidr4 = R32(IrsRegisterId.Pidr4, "CORESIGHT_PIDR4", 0xffd0, RegisterAccess.ReadOnly, F("DES_2", 0, 4), F("SIZE", 4, 4));
    public static readonly IrsRegister Pidr5 = R32(IrsRegisterId.Pidr5, "CORESIGHT_PIDR5", 0xffd4, RegisterAccess.ReadOnly);
    public static readonly IrsRegister Pidr6 = R32(IrsRegisterId.Pidr6, "CORESIGHT_PIDR6", 0xffd8, RegisterAccess.ReadOnly);
    public static readonly IrsRegister Pidr7 = R32(IrsRegisterId.Pidr7, "CORESIGHT_PIDR7", 0xffdc, RegisterAccess.ReadOnly);
    public static readonly IrsRegister Pidr0 = R32(IrsRegisterId.Pidr0, "CORESIGHT_PIDR0", 0xffe0, RegisterAccess.ReadOnly, F("PART_0", 0, 8));
    public static readonly IrsRegister Pidr1 = R32(IrsRegisterId.Pidr1, "CORESIGHT_PIDR1", 0xffe4, RegisterAccess.ReadOnly, F("PART_1", 0, 4), F("DES_0", 4, 4));
    public static readonly IrsRegister Pidr2 = R32(IrsRegisterId.Pidr2, "CORESIGHT_PIDR2", 0xffe8, RegisterAccess.ReadOnly, F("DES_1", 0, 3), F("JEDEC", 3), F("REVISION", 4, 4));
    public static readonly IrsRegister Pidr3 = R32(IrsRegisterId.Pidr3, "CORESIGHT_PIDR3", 0xffec, RegisterAccess.ReadOnly, F("CMOD", 0, 4), F("REVAND", 4, 4));
    public static readonly IrsRegister Cidr0 = R32(IrsRegisterId.Cidr0, "CORESIGHT_CIDR0", 0xfff0, RegisterAccess.ReadOnly, F("PRMBL_0", 0, 8));
    public static readonly IrsRegister Cidr1 = R32(IrsRegisterId.Cidr1, "CORESIGHT_CIDR1", 0xfff4, RegisterAccess.ReadOnly, F("PRMBL_1", 0, 4), F("CLASS", 4, 4));
    public static readonly IrsRegister Cidr2 = R32(IrsRegisterId.Cidr2, "CORESIGHT_CIDR2", 0xfff8, RegisterAccess.ReadOnly, F("PRMBL_2", 0, 8));
    public static readonly IrsRegister Cidr3 = R32(IrsRegisterId.Cidr3, "CORESIGHT_CIDR3", 0xfffc, RegisterAccess.ReadOnly, F("PRMBL_3", 0, 8));

    /// <summary>The whole CONFIG_FRAME map in offset order, indexed by <see cref="IrsRegisterId"/>.</summary>
    public static readonly IReadOnlyList<IrsRegister> All =
    [
        Idr0, Idr1, Idr2, Idr3, Idr4, Idr5, Idr6, Idr7, Iidr, Aidr,
        Cr0, Cr1, Syncr, SyncStatusr,
        SpiVmr, SpiSelr, SpiDomainr, SpiResampler, SpiCfgr, SpiStatusr,
        PeSelr, PeStatusr, PeCr0,
        IstBaser, IstCfgr, IstStatusr, MapL2Istr,
        VmtBaser, VmtCfgr, VmtStatusr,
        VpeSelr, VpeDbr, VpeHppir, VpeCr0, VpeStatusr,
        VmDbr, VmSelr, VmStatusr,
        VmapL2Vmtr, VmapVmr, VmapVistr, VmapL2Vistr, VmapVper,
        SaveVmr, SaveVmStatusr,
        MecIdr, MecMecidR, MpamIdr, MpamPartidR,
        SwerrStatusr, SwerrSyndromer0, SwerrSyndromer1,
        Devarch, Pidr4, Pidr5, Pidr6, Pidr7, Pidr0, Pidr1, Pidr2, Pidr3, Cidr0, Cidr1, Cidr2, Cidr3,
    ];

    private static readonly Dictionary<ulong, IrsRegister> ByOffset = All.ToDictionary(r => r.Offset);

    public static IrsRegister Get(IrsRegisterId id) => All[(int)id];

    /// <summary>The register whose bytes include <paramref name="offset"/> (the upper word of a 64-bit register
    /// counts), or false for a hole in the map.</summary>
    public static bool TryFindCovering(ulong offset, out IrsRegister register)
    {
        if (ByOffset.TryGetValue(offset, out register!)) return true;
        if (offset >= 4 && ByOffset.TryGetValue(offset - 4, out register!) && register.Width == 64) return true;
        register = null!;
        return false;
    }
}
