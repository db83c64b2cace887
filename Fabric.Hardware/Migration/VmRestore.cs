using System.Buffers.Binary;
using System.Collections.Immutable;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Protocol;
using Fabric.Hardware.Reference;

namespace Fabric.Hardware.Migration;

/// <summary>The buffers of a GRP_IST SET (struct kvm_vgic_v5_ist, S5): one little-endian 32-bit ISTE per interrupt, in
/// INTID order. Null or empty stands for address and size 0: no buffer.</summary>
public sealed record IstBuffers(byte[]? Spi, byte[]? Lpi);

/// <summary>A restored VM's units, ready to be owned by fresh actors (or a <see cref="VmModel"/>).</summary>
public sealed record RestoredVm(VirtualIrs Irs, ImmutableArray<VirtualCpuInterface> Cpus, SpiApList ApList, FabricPolicies Policies)
{
    /// <summary>The restored VM as a sequential model, to drive it as the reference does.</summary>
    public VmModel ToModel(int vmId) => new(vmId, Policies, Irs, Cpus, ApList);
}

/// <summary>The first run of a restored VM: the pending interrupts replayed with VDPEND, the offers that made and the
/// doorbells they raised, and the VM — or why it cannot run.</summary>
public sealed record RunOutcome(KvmStatus Status, ImmutableArray<IntId> Replayed, ImmutableArray<OfferChange> Offers,
    ImmutableArray<int> Doorbells, RestoredVm? Vm)
{
    public bool Ok => Status.Ok;

    public static RunOutcome Refused(KvmStatus status) => new(status, [], [], [], null);
}

/// <summary>
/// Restoring a VM into a newly built one, as KVM's UAPI does it (SEMANTICS.md §4 "Documented ordering", "Errors"; S5
/// "IRS Restore Sequence"): (a) create the vCPUs — this constructor; (b) <see cref="SetIrsAddress"/>; (c)
/// <see cref="SetSpiCount"/>; (d) <see cref="Init"/>, which builds the SPI IST; (e) <see cref="SetIrsRegister"/>, in any
/// order; (f) <see cref="SetIsts"/>; the vCPUs' <see cref="SetCpuSysreg"/>; Fabric's <see cref="SetKvmBookkeeping"/>;
/// then <see cref="Run"/>, the first run, which replays the pending interrupts the IST restore cleared and ends the restore.
/// <para>Each call returns 0 or KVM's -errno with the reason, and a refused call changes nothing. The call a VMM would
/// make is named in each message. <see cref="Prepare"/> makes all of them from a <see cref="VmState"/>.</para>
/// </summary>
public sealed class VmRestore
{
    /// <summary>KVM's default when NR_IRQS is not set (S5).</summary>
    public const int DefaultSpiCount = 32;
    /// <summary>The IRS region (CONFIG_FRAME + SETLPI_FRAME) and its alignment (S5 KVM_VGIC_V5_ADDR_TYPE_IRS).</summary>
    public const ulong IrsRegionBytes = 0x2_0000, IrsAlignment = 0x1_0000;
    /// <summary>The guest physical address width: IDR0.PA_RANGE 0b0101 is 48 bits (<see cref="IrsFrame.GuestPaRange"/>).</summary>
    public const int GuestPaBits = 48;

    private const string AddrAttr = "KVM_DEV_ARM_VGIC_GRP_ADDR (KVM_VGIC_V5_ADDR_TYPE_IRS)";
    private const string NrIrqsAttr = "KVM_DEV_ARM_VGIC_GRP_NR_IRQS";
    private const string RegsAttr = "KVM_DEV_ARM_VGIC_GRP_IRS_REGS";
    private const string IstAttr = "KVM_DEV_ARM_VGIC_GRP_IST";
    private const string SysregsAttr = "KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS";
    private const string BookkeepingAttr = "KVM bookkeeping (Fabric's section: line levels, latches, AP list, db_fired)";

    private readonly VirtualCpuInterface[] _cpus;
    private readonly HashSet<IrsRegisterId> _restoredRegisters = [];
    private KvmIrq[] _irqs = [];
    private ImmutableArray<uint> _apOrder = [];
    private ImmutableArray<IntId> _pending = [];

