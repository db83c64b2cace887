using Fabric.Hardware.Kvm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Irs;

/// <summary>
/// The shape of one VM's emulated IRS (SEMANTICS.md §1 SPI, IAFFID, ID widths; §3.6).
/// <para><paramref name="SpiCount"/>: 32..1024 in steps of 32 (KVM_DEV_ARM_VGIC_GRP_NR_IRQS, S5).
/// <paramref name="VpeCount"/>: vCPUs (IDR1.PE_CNT). <paramref name="VcpuIds"/>: each vCPU's id, its IAFFID and VPE_ID
/// (KVM allows sparse vcpu_ids; null: 0..VpeCount-1), <see cref="VcpuIdMap"/>.
/// <paramref name="PriorityBits"/>: priority bits the IRS implements, 1..5 (IDR1.PRI_BITS = N-1).
/// <paramref name="IdBits"/>: IDR2.ID_BITS; KVM presents min(16, host) (S4).
/// <paramref name="MinLpiIdBits"/>: IDR2.MIN_LPI_ID_BITS; KVM copies the host's value (S4), which Fabric does not
/// have — the default 14 is QEMU's QEMU_GICV5_MIN_LPI_ID_BITS, i.e. the value a QEMU-emulated host reports.</para>
/// </summary>
public sealed record IrsFrameConfig(int SpiCount, int VpeCount, int PriorityBits = Priority.Bits, int IdBits = VmLimits.LpiIdBits,
    int MinLpiIdBits = VmLimits.MinLpiIdBits, IReadOnlyList<int>? VcpuIds = null)
{
    public const int MinSpis = VmLimits.MinSpis;
    public const int MaxSpis = VmLimits.MaxSpis;
    /// <summary>IDR1.PE_CNT is 16 bits.</summary>
    public const int MaxVpes = 0xFFFF;

    /// <summary>Why this VM cannot have such an IRS, or null.</summary>
    public string? Validate()
    {
        if (!VmLimits.IsValidSpiCount(SpiCount))
            return $"SpiCount {SpiCount} is not {VmLimits.SpiRule} (KVM_DEV_ARM_VGIC_GRP_NR_IRQS)";
        if (VpeCount is < 1 or > MaxVpes) return $"VpeCount {VpeCount} is out of range 1..{MaxVpes} (IRS_IDR1.PE_CNT is 16 bits)";
        if (VcpuIdMap.Problem(VpeCount, VcpuIds) is { } ids) return ids;
        if (PriorityBits is < 1 or > Priority.Bits) return $"PriorityBits {PriorityBits} is out of range 1..{Priority.Bits}";
        if (IdBits is < 1 or > IntId.IdBits) return $"IdBits {IdBits} is out of range 1..{IntId.IdBits}";
        if (MinLpiIdBits < 0 || MinLpiIdBits > IdBits || MinLpiIdBits > (int)IrsRegisters.Idr2MinLpiIdBits.Max)
            return $"MinLpiIdBits {MinLpiIdBits} is out of range 0..{Math.Min(IdBits, (int)IrsRegisters.Idr2MinLpiIdBits.Max)} (at most IdBits, and IDR2.MIN_LPI_ID_BITS is 4 bits)";
        return null;
    }
}

/// <summary>What a guest MMIO access made happen, so that the frame's owner can react (reload vCPUs, build or drop the
/// LPI IST, tell KVM's bookkeeping about a trigger-mode change). Parameterless effects are singletons.</summary>
public abstract record IrsFrameEffect
{
    private IrsFrameEffect() { }

    /// <summary>Nothing beyond the register's own state changed.</summary>
    public sealed record None : IrsFrameEffect
    {
        public static readonly None Instance = new();
        private None() { }
    }

    /// <summary>IRS_CR0.IRSEN changed; KVM reloads every vCPU so that ICH_CONTEXTR_EL2.IRICHPPIDIS follows (S4).</summary>
    public sealed record IrsEnabledChanged(bool Enabled) : IrsFrameEffect;

    /// <summary>IRS_SPI_CFGR.TM of <paramref name="Spi"/> changed; KVM updates the SPI's irq->config (S4).</summary>
    public sealed record SpiTriggerModeChanged(uint Spi, HandlingMode Mode) : IrsFrameEffect;

    /// <summary>IRS_IST_BASER.VALID went 0 -> 1 over a valid IRS_IST_CFGR: the guest's LPI IST now exists
    /// (KVM: vgic_v5_lpi_ist_alloc, then LPI_VIST_MAKE_VALID).</summary>
    public sealed record LpiIstCreated(int IdBits) : IrsFrameEffect;

    /// <summary>IRS_IST_BASER.VALID went 1 -> 0: the LPI IST is gone (KVM: LPI_VIST_MAKE_INVALID, vgic_v5_lpi_ist_free).</summary>
    public sealed record LpiIstDestroyed : IrsFrameEffect
    {
        public static readonly LpiIstDestroyed Instance = new();
        private LpiIstDestroyed() { }
    }
}

/// <summary>The outcome of one MMIO access: <see cref="Ok"/> with the value read (0 for a write) and its effect, or
/// refused, with <see cref="Refusal"/> saying why. A refused access changed nothing.</summary>
public sealed record MmioResult(bool Ok, ulong Value, string? Refusal, IrsFrameEffect Effect)
{
    public static MmioResult Read(ulong value) => new(true, value, null, IrsFrameEffect.None.Instance);
    public static MmioResult Written(IrsFrameEffect effect) => new(true, 0, null, effect);
    public static MmioResult Written() => Written(IrsFrameEffect.None.Instance);
    public static MmioResult Refused(string why) => new(false, 0, why, IrsFrameEffect.None.Instance);