    /// <summary>(a) The VM with its vCPUs, at reset, created with their ids (<paramref name="vcpuIds"/>; null: 0..n-1, as
    /// the VMM recreates them with the source's ids: they are not in the saved state, as they are not in KVM's), and the
    /// configuration Fabric fixes when it builds a VM (the policies and the priority bits the IRS implements; a restore
    /// checks that the saved IRS_IDR1 agrees, IAFFID_BITS included).</summary>
    public VmRestore(int vpeCount, FabricPolicies policies, int priorityBits = Priority.Bits, IReadOnlyList<int>? vcpuIds = null)
    {
        ArgumentNullException.ThrowIfNull(policies);
        if (vpeCount is < 1 or > IrsFrameConfig.MaxVpes) throw new ArgumentOutOfRangeException(nameof(vpeCount), $"a VM has 1..{IrsFrameConfig.MaxVpes} vCPUs, not {vpeCount}");
        if (VcpuIdMap.Problem(vpeCount, vcpuIds) is { } ids) throw new ArgumentException(ids, nameof(vcpuIds));
        VcpuIds = vcpuIds;
        if (priorityBits is < 1 or > Priority.Bits) throw new ArgumentOutOfRangeException(nameof(priorityBits), $"an IRS implements 1..{Priority.Bits} priority bits, not {priorityBits}");
        Policies = policies;
        PriorityBits = priorityBits;
        _cpus = Enumerable.Range(0, vpeCount).Select(v => new VirtualCpuInterface(v)).ToArray();
    }

    public FabricPolicies Policies { get; }
    public int PriorityBits { get; }
    public int VpeCount => _cpus.Length;
    /// <summary>The vCPUs' ids (null: 0..n-1).</summary>
    public IReadOnlyList<int>? VcpuIds { get; }
    public ulong? IrsBase { get; private set; }
    /// <summary>The SPI count set by NR_IRQS, or KVM's default once initialised; null before either.</summary>
    public int? SpiCount { get; private set; }
    /// <summary>The IRS slice, built by <see cref="Init"/>.</summary>
    public VirtualIrs? Irs { get; private set; }
    public bool Initialised => Irs is not null;
    public bool IstsRestored { get; private set; }
    public bool HasRun { get; private set; }
    public IReadOnlyList<VirtualCpuInterface> Cpus => _cpus;
    /// <summary>KVM's per-SPI records as restored so far (empty before <see cref="Init"/>).</summary>
    public IReadOnlyList<KvmIrq> KvmIrqs => _irqs;
    public IReadOnlyList<uint> ApOrder => _apOrder;
    /// <summary>The interrupts whose Pending bit the IST restore cleared, in replay order: SPIs, then LPIs, by INTID.</summary>
    public IReadOnlyList<IntId> PendingReplay => _pending;
    /// <summary>The VM, once it has run.</summary>
    public RestoredVm? Vm { get; private set; }

    /// <summary>(b) KVM_VGIC_V5_ADDR_TYPE_IRS — vgic_check_iorange: set once (-EEXIST), 64 KiB aligned (-EINVAL), the 128 KiB
    /// region within the guest's physical address space (-E2BIG).</summary>
    public KvmStatus SetIrsAddress(ulong gpa)
    {
        if (IrsBase is { } set) return Fail(Errno.EEXIST, $"{AddrAttr}: the IRS base is already 0x{set:X}");
        if (gpa % IrsAlignment != 0) return Fail(Errno.EINVAL, $"{AddrAttr}: 0x{gpa:X} is not 64 KiB aligned");
        if (gpa + IrsRegionBytes < gpa) return Fail(Errno.EINVAL, $"{AddrAttr}: the 128 KiB region at 0x{gpa:X} wraps around");
        if (gpa + IrsRegionBytes > 1UL << GuestPaBits)
            return Fail(Errno.E2BIG, $"{AddrAttr}: the 128 KiB region at 0x{gpa:X} ends beyond the guest's {GuestPaBits}-bit physical address space");
        IrsBase = gpa;
        return KvmStatus.Success;
    }

    /// <summary>(c) NR_IRQS: 32..1024 SPIs in steps of 32 (-EINVAL), once and before initialisation (-EBUSY) — S5,
    /// vgic_set_common_attr.</summary>
    public KvmStatus SetSpiCount(int count)
    {
        if (!VmLimits.IsValidSpiCount(count))
            return Fail(Errno.EINVAL, $"{NrIrqsAttr}: {count} SPIs is not {VmLimits.SpiRule}");
        if (Initialised || SpiCount is not null)
            return Fail(Errno.EBUSY, $"{NrIrqsAttr}: the SPI count is already {SpiCount}{(Initialised ? " and the VGIC initialised" : "")}");
        SpiCount = count;
        return KvmStatus.Success;
    }

    /// <summary>(d) CTRL_INIT: builds the IRS slice and its SPI IST, fixing the SPI range; KVM's default of 32 SPIs when
    /// NR_IRQS was not set. Initialising an initialised VGIC does nothing (vgic_init).</summary>
    public KvmStatus Init()
    {
        if (Initialised) return KvmStatus.Success;
        SpiCount ??= DefaultSpiCount;
        Irs = new VirtualIrs(new VirtualIrsConfig(SpiCount.Value, VpeCount, PriorityBits, Policies.VirtualLevel, VcpuIds));
        _irqs = new KvmIrq[SpiCount.Value];
        return KvmStatus.Success;
    }

    /// <summary>(e) One IRS register, by CONFIG_FRAME offset (S5 GRP_IRS_REGS): -EBUSY before initialisation or after the
    /// first run; -EINVAL for an offset that is not 32-bit aligned or is the upper half of a 64-bit register (they are
    /// accessed whole), and for a value KVM's rules refuse (<see cref="IrsFrame.RestoreRegister"/>); -ENXIO where the
    /// frame has no register.</summary>
    public KvmStatus SetIrsRegister(ulong offset, ulong value)
    {
        if (Busy(RegsAttr) is { } busy) return busy;
        if (offset % 4 != 0) return Fail(Errno.EINVAL, $"{RegsAttr}: offset 0x{offset:X} is not 32-bit aligned");
        if (!IrsRegisters.TryFindCovering(offset, out var register)) return Fail(Errno.ENXIO, $"{RegsAttr}: no IRS register at offset 0x{offset:X}");
        if (register.Offset != offset)
            return Fail(Errno.EINVAL, $"{RegsAttr}: 0x{offset:X} is the upper half of the 64-bit {register.Name}, which is accessed whole at 0x{register.Offset:X}");
        var r = Irs!.Frame.RestoreRegister(register.Id, value);
        if (!r.Ok) return Fail(Errno.EINVAL, $"{RegsAttr}: {r.Refusal}");
        _restoredRegisters.Add(register.Id);
        return KvmStatus.Success;
    }