    public override string ToString() => Ok ? $"ok 0x{Value:X} {Effect}" : $"refused: {Refusal}";
}

/// <summary>
/// The guest-visible IRS CONFIG_FRAME of one VM as KVM emulates it (SEMANTICS.md §3.6; S4 = Linux
/// arch/arm64/kvm/vgic/vgic-irs-v5.c): one function per register, each citing KVM's rule. Accesses are
/// 32-bit to 32-bit registers, and 64-bit or 32-bit (either half) to 64-bit registers (KVM VGIC_ACCESS_*);
/// anything else — another size, a misaligned or unknown offset, a value wider than the access, a write to a
/// read-only register or one KVM ignores — is refused with the reason and changes nothing. A hostile guest can
/// write anything: nothing here throws once the frame is built.
/// <para>Simplification: KVM's IRS is "ALWAYS idle" — every operation completes within the access — so no
/// STATUSR ever reads IDLE=0 and nothing here is asynchronous.</para>
/// </summary>
public sealed class IrsFrame
{
    /// <summary>IDR0.PA_RANGE: KVM copies the host's ID_AA64MMFR0_EL1.PARange (S4); Fabric has no host and reports
    /// 0b0101 (48-bit PA) as a model choice, not a value read in a source.</summary>
    public const int GuestPaRange = 0b0101;
    /// <summary>IIDR: KVM's IMPLEMENTER_ARM 0x43b and PRODUCT_ID_KVM 0x4b ('K'), as in arch/arm64/kvm/vgic/vgic.h (S4).</summary>
    public const int KvmImplementer = 0x43b;
    public const int KvmProductId = 0x4b;
    /// <summary>IDR0.INT_DOM / SPI_DOMAINR.DOMAIN: the guest sees the Non-secure domain (Linux GICV5_IRS_IDR0_INT_DOM_NON_SECURE).</summary>
    public const int NonSecureDomain = 0b01;

    // KVM's IRS_CR1 write keeps these fields and no others (vgic_v5_mmio_write_irs_misc): VMT_WA and VPET_WA are dropped.
    private static readonly ulong Cr1Writable =
        IrsRegisters.Cr1Sh.Mask | IrsRegisters.Cr1Oc.Mask | IrsRegisters.Cr1Ic.Mask | IrsRegisters.Cr1IstRa.Mask |
        IrsRegisters.Cr1IstWa.Mask | IrsRegisters.Cr1VmtRa.Mask | IrsRegisters.Cr1VpetRa.Mask | IrsRegisters.Cr1VmdRa.Mask |
        IrsRegisters.Cr1VmdWa.Mask | IrsRegisters.Cr1VpedRa.Mask | IrsRegisters.Cr1VpedWa.Mask;

    private readonly ulong[] _idr = new ulong[8];
    private readonly ulong _iidr;
    private readonly HandlingMode[] _triggerModes;
    private ulong _cr1;
    private uint _spiSelr;
    private uint _peSelr;
    private ulong _istBaser;
    private ulong _istCfgr;

    public IrsFrameConfig Config { get; }
    /// <summary>IRS_CR0.IRSEN (KVM: vgic->enabled).</summary>
    public bool Enabled { get; private set; }
    /// <summary>The guest's LPI IST, present while IRS_IST_BASER.VALID is 1.</summary>
    public Ist? LpiIst { get; private set; }
    /// <summary>VPE_ID_BITS of this VM's VMTE, sized from its largest vcpu_id; IDR1.IAFFID_BITS is this minus one (S4, S6).</summary>
    public int VpeIdBits => Vcpus.VpeIdBits;
    /// <summary>The VM's vCPUs by id: which IAFFIDs name one (IRS_PE_SELR).</summary>
    public VcpuIdMap Vcpus { get; }

    public IrsFrame(IrsFrameConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var error = config.Validate();
        if (error is not null) throw new ArgumentException(error, nameof(config));
        Config = config;
        Vcpus = VcpuIdMap.Of(config.VpeCount, config.VcpuIds);
        _triggerModes = new HandlingMode[config.SpiCount];       // KVM's default config is edge (S4 comment on SPI_CFGR)
        _spiSelr = (uint)IrsRegisters.SpiSelrId.Max;              // KVM resets SELRs to -1: nothing selected (S4 irs_init)
        _peSelr = (uint)IrsRegisters.PeSelrIaffid.Max;
        _iidr = IrsRegisters.IidrImplementer.Deposit(IrsRegisters.IidrProductId.Deposit(0, KvmProductId), KvmImplementer);
        _idr[0] = Idr0Value();
        _idr[1] = Idr1Value();
        _idr[2] = Idr2Value();
        _idr[5] = IrsRegisters.Idr5SpiRange.Deposit(0, (ulong)config.SpiCount);
        _idr[6] = IrsRegisters.Idr6SpiIrsRange.Deposit(0, (ulong)config.SpiCount);
        _idr[7] = IrsRegisters.Idr7SpiBase.Deposit(0, 0);
    }

    /// <summary>IDR0 describes a Non-secure, non-virtualising IRS: no VIRT, 1ofN, SETLPI, MEC, MPAM, SWE; IRSID 0 (S4 irs_init).</summary>
    private static ulong Idr0Value() =>
        IrsRegisters.Idr0PaRange.Deposit(IrsRegisters.Idr0IntDom.Deposit(0, NonSecureDomain), GuestPaRange);

    /// <summary>IDR1: PE_CNT = vCPUs, IAFFID_BITS = VPE_ID_BITS - 1, PRI_BITS = priority bits - 1 (S4 read_irs_misc).</summary>
    private ulong Idr1Value()
    {
        ulong v = IrsRegisters.Idr1PeCnt.Deposit(0, (ulong)Config.VpeCount);
        v = IrsRegisters.Idr1IaffidBits.Deposit(v, (ulong)(VpeIdBits - 1));
        return IrsRegisters.Idr1PriBits.Deposit(v, (ulong)(Config.PriorityBits - 1));
    }

    /// <summary>IDR2: ID_BITS, LPI=1, MIN_LPI_ID_BITS; IST_LEVELS=0, IST_L2SZ=0, ISTMD=0, ISTMD_SZ=0 — guests get linear
    /// ISTs without metadata "to simplify save/restore" (S4 irs_init).</summary>
    private ulong Idr2Value()
    {
        ulong v = IrsRegisters.Idr2IdBits.Deposit(0, (ulong)Config.IdBits);
        v = IrsRegisters.Idr2Lpi.Set(v, true);
        return IrsRegisters.Idr2MinLpiIdBits.Deposit(v, (ulong)Config.MinLpiIdBits);
    }

    /// <summary>The trigger mode the guest gave <paramref name="spi"/> via IRS_SPI_SELR + IRS_SPI_CFGR.TM (Edge until then).</summary>
    public HandlingMode TriggerMode(uint spi) =>
        spi < (uint)_triggerModes.Length
            ? _triggerModes[spi]
            : throw new ArgumentOutOfRangeException(nameof(spi), $"spi:{spi} is out of range: this VM has {_triggerModes.Length} SPIs");

    /// <summary>Every register's full-width value as a read would return it, by architectural name — the register half
    /// of KVM_DEV_ARM_VGIC_GRP_IRS_REGS (SEMANTICS.md §4). Reading has no side effect.</summary>
    public IReadOnlyDictionary<string, ulong> Snapshot() =>
        IrsRegisters.All.ToDictionary(r => r.Name, ReadRegister);

    // ---- The bus --------------------------------------------------------------------------------------

    /// <summary>A guest load of <paramref name="sizeBytes"/> bytes at <paramref name="offset"/> in the CONFIG_FRAME.</summary>
    public MmioResult Read(ulong offset, int sizeBytes)
    {
        var why = Decode(offset, sizeBytes, out var register, out var upperHalf);
        if (why is not null) return MmioResult.Refused("read " + why);
        var value = ReadRegister(register);
        return MmioResult.Read(Slice(value, sizeBytes, upperHalf));
    }

    /// <summary>A guest store of <paramref name="value"/> (<paramref name="sizeBytes"/> bytes) at <paramref name="offset"/>.</summary>
    public MmioResult Write(ulong offset, ulong value, int sizeBytes)
    {
        var why = Decode(offset, sizeBytes, out var register, out var upperHalf);
        if (why is not null) return MmioResult.Refused("write " + why);
        if (sizeBytes == 4 && value > uint.MaxValue)
            return MmioResult.Refused($"write of 0x{value:X} to {register.Name}: the value does not fit a 32-bit access");
        if (register.Access == RegisterAccess.ReadOnly)
            return MmioResult.Refused($"write to {register.Name}: the register is read-only");
        var full = register.Width == 64 && sizeBytes == 4
            ? Merge(ReadRegister(register), value, upperHalf)
            : value;
        return WriteRegister(register, full);
    }

    /// <summary>Finds the register an access names, or says why the access is malformed.</summary>
    private static string? Decode(ulong offset, int sizeBytes, out IrsRegister register, out bool upperHalf)
    {
        register = null!;
        upperHalf = false;
        if (sizeBytes is not (4 or 8)) return $"of {sizeBytes} bytes at 0x{offset:X}: the IRS frame takes 4- or 8-byte accesses only";
        if (offset >= IrsRegisters.FrameSize) return $"at 0x{offset:X}: outside the 64 KiB CONFIG_FRAME";
        if (offset % (ulong)sizeBytes != 0) return $"of {sizeBytes} bytes at 0x{offset:X}: misaligned (must be {sizeBytes}-byte aligned)";
        if (!IrsRegisters.TryFindCovering(offset, out register)) return $"at 0x{offset:X}: no IRS register there";
        upperHalf = offset != register.Offset;
        if (sizeBytes == 8 && register.Width == 32) return $"of 8 bytes at 0x{offset:X}: {register.Name} is a 32-bit register";
        return null;
    }

    private static ulong Slice(ulong value, int sizeBytes, bool upperHalf) =>
        sizeBytes == 8 ? value : upperHalf ? value >> 32 : value & uint.MaxValue;

    private static ulong Merge(ulong current, ulong half, bool upperHalf) =>
        upperHalf ? (current & uint.MaxValue) | (half << 32) : (current & ~(ulong)uint.MaxValue) | half;