    /// <summary>
    /// (f) GRP_IST SET (S5, S6 vgic_v5_restore_*_ist). -EBUSY before initialisation, after the first run, or once an LPI
    /// IST exists. Before IRS_IST_CFGR and IRS_IST_BASER are restored no LPI IST is described: an LPI IST buffer then is
    /// -EINVAL, and an SPI-only restore is accepted (the merged selftest, "GICv5 IST restore before IRS state";
    /// SEMANTICS.md §0.1). -EINVAL for a missing SPI
    /// buffer, an SPI buffer of other than nr_spis × 4 bytes, an LPI buffer missing or of other than 2^LPI_ID_BITS × 4
    /// bytes when IST_BASER.VALID, an LPI buffer when not, an IST_CFGR KVM cannot build, or an entry Fabric cannot hold
    /// (<see cref="IstRestoreRules.Problem"/>). Each entry is sanitised (<see cref="IstRestoreRules.Sanitise"/>): its
    /// Pending bit is recorded for <see cref="Run"/>; each SPI's KVM config and latch follow its ISTE
    /// (<see cref="IstRestoreRules.SpiConfig"/>). All or nothing. Restoring the ISTs again while there is no LPI IST
    /// replaces them, and the recorded pending interrupts with them.
    /// </summary>
    public KvmStatus SetIsts(IstBuffers buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        if (Busy(IstAttr) is { } busy) return busy;
        var irs = Irs!;
        var frame = irs.Frame;
        if (irs.Lpis is not null) return Fail(Errno.EBUSY, $"{IstAttr}: an LPI IST already exists (the ISTs were restored)");
        if (buffers.Lpi is { Length: > 0 } && !(_restoredRegisters.Contains(IrsRegisterId.IstCfgr) && _restoredRegisters.Contains(IrsRegisterId.IstBaser)))
            return Fail(Errno.EINVAL, $"{IstAttr}: an LPI IST buffer before IRS_IST_CFGR and IRS_IST_BASER are restored ({RegsAttr}, step e): " +
                                      "no LPI IST is described yet (they say whether the guest has one, and its size)");

        var spiCount = irs.Config.SpiCount;
        if (buffers.Spi is not { Length: > 0 } spi) return Fail(Errno.EINVAL, $"{IstAttr}: the SPI IST buffer is required (spi_ist_addr/spi_ist_size are 0)");
        if (spi.Length != spiCount * Ist.SavedEntryBytes)
            return Fail(Errno.EINVAL, $"{IstAttr}: the SPI IST buffer is {spi.Length} bytes but nr_spis {spiCount} × 4 = {spiCount * Ist.SavedEntryBytes}: too {(spi.Length < spiCount * Ist.SavedEntryBytes ? "short" : "long")}");
        var lpi = buffers.Lpi is { Length: > 0 } l ? l : null;
        var lpiDescribed = frame.LpiIstRestorePending;
        if (!lpiDescribed && lpi is not null)
            return Fail(Errno.EINVAL, $"{IstAttr}: an LPI IST buffer of {lpi.Length} bytes, but IRS_IST_BASER.VALID is 0: no LPI IST is configured (lpi_ist_addr/lpi_ist_size must be 0)");
        if (lpiDescribed)
        {
            var idBits = (int)IstConfig.LpiIdBitsField.Extract(frame.Read(IrsRegisters.IstCfgr.Offset, 4).Value);
            var expected = (long)Ist.SavedEntryBytes << idBits;
            if (lpi is null) return Fail(Errno.EINVAL, $"{IstAttr}: IRS_IST_BASER.VALID is 1, so the LPI IST buffer of BIT({idBits}) × 4 = {expected} bytes is required");
            if (lpi.Length != expected)
                return Fail(Errno.EINVAL, $"{IstAttr}: the LPI IST buffer is {lpi.Length} bytes but BIT(lpi_id_bits {idBits}) × 4 = {expected}: too {(lpi.Length < expected ? "short" : "long")}");
        }

        var pending = new List<IntId>();
        if (Sanitised(spi, IntIdType.Spi, pending, out var spiEntries) is { } spiProblem) return Fail(Errno.EINVAL, $"{IstAttr}: {spiProblem}");
        byte[]? lpiEntries = null;
        if (lpi is not null && Sanitised(lpi, IntIdType.Lpi, pending, out lpiEntries) is { } lpiProblem) return Fail(Errno.EINVAL, $"{IstAttr}: {lpiProblem}");
        if (!Ist.TryRestoreLinear(spiEntries, spiCount, out _, out var error)) return Fail(Errno.EINVAL, $"{IstAttr}: {error}");
        if (lpiEntries is not null && !frame.TryRestoreLpiIst(lpiEntries, out error)) return Fail(Errno.EINVAL, $"{IstAttr}: {error}");

        irs.Spis.RestoreEntries(spiEntries);
        for (var s = 0u; s < (uint)spiCount; s++)
        {
            _irqs[s] = IstRestoreRules.SpiConfig(_irqs[s], IstEntry.ReadLittleEndian(spi.AsSpan((int)s * Ist.SavedEntryBytes)));
            frame.RestoreTriggerMode(s, _irqs[s].Config);
        }
        irs.Rebuild();
        _pending = [.. pending];
        IstsRestored = true;
        return KvmStatus.Success;
    }

    /// <summary>Checks every entry of a saved IST and returns the sanitised copy, recording the pending ones in order.</summary>
    private string? Sanitised(byte[] saved, IntIdType type, List<IntId> pending, out byte[] sanitised)
    {
        sanitised = new byte[saved.Length];
        for (var i = 0; i < saved.Length / Ist.SavedEntryBytes; i++)
        {
            var raw = BinaryPrimitives.ReadUInt32LittleEndian(saved.AsSpan(i * Ist.SavedEntryBytes));
            var id = IntId.Create(type, (uint)i);
            if (IstRestoreRules.Problem(id, raw, Policies.VirtualLevel) is { } problem) return problem;
            var e = new IstEntry(raw);
            if (e.Pending) pending.Add(id);
            IstRestoreRules.Sanitise(e).WriteLittleEndian(sanitised.AsSpan(i * Ist.SavedEntryBytes));
        }
        return null;
    }

    /// <summary>One CPU-interface register of one vCPU (S5 GRP_CPU_SYSREGS, vgic_v5_attr_regs_access): -EINVAL for a vCPU
    /// that does not exist; -EBUSY before initialisation or after the first run; -ENXIO for a register not offered;
    /// -EINVAL for a value the register cannot hold (<see cref="CpuInterfaceSysregs.Problem"/>).</summary>
    public KvmStatus SetCpuSysreg(int vpe, CpuSysreg register, ulong value)
    {
        if (vpe < 0 || vpe >= VpeCount) return Fail(Errno.EINVAL, $"{SysregsAttr}: no vCPU {vpe} (this VM has 0..{VpeCount - 1})");
        if (Busy(SysregsAttr) is { } busy) return busy;
        if (!Enum.IsDefined(register)) return Fail(Errno.ENXIO, $"{SysregsAttr}: register {(int)register} is not one KVM saves or restores");
        var problem = CpuInterfaceSysregs.Write(_cpus[vpe], register, value);
        return problem is null ? KvmStatus.Success : Fail(Errno.EINVAL, $"{SysregsAttr}: vCPU {vpe}: {problem}");
    }

    /// <summary>
    /// Fabric's section, not a KVM attribute: KVM's per-SPI records (irq->config, line_level, pending_latch, on the AP
    /// list), the SPI AP list in list order, and each vCPU's db_fired and doorbell request. KVM rebuilds less — config
    /// and latch from each ISTE, nothing else — and relies on the VMM re-asserting its lines; Fabric carries the rest so
    /// that a level line, a resampler and the deactivation notifier of an in-flight SPI survive the move.
    /// After the ISTs, whose derivation it refines (-EBUSY before, and before initialisation or after the first run);
    /// -EINVAL for counts that do not match the VM, an AP list that is not exactly the SPIs marked on it, or — where
    /// level SPIs are hardware-level — a config that disagrees with the restored ISTE.HM.
    /// </summary>
    public KvmStatus SetKvmBookkeeping(IReadOnlyList<KvmIrq> spis, IReadOnlyList<uint> apList, IReadOnlyList<VpeBookkeeping> vpes)
    {
        ArgumentNullException.ThrowIfNull(spis);
        ArgumentNullException.ThrowIfNull(apList);
        ArgumentNullException.ThrowIfNull(vpes);
        if (Busy(BookkeepingAttr) is { } busy) return busy;
        if (!IstsRestored) return Fail(Errno.EBUSY, $"{BookkeepingAttr}: restore the ISTs ({IstAttr}) first: this refines what the IST restore derived from each ISTE");
        var irs = Irs!;
        if (spis.Count != irs.Config.SpiCount) return Fail(Errno.EINVAL, $"{BookkeepingAttr}: records for {spis.Count} SPIs, but the VM has {irs.Config.SpiCount}");
        if (vpes.Count != VpeCount) return Fail(Errno.EINVAL, $"{BookkeepingAttr}: records for {vpes.Count} vCPUs, but the VM has {VpeCount}");
        if (!SpiApList.TryRestore(Policies.Notify, spis, apList, out _, out var error, Policies.Kvm)) return Fail(Errno.EINVAL, $"{BookkeepingAttr}: {error}");
        if (Policies.VirtualLevel == VirtualLevelPolicy.HardwareLevel)
            for (var s = 0u; s < (uint)spis.Count; s++)
                if (spis[(int)s].Config != irs.Spis[s].HandlingMode)
                    return Fail(Errno.EINVAL, $"{BookkeepingAttr}: spi:{s} has config {spis[(int)s].Config} but its ISTE.HM is {irs.Spis[s].HandlingMode} (virtual-level policy hardware-level keeps them equal)");

        _irqs = [.. spis];
        _apOrder = [.. apList];
        for (var s = 0u; s < (uint)spis.Count; s++) irs.Frame.RestoreTriggerMode(s, spis[(int)s].Config);
        for (var v = 0; v < VpeCount; v++)
        {
            _cpus[v].DbFired = vpes[v].DbFired;
            _cpus[v].Doorbell = vpes[v].Doorbell;
        }
        return KvmStatus.Success;
    }