    // ---- Reads: one rule per register (S4 vgic_v5_mmio_read_irs_*) ------------------------------------

    private ulong ReadRegister(IrsRegister register) => register.Id switch
    {
        IrsRegisterId.Idr0 => _idr[0],
        IrsRegisterId.Idr1 => _idr[1],
        IrsRegisterId.Idr2 => _idr[2],
        IrsRegisterId.Idr5 => _idr[5],
        IrsRegisterId.Idr6 => _idr[6],
        IrsRegisterId.Idr7 => _idr[7],
        IrsRegisterId.Iidr => _iidr,
        IrsRegisterId.Cr0 => ReadCr0(),
        IrsRegisterId.Cr1 => _cr1,
        IrsRegisterId.SyncStatusr => IrsRegisters.SyncStatusrIdle.Mask,
        IrsRegisterId.SpiSelr => _spiSelr,
        IrsRegisterId.SpiDomainr => IrsRegisters.SpiDomainrDomain.Deposit(0, NonSecureDomain),
        IrsRegisterId.SpiCfgr => ReadSpiCfgr(),
        IrsRegisterId.SpiStatusr => ReadSpiStatusr(),
        IrsRegisterId.PeSelr => _peSelr,
        IrsRegisterId.PeStatusr => ReadPeStatusr(),
        IrsRegisterId.PeCr0 => ReadPeCr0(),
        IrsRegisterId.IstBaser => _istBaser,
        IrsRegisterId.IstCfgr => _istCfgr,
        IrsRegisterId.IstStatusr => IrsRegisters.IstStatusrIdle.Mask,
        IrsRegisterId.Aidr => Aidr,
        >= IrsRegisterId.Devarch => CoreSightId(register.Id),
        // IDR3/IDR4 (virtualisation IDs) read as zero; every other register — SYNCR, SPI_VMR, SPI_RESAMPLER,
        // MAP_L2_ISTR, the VM/VPE block, MEC, MPAM, SWERR — is RAZ to a guest (S4).
        _ => 0,
    };

    /// <summary>AIDR: COMPONENT_IRS | ARCH_MAJ_REV_V5 | ARCH_MIN_REV_V0 (vgic_v5_mmio_read_irs_misc; Linux arm-gic-v5.h:
    /// GICV5_AIDR_COMPONENT_IRS 0b00, GICV5_AIDR_ARCH_MAJ_REV_V5 0, GICV5_AIDR_ARCH_MIN_REV_V0 0). Every field is 0: the
    /// register reads 0, as a GICv5.0 IRS.</summary>
    public const int AidrComponentIrs = 0b00, AidrArchMajRevV5 = 0, AidrArchMinRevV0 = 0;
    public static readonly ulong Aidr =
        IrsRegisters.AidrComponent.Deposit(IrsRegisters.AidrArchMajorRev.Deposit(IrsRegisters.AidrArchMinorRev.Deposit(0, AidrArchMinRevV0), AidrArchMajRevV5), AidrComponentIrs);

    /// <summary>DEVARCH: ARCHITECT 0x23b (Arm), PRESENT, ARCHID 0x5a19 — GICV5_CORESIGHT_DEVARCH_VAL.</summary>
    public static readonly ulong Devarch =
        IrsRegisters.DevarchArchitect.Deposit(IrsRegisters.DevarchPresent.Set(IrsRegisters.DevarchArchId.Deposit(0, 0x5a19), true), 0x23b);

    /// <summary>The CoreSight identification registers at the top of the CONFIG_FRAME, read-only, as KVM's
    /// vgic_v5_coresight_read returns them (Linux arm-gic-v5.h GICV5_CORESIGHT_*_VAL): PIDR0-4 = 0x4b, 0xb0, 0x0b, 0x00,
    /// 0x04 (part 0xb4b, JEP106 Arm), PIDR5-7 RES0, CIDR0-3 = 0x0d, 0xf0, 0x05, 0xb1 (the CoreSight preamble). A guest write
    /// is refused as to any read-only register (KVM: write-ignored); a restore of one is ignored, as KVM's.</summary>
    private static ulong CoreSightId(IrsRegisterId id) => id switch
    {
        IrsRegisterId.Devarch => Devarch,
        IrsRegisterId.Pidr0 => 0x4b,
        IrsRegisterId.Pidr1 => 0xb0,
        IrsRegisterId.Pidr2 => 0x0b,
        IrsRegisterId.Pidr3 => 0x00,
        IrsRegisterId.Pidr4 => 0x04,
        IrsRegisterId.Cidr0 => 0x0d,
        IrsRegisterId.Cidr1 => 0xf0,
        IrsRegisterId.Cidr2 => 0x05,
        IrsRegisterId.Cidr3 => 0xb1,
        _ => 0,   // PIDR5-7: RES0
    };

    /// <summary>CR0: IDLE always 1 ("The IRS is ALWAYS idle as we handle things instantaneously"), IRSEN as written (S4).</summary>
    private ulong ReadCr0() => IrsRegisters.Cr0Irsen.Set(IrsRegisters.Cr0Idle.Mask, Enabled);

    /// <summary>SPI_SELR names an SPI of this IRS iff SPI_BASE (0) &lt;= ID &lt; SPI_BASE + SPI_IRS_RANGE (S4 vgic_v5_is_spi_selr_valid).</summary>
    private bool SpiSelrValid => _spiSelr < (uint)Config.SpiCount;