    /// <summary>
    /// A save (GRP_IST and GRP_IRS_REGS GET, every vCPU's sysregs, KVM's bookkeeping) after a restore and before the first
    /// run: the ISTs as restored, with the Pending bit of every interrupt recorded for replay set again — the merged
    /// selftest saves twice around a restore and compares the ISTs byte for byte (SEMANTICS.md §0.1). -EBUSY before
    /// initialisation or after the first run (then the VM saves as any running VM does, <see cref="VmSave"/>).
    /// </summary>
    public SaveResult SaveBeforeRun(ulong irsBase = VmSave.DefaultIrsBase)
    {
        const string attr = "save before the first KVM_RUN";
        if (Busy(attr) is { } busy) return new SaveResult(null, busy);
        if (!SpiApList.TryRestore(Policies.Notify, _irqs, _apOrder, out var apList, out var error, Policies.Kvm))
            return new SaveResult(null, Fail(Errno.EINVAL, $"{attr}: {error}"));
        var saved = VmSave.Save(Irs!, _cpus, apList, irsBase);
        if (saved.State is not { } state) return saved;
        var spi = state.SpiIst.ToArray();
        var lpi = state.LpiIst.ToArray();
        foreach (var id in _pending)
        {
            var table = id.IsSpi ? spi : lpi;
            var at = table.AsSpan(checked((int)id.Id * Ist.SavedEntryBytes), Ist.SavedEntryBytes);
            IstEntry.ReadLittleEndian(at).WithPending(true).WriteLittleEndian(at);
        }
        return new SaveResult(state with { SpiIst = [.. spi], LpiIst = [.. lpi] }, KvmStatus.Success);
    }

    /// <summary>
    /// The first KVM_RUN: initialises the VGIC if userspace did not (as KVM does), replays every recorded pending
    /// interrupt with VDPEND(id, 1) before any vCPU runs (S6 vgic_v5_restore_pending_irqs), forwards the offers that makes
    /// (raising the doorbell of a VPE that requested one, as the IRS would), and ends the restore: every later restore
    /// call is -EBUSY. -ENXIO without an IRS address (S5: "results in an error"), or — Fabric's rule — while IRS_IST_BASER
    /// describes an LPI IST that GRP_IST never restored; -EBUSY on a second run.
    /// </summary>
    public RunOutcome Run()
    {
        const string attr = "first KVM_RUN";
        if (HasRun) return RunOutcome.Refused(Fail(Errno.EBUSY, $"{attr}: the VM has already run"));
        if (IrsBase is null) return RunOutcome.Refused(Fail(Errno.ENXIO, $"{attr}: the IRS base address was never set ({AddrAttr})"));
        if (Irs is { } built && built.Frame.LpiIstRestorePending)
            return RunOutcome.Refused(Fail(Errno.ENXIO, $"{attr}: IRS_IST_BASER describes an LPI IST that {IstAttr} never restored"));
        Init();
        var irs = Irs!;
        if (!SpiApList.TryRestore(Policies.Notify, _irqs, _apOrder, out var apList, out var error, Policies.Kvm))
            return RunOutcome.Refused(Fail(Errno.EINVAL, $"{attr}: {error}"));

        foreach (var c in _cpus) c.IrsEnabled = irs.Enabled;    // the vCPUs are loaded with the restored IRS_CR0.IRSEN
        // The replay is the protocol's: each VDPEND goes to the restored IRS slice, whose offers go to the restored VPEs.
        var units = new VmModel(0, Policies, irs, _cpus, apList);
        var offers = ImmutableArray.CreateBuilder<OfferChange>();
        var doorbells = ImmutableArray.CreateBuilder<int>();
        foreach (var id in _pending)
        {
            foreach (var e in units.Deliver(UnitAddress.Irs, new IrsProtocol.Vdpend(id, true, 0)))
            {
                if (e is { Kind: EffectKind.Send, Message: CpuInterfaceProtocol.Offer o }) offers.Add(new OfferChange(e.To.Index, o.Hppi));
                else if (e.Message is ResidencyProtocol.Doorbell d) doorbells.Add(d.Vpe);
            }
        }
        HasRun = true;
        Vm = new RestoredVm(irs, [.. _cpus], apList, Policies);
        return new RunOutcome(KvmStatus.Success, _pending, offers.ToImmutable(), doorbells.ToImmutable(), Vm);
    }