    /// <summary>SPI_CFGR reads the selected SPI's TM; 0 when SELR names no SPI (S4).</summary>
    private ulong ReadSpiCfgr() =>
        SpiSelrValid ? IrsRegisters.SpiCfgrTm.Deposit(0, (ulong)_triggerModes[_spiSelr]) : 0;

    /// <summary>SPI_STATUSR: IDLE=1, V iff SELR names an SPI (S4).</summary>
    private ulong ReadSpiStatusr() => IrsRegisters.SpiStatusrV.Set(IrsRegisters.SpiStatusrIdle.Mask, SpiSelrValid);

    /// <summary>PE_SELR names an existing vCPU: IAFFID == VPE_ID == vcpu_id (S4 kvm_get_vcpu_by_id), ids possibly sparse.</summary>
    private bool PeSelrValid => Vcpus.VpeOf((int)_peSelr) is not null;

    /// <summary>PE_STATUSR: IDLE=1; V and ONLINE iff PE_SELR names an existing vCPU ("We assume that the PE is Online if present", S4).</summary>
    private ulong ReadPeStatusr()
    {
        var v = IrsRegisters.PeStatusrIdle.Mask;
        v = IrsRegisters.PeStatusrV.Set(v, PeSelrValid);
        return IrsRegisters.PeStatusrOnline.Set(v, PeSelrValid);
    }

    /// <summary>PE_CR0: DPS=1 for an existing vCPU (targeted routing only, no 1-of-N), 0 otherwise (S4). QEMU reads RAZ.</summary>
    private ulong ReadPeCr0() => PeSelrValid ? IrsRegisters.PeCr0Dps.Mask : 0;

    // ---- Writes: one rule per register (S4 vgic_v5_mmio_write_irs_*) ----------------------------------

    private MmioResult WriteRegister(IrsRegister register, ulong value) => register.Id switch
    {
        IrsRegisterId.Cr0 => WriteCr0(value),
        IrsRegisterId.Cr1 => WriteCr1(value),
        IrsRegisterId.Syncr => MmioResult.Written(),      // a sync completes at once: the IRS is always idle (S4: WI)
        IrsRegisterId.SpiSelr => WriteSpiSelr(value),
        IrsRegisterId.SpiCfgr => WriteSpiCfgr(value),
        IrsRegisterId.SpiDomainr => MmioResult.Refused("write to IRS_SPI_DOMAINR: a guest's SPIs are all Non-secure; KVM ignores the write"),
        IrsRegisterId.SpiResampler => MmioResult.Refused("write to IRS_SPI_RESAMPLER: KVM does not implement SPI resampling (RAZ/WI)"),
        IrsRegisterId.PeSelr => WritePeSelr(value),
        IrsRegisterId.PeCr0 => WritePeCr0(value),
        IrsRegisterId.IstBaser => WriteIstBaser(value),
        IrsRegisterId.IstCfgr => WriteIstCfgr(value),
        IrsRegisterId.MapL2Istr => MmioResult.Refused("write to IRS_MAP_L2_ISTR: a guest's LPI IST is linear (IDR2.IST_LEVELS=0), so there is no L2 table to map (KVM: RAZ/WI)"),
        IrsRegisterId.SpiVmr or IrsRegisterId.VmtBaser or IrsRegisterId.VmtCfgr or IrsRegisterId.VpeSelr or
        IrsRegisterId.VpeDbr or IrsRegisterId.VpeCr0 or IrsRegisterId.VmDbr or IrsRegisterId.VmSelr or
        IrsRegisterId.VmapL2Vmtr or IrsRegisterId.VmapVmr or IrsRegisterId.VmapVistr or IrsRegisterId.VmapL2Vistr or
        IrsRegisterId.VmapVper or IrsRegisterId.SaveVmr =>
            MmioResult.Refused($"write to {register.Name}: VM/VPE registers are RAZ/WI to a guest (KVM supports no nested virtualisation)"),
        _ => MmioResult.Refused($"write to {register.Name}: unimplemented by KVM (RAZ/WI)"),
    };

    /// <summary>CR0.IRSEN write toggles vgic->enabled; an edge makes KVM reload every vCPU (S4). IDLE is read-only.</summary>
    private MmioResult WriteCr0(ulong value)
    {
        var on = IrsRegisters.Cr0Irsen.Flag(value);
        if (on == Enabled) return MmioResult.Written();
        Enabled = on;
        return MmioResult.Written(new IrsFrameEffect.IrsEnabledChanged(on));
    }

    /// <summary>CR1: KVM keeps the cacheability/shareability fields it tracks, dropping VMT_WA and VPET_WA (S4).</summary>
    private MmioResult WriteCr1(ulong value)
    {
        _cr1 = value & Cr1Writable;
        return MmioResult.Written();
    }

    /// <summary>SPI_SELR keeps whatever ID[23:0] was written, valid or not; STATUSR.V tells which (S4).</summary>
    private MmioResult WriteSpiSelr(ulong value)
    {
        _spiSelr = (uint)IrsRegisters.SpiSelrId.Extract(value);
        return MmioResult.Written();
    }

    /// <summary>SPI_CFGR.TM sets the selected SPI's trigger mode (KVM: irq->config); with SELR naming no SPI the
    /// write is ignored (S4 vgic_v5_mmio_write_irs_spi).</summary>
    private MmioResult WriteSpiCfgr(ulong value)
    {
        if (!SpiSelrValid)
            return MmioResult.Refused($"write to IRS_SPI_CFGR: IRS_SPI_SELR.ID {_spiSelr} names no SPI (this VM has spi:0-{Config.SpiCount - 1}); ignored");
        var mode = (HandlingMode)IrsRegisters.SpiCfgrTm.Extract(value);
        if (_triggerModes[_spiSelr] == mode) return MmioResult.Written();
        _triggerModes[_spiSelr] = mode;
        return MmioResult.Written(new IrsFrameEffect.SpiTriggerModeChanged(_spiSelr, mode));
    }

    /// <summary>PE_SELR keeps whatever IAFFID[15:0] was written; PE_STATUSR.V tells whether it names a vCPU (S4).</summary>
    private MmioResult WritePeSelr(ulong value)
    {
        _peSelr = (uint)IrsRegisters.PeSelrIaffid.Extract(value);
        return MmioResult.Written();
    }

    /// <summary>PE_CR0 is WI: KVM routes targeted only, "the only thing that the guest can correctly write here is 0x1" (S4).
    /// Writing DPS=1 is accepted as a no-op; asking for 1-of-N (DPS=0) is refused.</summary>
    private static MmioResult WritePeCr0(ulong value) =>
        IrsRegisters.PeCr0Dps.Flag(value)
            ? MmioResult.Written()
            : MmioResult.Refused("write to IRS_PE_CR0: DPS=0 asks for 1-of-N routing, which KVM does not support; DPS stays 1");

    /// <summary>IST_CFGR is stored field by field while IST_BASER is invalid, and ignored while it is valid (S4, QEMU).</summary>
    private MmioResult WriteIstCfgr(ulong value)
    {
        if (IrsRegisters.IstBaserValid.Flag(_istBaser))
            return MmioResult.Refused("write to IRS_IST_CFGR: ignored while IRS_IST_BASER.VALID is 1");
        _istCfgr = value & IstConfig.DefinedMask;
        return MmioResult.Written();
    }

    /// <summary>
    /// IST_BASER (S4 vgic_v5_mmio_write_irs_ist): the address cannot change while VALID; 1 -> 0 drops the LPI IST;
    /// 0 -> 1 builds it from IST_CFGR, but only over a CFGR KVM accepts (vgic_v5_ist_cfgr_valid: MIN_LPI_ID_BITS &lt;=
    /// LPI_ID_BITS &lt;= ID_BITS, 4-byte ISTEs as there is no metadata, linear) — otherwise nothing changes.
    /// QEMU instead clamps LPI_ID_BITS into range; Fabric follows KVM.
    /// </summary>
    private MmioResult WriteIstBaser(ulong value)
    {
        var wasValid = IrsRegisters.IstBaserValid.Flag(_istBaser);
        var valid = IrsRegisters.IstBaserValid.Flag(value);
        var stored = value & (IrsRegisters.IstBaserValid.Mask | IrsRegisters.IstBaserAddr.Mask);
        if (wasValid && valid)
        {
            if (stored == _istBaser) return MmioResult.Written();
            return MmioResult.Refused($"write to IRS_IST_BASER: ADDR is read-only while VALID is 1 (current 0x{_istBaser:X}, attempted 0x{stored:X})");
        }
        IrsFrameEffect effect = IrsFrameEffect.None.Instance;
        if (wasValid)
        {
            LpiIst = null;
            effect = IrsFrameEffect.LpiIstDestroyed.Instance;
        }
        else if (valid)
        {
            var why = LpiIstConfigProblem(out var config);
            if (why is not null) return MmioResult.Refused($"write to IRS_IST_BASER: VALID=1 refused, {why}");
            LpiIst = Ist.FromConfig(config);
            effect = new IrsFrameEffect.LpiIstCreated(config.LpiIdBits);
        }
        _istBaser = stored;
        return MmioResult.Written(effect);
    }

    // ---- Userspace restore: KVM_DEV_ARM_VGIC_GRP_IRS_REGS SET (S5; S4 vgic_v5_mmio_uaccess_write_irs) ---------

    /// <summary>IRS_IST_BASER.VALID was restored over a frame that has no LPI IST yet: KVM's lpi_ist_restore_pending.
    /// The LPI IST is built when the ISTs are restored (<see cref="TryRestoreLpiIst"/>), not by the register write (S5).</summary>
    public bool LpiIstRestorePending => IrsRegisters.IstBaserValid.Flag(_istBaser) && LpiIst is null;