    private KvmStatus? Busy(string attr)
    {
        if (!Initialised) return Fail(Errno.EBUSY, $"{attr}: the VGIC is not initialised (KVM_DEV_ARM_VGIC_CTRL_INIT first)");
        if (HasRun) return Fail(Errno.EBUSY, $"{attr}: a vCPU has run; state is restored only before the first run");
        return null;
    }

    private static KvmStatus Fail(Errno errno, string message) => KvmStatus.Fail(errno, message);

    // ---- The whole sequence from a saved state ---------------------------------------------------------

    /// <summary>Builds a VM for <paramref name="state"/> and makes every restore call in KVM's order, (a) to (f), the
    /// vCPUs' registers and the bookkeeping; stops at the first refusal and returns it. The VM has not run: call
    /// <see cref="Run"/>. -EINVAL for a state that is not well formed, was saved under another virtual-level policy, or
    /// holds a register of another width than the frame's.</summary>
    public static KvmStatus Prepare(VmState state, FabricPolicies policies, out VmRestore? restore, IReadOnlyList<int>? vcpuIds = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(policies);
        restore = null;
        if (state.Validate() is { } why) return Fail(Errno.EINVAL, $"the VM state is not well formed: {why}");
        if (state.Shape.VirtualLevel != policies.VirtualLevel)
            return Fail(Errno.EINVAL, $"the VM was saved with virtual-level policy {state.Shape.VirtualLevel}, this VM uses {policies.VirtualLevel}");
        if (VcpuIdMap.Problem(state.Shape.VpeCount, vcpuIds) is { } ids) return Fail(Errno.EINVAL, $"the vCPUs cannot be created: {ids}");
        var r = restore = new VmRestore(state.Shape.VpeCount, policies, state.Shape.PriorityBits, vcpuIds);
        var status = r.SetIrsAddress(state.Shape.IrsBase);
        if (status.Ok) status = r.SetSpiCount(state.Shape.SpiCount);
        if (status.Ok) status = r.Init();
        foreach (var reg in state.IrsRegisters)
        {
            if (!status.Ok) break;
            if (IrsRegisters.TryFindCovering(reg.Offset, out var known) && known.Offset == reg.Offset && known.Width != reg.Width)
                return Fail(Errno.EINVAL, $"{RegsAttr}: {known.Name} was saved as {reg.Width}-bit but is {known.Width}-bit");
            status = r.SetIrsRegister(reg.Offset, reg.Value);
        }
        if (status.Ok) status = r.SetIsts(new IstBuffers(state.SpiIst.ToArray(), state.LpiIst.IsEmpty ? null : state.LpiIst.ToArray()));
        foreach (var vpe in state.Vpes)
            for (var i = 0; i < vpe.Sysregs.Length && status.Ok; i++)
                status = r.SetCpuSysreg(vpe.VpeId, (CpuSysreg)i, vpe.Sysregs[i]);
        if (status.Ok) status = r.SetKvmBookkeeping(state.Spis, state.ApList, [.. state.Vpes.Select(v => v.Kvm)]);
        return status;
    }

    /// <summary><see cref="Prepare"/>, then <see cref="Run"/>: the restored VM, or the first refusal.</summary>
    public static RunOutcome RestoreAndRun(VmState state, FabricPolicies policies, IReadOnlyList<int>? vcpuIds = null)
    {
        var status = Prepare(state, policies, out var restore, vcpuIds);
        return status.Ok ? restore!.Run() : RunOutcome.Refused(status);
    }
}