    /// <summary>
    /// A userspace write of a saved register value, with KVM's userspace rules rather than the guest's (S4
    /// vgic_v5_mmio_uaccess_write_irs; S5 GRP_IRS_REGS):
    /// <list type="bullet">
    /// <item>IDR0/1/2/5/6/7 are sanity-checked as KVM does, then must equal what this frame presents. Stricter than KVM,
    /// which adopts PA_RANGE, IRSID, PRI_BITS and the ID widths: Fabric builds its IDRs from the VM's configuration.
    /// IDR1.PE_CNT is ignored ("populated from num vcpus").</item>
    /// <item>CR0 sets IRSEN without KVM's vCPU reload: no vCPU has run yet.</item>
    /// <item>IST_CFGR and IST_BASER are only recorded; once the LPI IST exists each is immutable: its current value is
    /// accepted, another refused.</item>
    /// <item>CR1, SPI_SELR and PE_SELR take the guest's write rule; SPI_CFGR is ignored (an SPI's trigger mode is restored
    /// with its ISTE, <see cref="RestoreTriggerMode"/>).</item>
    /// <item>Every other register (IDR3/4, IIDR, AIDR, the STATUSRs, the RAZ/WI ones) ignores the write, as KVM does.</item>
    /// </list>
    /// A refusal (KVM: -EINVAL) changes nothing.
    /// </summary>
    public MmioResult RestoreRegister(IrsRegisterId id, ulong value)
    {
        var register = IrsRegisters.Get(id);
        if (register.Width == 32 && value > uint.MaxValue)
            return MmioResult.Refused($"restore of 0x{value:X} to {register.Name}: the value does not fit the 32-bit register");
        return id switch
        {
            IrsRegisterId.Idr0 => RestoreIdr0(value),
            IrsRegisterId.Idr1 => RestoreIdr1(value),
            IrsRegisterId.Idr2 => RestoreIdr2(value),
            IrsRegisterId.Idr5 or IrsRegisterId.Idr6 or IrsRegisterId.Idr7 => MustEqual(register, value, ReadRegister(register)),
            IrsRegisterId.Cr0 => RestoreCr0(value),
            IrsRegisterId.Cr1 or IrsRegisterId.SpiSelr or IrsRegisterId.PeSelr => WriteRegister(register, value),
            IrsRegisterId.IstCfgr => RestoreIstCfgr(value),
            IrsRegisterId.IstBaser => RestoreIstBaser(value),
            _ => MmioResult.Written(),
        };
    }

    /// <summary>IDR0: INT_DOM must be Non-secure, and VIRT, ONE_N, VIRT_ONE_N, SETLPI, MEC, MPAM, SWE clear (S4).</summary>
    private MmioResult RestoreIdr0(ulong value)
    {
        if (IrsRegisters.Idr0IntDom.Extract(value) != NonSecureDomain)
            return MmioResult.Refused($"restore of IRS_IDR0 0x{value:X}: INT_DOM {IrsRegisters.Idr0IntDom.Extract(value)} is not the Non-secure domain ({NonSecureDomain})");
        Field[] absent = [IrsRegisters.Idr0Virt, IrsRegisters.Idr0OneN, IrsRegisters.Idr0VirtOneN, IrsRegisters.Idr0Setlpi,
            IrsRegisters.Idr0Mec, IrsRegisters.Idr0Mpam, IrsRegisters.Idr0Swe];
        foreach (var f in absent)
            if (f.Flag(value)) return MmioResult.Refused($"restore of IRS_IDR0 0x{value:X}: {f.Name}=1, a feature KVM's guest IRS does not have");
        return MustEqual(IrsRegisters.Idr0, value, _idr[0]);
    }

    /// <summary>IDR1: PE_CNT ignored; IAFFID_BITS must be this VM's VPE_ID_BITS - 1; PRI_BITS at most the host's (S4).</summary>
    private MmioResult RestoreIdr1(ulong value)
    {
        var iaffidBits = IrsRegisters.Idr1IaffidBits.Extract(value);
        if (iaffidBits != (ulong)(VpeIdBits - 1))
            return MmioResult.Refused($"restore of IRS_IDR1 0x{value:X}: IAFFID_BITS {iaffidBits} is not this VM's VPE_ID_BITS - 1 = {VpeIdBits - 1}");
        if (IrsRegisters.Idr1PriBits.Extract(value) > Priority.Bits - 1)
            return MmioResult.Refused($"restore of IRS_IDR1 0x{value:X}: PRI_BITS {IrsRegisters.Idr1PriBits.Extract(value)} exceeds the {Priority.Bits} priority bits implemented ({Priority.Bits - 1})");
        return MustEqual(IrsRegisters.Idr1, value, _idr[1], ignore: IrsRegisters.Idr1PeCnt.Mask);
    }

    /// <summary>IDR2: LPI=1; no IST_LEVELS, ISTMD or ISTMD_SZ (linear guest ISTs without metadata); ID_BITS at most the
    /// host's; MIN_LPI_ID_BITS at least the host's and at most ID_BITS (S4).</summary>
    private MmioResult RestoreIdr2(ulong value)
    {
        string? why = null;
        var idBits = IrsRegisters.Idr2IdBits.Extract(value);
        var minLpi = IrsRegisters.Idr2MinLpiIdBits.Extract(value);
        if (!IrsRegisters.Idr2Lpi.Flag(value)) why = "LPI=0, but a guest IRS always supports LPIs";
        else if (IrsRegisters.Idr2IstLevels.Flag(value)) why = "IST_LEVELS=1, but a guest LPI IST is linear";
        else if (IrsRegisters.Idr2Istmd.Flag(value) || IrsRegisters.Idr2IstmdSz.Extract(value) != 0) why = "ISTMD/ISTMD_SZ set, but guest ISTs have no metadata";
        else if (idBits > IntId.IdBits) why = $"ID_BITS {idBits} exceeds the {IntId.IdBits} the host supports";
        else if (minLpi < (ulong)Config.MinLpiIdBits) why = $"MIN_LPI_ID_BITS {minLpi} is below the host's {Config.MinLpiIdBits}";
        else if (minLpi > idBits) why = $"MIN_LPI_ID_BITS {minLpi} exceeds ID_BITS {idBits}";
        return why is not null ? MmioResult.Refused($"restore of IRS_IDR2 0x{value:X}: {why}") : MustEqual(IrsRegisters.Idr2, value, _idr[2]);
    }

    /// <summary>Fabric's IDRs are fixed when the VM is built: a restored value must equal the frame's, bar <paramref name="ignore"/>.</summary>
    private static MmioResult MustEqual(IrsRegister register, ulong value, ulong current, ulong ignore = 0)
    {
        var differ = (value ^ current) & ~ignore;
        if (differ == 0) return MmioResult.Written();
        var fields = register.Fields.Where(f => (f.Mask & differ) != 0).Select(f => f.Name).DefaultIfEmpty("RES0 bits");
        return MmioResult.Refused($"restore of {register.Name} 0x{value:X}: differs from this VM's 0x{current:X} in {string.Join(", ", fields)} " +
                                  "(the VM's configuration fixes it: build the VM with the source's SPI count, vCPU count and ids, and priority bits)");
    }

    /// <summary>CR0: vgic->enabled := IRSEN, nothing else (S4 uaccess); IDLE is read-only.</summary>
    private MmioResult RestoreCr0(ulong value)
    {
        Enabled = IrsRegisters.Cr0Irsen.Flag(value);
        return MmioResult.Written();
    }

    /// <summary>IST_CFGR: recorded; immutable once the LPI IST exists (S5 "same value accepted, different -EINVAL").</summary>
    private MmioResult RestoreIstCfgr(ulong value)
    {
        var stored = value & IstConfig.DefinedMask;
        if (LpiIst is not null && stored != _istCfgr)
            return MmioResult.Refused($"restore of IRS_IST_CFGR 0x{stored:X}: immutable once the LPI IST exists (current 0x{_istCfgr:X})");
        _istCfgr = stored;
        return MmioResult.Written();
    }

    /// <summary>IST_BASER: recorded, no LPI IST built (lpi_ist_restore_pending); immutable once the LPI IST exists (S5).</summary>
    private MmioResult RestoreIstBaser(ulong value)
    {
        var stored = value & (IrsRegisters.IstBaserValid.Mask | IrsRegisters.IstBaserAddr.Mask);
        if (LpiIst is not null && stored != _istBaser)
            return MmioResult.Refused($"restore of IRS_IST_BASER 0x{stored:X}: immutable once the LPI IST exists (current 0x{_istBaser:X})");
        _istBaser = stored;
        return MmioResult.Written();
    }

    /// <summary>The LPI half of a GRP_IST restore (S6 vgic_v5_lpi_ist_alloc, vgic_v5_restore_lpi_ist): builds the LPI IST
    /// the restored IST_CFGR/IST_BASER describe and loads <paramref name="entries"/> (one 32-bit ISTE per LPI, already
    /// sanitised by the caller) into it. Refused, changing nothing, unless a restore is pending, over an IST_CFGR KVM
    /// would not accept from a guest, or with entries the IST refuses.</summary>
    public bool TryRestoreLpiIst(ReadOnlySpan<byte> entries, out string error)
    {
        if (!LpiIstRestorePending)
        {
            error = LpiIst is not null ? "the LPI IST already exists" : "IRS_IST_BASER.VALID is 0: no LPI IST is described";
            return false;
        }
        var why = LpiIstConfigProblem(out var config);
        if (why is not null) { error = $"the restored {why}"; return false; }
        var ist = Ist.FromConfig(config);
        if (!ist.TryRestoreEntries(entries, out error)) return false;
        LpiIst = ist;
        return true;
    }

    /// <summary>KVM restores an SPI's irq->config — which IRS_SPI_CFGR.TM reads — from its ISTE (S6
    /// vgic_v5_restore_spi_config); Fabric's restore sets it from the saved trigger mode.</summary>
    public void RestoreTriggerMode(uint spi, HandlingMode tm)
    {
        if (spi >= (uint)_triggerModes.Length)
            throw new ArgumentOutOfRangeException(nameof(spi), $"spi:{spi} is out of range: this VM has {_triggerModes.Length} SPIs");
        _triggerModes[spi] = tm;
    }

    /// <summary>Why the current IST_CFGR cannot back a guest LPI IST, or null (S4 vgic_v5_ist_cfgr_valid with ISTMD=0, IST_LEVELS=0).</summary>
    private string? LpiIstConfigProblem(out IstConfig config)
    {
        config = default;
        var idBits = (int)IstConfig.LpiIdBitsField.Extract(_istCfgr);
        if (idBits < Config.MinLpiIdBits || idBits > Config.IdBits)
            return $"IRS_IST_CFGR.LPI_ID_BITS {idBits} is outside MIN_LPI_ID_BITS..ID_BITS ({Config.MinLpiIdBits}..{Config.IdBits})";
        if (IstConfig.IstSzField.Extract(_istCfgr) != (ulong)IsteSize.Bytes4)
            return $"IRS_IST_CFGR.ISTSZ {IstConfig.IstSzField.Extract(_istCfgr)} is not 0: without metadata (IDR2.ISTMD=0) ISTEs are 4 bytes";
        if (IstConfig.StructureField.Flag(_istCfgr))
            return "IRS_IST_CFGR.STRUCTURE is two-level but IDR2.IST_LEVELS=0: a guest IST is linear";
        config = IstConfig.LinearOf(idBits);
        return null;
    }
}
