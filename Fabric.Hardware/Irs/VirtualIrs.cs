using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Irs;

/// <summary>Size and policies of one VM's slice of the IRS. <paramref name="VcpuIds"/>: each vCPU's id, its IAFFID
/// (null: vCPU n has id n; <see cref="VcpuIdMap"/>).</summary>
public sealed record VirtualIrsConfig(int SpiCount, int VpeCount, int PriorityBits = Priority.Bits,
    VirtualLevelPolicy VirtualLevel = VirtualLevelPolicy.EdgeEmulated, IReadOnlyList<int>? VcpuIds = null)
{
    public const int MinSpis = VmLimits.MinSpis, MaxSpis = VmLimits.MaxSpis;

    /// <summary>KVM's limits (SEMANTICS.md §1 SPI, <see cref="VmLimits"/>): nr_spis 32..1024 in steps of 32; at least one
    /// VPE; IAFFID is 16 bits.</summary>
    public string? Validate()
    {
        if (!VmLimits.IsValidSpiCount(SpiCount)) return $"SPI count {SpiCount} is not {VmLimits.SpiRule}";
        if (VpeCount is < 1 or > IrsFrameConfig.MaxVpes) return $"VPE count {VpeCount} is not 1..{IrsFrameConfig.MaxVpes}";
        if (PriorityBits is < 1 or > Priority.Bits) return $"priority bits {PriorityBits} is not 1..{Priority.Bits}";
        return VcpuIdMap.Problem(VpeCount, VcpuIds);
    }
}

/// <summary>A change of the HPPI the IRS forwards to one VPE (the IRS->CPUIF stream's "set HPPI"; null = none).</summary>
public readonly record struct OfferChange(int Vpe, Hppi? Hppi);

/// <summary>The outcome of a guest MMIO access to the IRS frame: the bus result, the offer changes it caused, and
/// the SPI trigger mode it set (which KVM records too).</summary>
public sealed record MmioOutcome(MmioResult Access, IReadOnlyList<OfferChange> Offers, IrsFrameEffect.SpiTriggerModeChanged? Trigger)
{
    public bool Ok => Access.Ok;
}

/// <summary>What the CPU interface knew when it issued CDIA: its effective priority mask (signal iff priority &lt; mask)
/// and its best pending PPI, so the IRS can acknowledge its current HPPI in place of a stale offer.</summary>
public readonly record struct CdiaView(int Mask, Hppi? BestPpi);

/// <summary>The outcome of one IRS operation: the transition, or why it was refused, and up to two offer changes.</summary>
public readonly record struct IrsOutcome(IntId Id, Transition Transition, string? Error, OfferChange? First, OfferChange? Second)
{
    public bool Ok => Error is null;
    public IstEffect Effects => Transition.Effects;

    /// <summary>An SPI that went idle without being consumed (VDPEND(0) or CDPEND(0) of a pending, inactive SPI).</summary>
    public bool RetiredSpi => Id.IsSpi && Has(IstEffect.Unpended) && Transition.Entry.Idle;
    public bool Has(IstEffect e) => Transition.Has(e);

    public static IrsOutcome Refused(IntId id, string error) => new(id, default, error, null, null);

    public IEnumerable<OfferChange> Offers()
    {
        if (First is { } a) yield return a;
        if (Second is { } b) yield return b;
    }
}

/// <summary>
/// One VM's slice of the IRS (SEMANTICS.md §1–2): its SPI IST and guest LPI IST, the rules that act on them
/// (hypervisor VDPEND/VDRCFG; guest CDPEND, CDEN/CDDIS, CDPRI, CDAFF, CDHM; the IRS side of CDIA and CDDI),
/// and the HPPI it forwards to each VPE. Mutable: owned by exactly one VirtualIrsActor.
/// <para>Model simplification: real hardware recomputes HPPIs asynchronously over the IRS↔CPUIF stream; here each
/// operation returns the resulting offer changes at once, and the actors carry them as messages.</para>
/// <para>The per-VPE candidate index is derived from the ISTs and rebuilt by <see cref="Rebuild"/>: the ISTs are
/// the only state that matters, as memory survives a crash of its owner.</para>
/// </summary>
public sealed class VirtualIrs
{
    private readonly SortedSet<ulong>[] _candidates;
    private readonly Hppi?[] _offered;

    public VirtualIrs(VirtualIrsConfig config)
    {
        var error = config.Validate();
        if (error is not null) throw new ArgumentOutOfRangeException(nameof(config), error);
        Config = config;
        Spis = Ist.Linear(config.SpiCount);
        _candidates = new SortedSet<ulong>[config.VpeCount];
        for (var i = 0; i < _candidates.Length; i++) _candidates[i] = new SortedSet<ulong>();
        _offered = new Hppi?[config.VpeCount];
        Frame = new IrsFrame(new IrsFrameConfig(config.SpiCount, config.VpeCount, config.PriorityBits, VcpuIds: config.VcpuIds));
    }

    public VirtualIrsConfig Config { get; }
    public Ist Spis { get; }
    /// <summary>The guest-visible IRS MMIO CONFIG_FRAME (KVM's emulation, §3.6); it owns the guest's LPI IST.</summary>
    public IrsFrame Frame { get; }
    public Ist? Lpis => Frame.LpiIst;
    /// <summary>The VM's vCPUs by id: the IAFFID of each VPE, and the VPE an IAFFID names.</summary>
    public VcpuIdMap Vcpus => Frame.Vcpus;
    /// <summary>IRS_CR0.IRSEN: a disabled IRS forwards nothing.</summary>
    public bool Enabled => Frame.Enabled;

    /// <summary>A guest load from the IRS frame.</summary>
    public MmioResult MmioRead(ulong offset, int sizeBytes) => Frame.Read(offset, sizeBytes);

    /// <summary>A guest store to the IRS frame, and what it does beyond the register: IRSEN changes every offer;
    /// IRS_SPI_CFGR.TM sets the SPI's trigger mode (and, per the virtual-level policy, its ISTE's HM); a valid
    /// IRS_IST_BASER creates the LPI IST and an invalid one removes it. A refused access changes nothing.</summary>
    public MmioOutcome MmioWrite(ulong offset, ulong value, int sizeBytes)
    {
        var r = Frame.Write(offset, value, sizeBytes);
        switch (r.Effect)
        {
            case IrsFrameEffect.IrsEnabledChanged:
                return new MmioOutcome(r, RefreshAll(), null);
            case IrsFrameEffect.SpiTriggerModeChanged t:
                var hm = t.Mode == HandlingMode.Level && Config.VirtualLevel == VirtualLevelPolicy.HardwareLevel ? HandlingMode.Level : HandlingMode.Edge;
                var o = Apply("IRS_SPI_CFGR", IntId.Spi(t.Spi), hm, static (e, m) => InterruptStateMachine.SetHandlingMode(e, m));
                return new MmioOutcome(r, o.Offers().ToList(), t);
            case IrsFrameEffect.LpiIstCreated or IrsFrameEffect.LpiIstDestroyed:
                Rebuild();
                return new MmioOutcome(r, RefreshAll(), null);
            default:
                return new MmioOutcome(r, [], null);
        }
    }

    /// <summary>The guest's boot writes, as a helper: enable the IRS (IRS_CR0.IRSEN=1).</summary>
    public MmioOutcome EnableIrs(bool on = true) => MmioWrite(IrsRegisters.Cr0.Offset, IrsRegisters.Cr0Irsen.Set(0, on), 4);

    /// <summary>The guest's boot writes, as a helper: make an LPI IST of 2^<paramref name="idBits"/> 4-byte entries valid
    /// (IRS_IST_CFGR, then IRS_IST_BASER.VALID=1 at <paramref name="address"/>).</summary>
    public MmioOutcome ConfigureLpiIst(int idBits, ulong address = 0x8000_0000)
    {
        var cfg = MmioWrite(IrsRegisters.IstCfgr.Offset, IstConfig.LinearOf(idBits).Encode(), 4);
        if (!cfg.Ok) return cfg;
        var baser = IrsRegisters.IstBaserAddr.Deposit(IrsRegisters.IstBaserValid.Set(0, true), address >> 6);
        return MmioWrite(IrsRegisters.IstBaser.Offset, baser, 8);
    }

    /// <summary>The ISTE of <paramref name="id"/>, or why there is none.</summary>
    public bool TryGetEntry(IntId id, out IstEntry entry, out string error)
    {
        entry = default;
        var ist = TableOf(id, out error);
        return ist is not null && ist.TryGet(id.Id, out entry, out error);
    }

    public IstEntry Entry(IntId id) => TryGetEntry(id, out var e, out var error) ? e : throw new ArgumentOutOfRangeException(nameof(id), error);

    private Ist? TableOf(IntId id, out string error)
    {
        error = "";
        switch (id.Type)
        {
            case IntIdType.Spi when id.Id < Config.SpiCount: return Spis;
            case IntIdType.Spi: error = $"{id} is beyond this VM's {Config.SpiCount} SPIs"; return null;
            case IntIdType.Lpi when Lpis is not null: return Lpis;
            case IntIdType.Lpi: error = $"{id}: the guest has no valid LPI IST (IRS_IST_BASER.VALID=0)"; return null;
            default: error = $"{id}: PPIs are held by the CPU interface, not the IRS"; return null;
        }
    }

    /// <summary>The trigger mode the guest configured (IRS_SPI_CFGR.TM) for an SPI.</summary>
    public HandlingMode TriggerMode(uint spi) => Frame.TriggerMode(spi);

    /// <summary>The guest sets an SPI's trigger mode the way it must: IRS_SPI_SELR := spi, then IRS_SPI_CFGR.TM := tm.
    /// KVM records it as irq->config (S4); the virtual ISTE's HM follows the virtual-level policy: HM=Level only under
    /// <see cref="VirtualLevelPolicy.HardwareLevel"/>.</summary>
    public MmioOutcome ConfigureSpiTrigger(uint spi, HandlingMode tm)
    {
        var sel = MmioWrite(IrsRegisters.SpiSelr.Offset, IrsRegisters.SpiSelrId.Deposit(0, Math.Min(spi, (uint)IrsRegisters.SpiSelrId.Max)), 4);
        if (!sel.Ok) return sel;
        if (spi >= Config.SpiCount)
            return new MmioOutcome(MmioResult.Refused($"IRS_SPI_CFGR: spi:{spi} is beyond this VM's {Config.SpiCount} SPIs (SPI_SELR names no SPI)"), [], null);
        return MmioWrite(IrsRegisters.SpiCfgr.Offset, IrsRegisters.SpiCfgrTm.Deposit(0, (ulong)tm), 4);
    }

    /// <summary>GIC VDPEND {ID, TYPE, PENDING, VM} — S2.</summary>
    public IrsOutcome Vdpend(IntId id, bool pending) => Apply("VDPEND", id, pending, static (e, p) => InterruptStateMachine.SetPending(e, p));

    /// <summary>The guest's GIC CDPEND (used for LPIs as IPIs) — same transition as VDPEND.</summary>
    public IrsOutcome CdPend(IntId id, bool pending) => Apply("CDPEND", id, pending, static (e, p) => InterruptStateMachine.SetPending(e, p));

    /// <summary>GIC CDEN / CDDIS.</summary>
    public IrsOutcome CdEnable(IntId id, bool on) => Apply(on ? "CDEN" : "CDDIS", id, on, static (e, enable) => InterruptStateMachine.SetEnabled(e, enable));

    /// <summary>GIC CDPRI: out-of-range priorities are refused; unimplemented low bits ignored.</summary>
    public IrsOutcome CdPriority(IntId id, int priority)
    {
        if (!Priority.TryCreate(priority, out var p, out var error)) return IrsOutcome.Refused(id, $"CDPRI {id}: {error}");
        return Apply("CDPRI", id, (Priority: p, Bits: Config.PriorityBits), static (e, a) => InterruptStateMachine.SetPriority(e, a.Priority, a.Bits));
    }

    /// <summary>GIC CDAFF: targeted routing only (IRM=1 refused: DPS=1 in KVM and QEMU). The IAFFID names the VPE whose
    /// vcpu_id it is (KVM: IAFFID == VPE_ID == vcpu_id, <see cref="VcpuIdMap"/>); one that names no VPE cannot be refused
    /// (the instruction is not trapped) and routes the interrupt nowhere until it is retargeted.</summary>
    public IrsOutcome CdAffinity(IntId id, int iaffid, bool irm = false)
    {
        if (irm) return IrsOutcome.Refused(id, $"CDAFF {id}: IRM=1 (1-of-N routing) is not supported (IRS_VPE_CR0.DPS=1)");
        if (iaffid is < 0 or > ushort.MaxValue) return IrsOutcome.Refused(id, $"CDAFF {id}: IAFFID {iaffid} does not fit the ISTE's 16-bit IAFFID field");
        return Apply("CDAFF", id, (ushort)iaffid, static (e, a) => InterruptStateMachine.SetAffinity(e, a));
    }

    /// <summary>GIC CDHM: the guest's CD* instructions are not trapped, so CDHM sets the handling mode of any IRS interrupt,
    /// an SPI's as an LPI's (QEMU gicv5_set_handling; SEMANTICS.md §0.1). KVM never writes a virtual SPI's ISTE.HM
    /// itself: the guest's IRS_SPI_CFGR.TM write only updates KVM's irq->config (and, under the hardware-level policy,
    /// Fabric's ISTE.HM), so a CDHM on an SPI changes what the IRS does at CDIA, not KVM's bookkeeping.</summary>
    public IrsOutcome CdHandlingMode(IntId id, HandlingMode hm) =>
        Apply("CDHM", id, hm, static (e, m) => InterruptStateMachine.SetHandlingMode(e, m));

    /// <summary>The IRS side of CDIA: activate the interrupt the CPU interface chose for <paramref name="vpe"/>. The IRS
    /// activates only what it presents now as that VPE's HPPI: an offer that went stale meanwhile (disabled,
    /// retargeted, unpended, already active, or overtaken by a higher priority) is refused with no change — the
    /// CPU interface acknowledges what the IRS presents — and the outcome carries the VPE's current offer.
    /// <para>With the CPU interface's view (<paramref name="take"/>: its effective priority mask and its best pending
    /// PPI) the IRS activates its current HPPI instead of refusing, when the CPU interface would have chosen it: it
    /// passes the mask and beats the PPI. That is the hardware's CDIA — it acknowledges what is presented now — and
    /// saves the stale offer's round trip. Without it (null) a stale offer is refused.</para></summary>
    public IrsOutcome Activate(IntId id, int vpe, CdiaView? take = null)
    {
        if (!TryGetEntry(id, out var e, out var error)) return IrsOutcome.Refused(id, $"CDIA {error}");
        if (vpe < 0 || vpe >= Config.VpeCount) return IrsOutcome.Refused(id, $"CDIA from VPE {vpe}: no such VPE");
        if (HppiFor(vpe) is not { } h) return WithOffers(id, new Transition(e, IstEffect.None), vpe, null);
        if (h.Id != id)
        {
            if (take is not { } view || h.Priority.Value >= view.Mask || (view.BestPpi is { } ppi && !h.Beats(ppi)))
                return WithOffers(id, new Transition(e, IstEffect.None), vpe, null);
            id = h.Id;
        }
        return Apply("CDIA", id, InterruptStateMachine.Activate, alsoRefresh: vpe);
    }

    /// <summary>GIC CDDI — S12 gic_cddi_write.</summary>
    public IrsOutcome Deactivate(IntId id) => Apply("CDDI", id, InterruptStateMachine.Deactivate);

    /// <summary>GIC VDRCFG {ID, TYPE}; ISB; read ICC_ICSR_EL1 — S2. F=1 for an interrupt that does not exist.</summary>
    public Icsr Vdrcfg(IntId id) => TryGetEntry(id, out var e, out _) ? Icsr.From(e) : Icsr.Fault;

    private List<OfferChange> RefreshAll()
    {
        var changes = new List<OfferChange>();
        for (var v = 0; v < Config.VpeCount; v++)
            if (Refresh(v) is { } c) changes.Add(c);
        return changes;
    }

    /// <summary>The HPPI the IRS forwards to <paramref name="vpe"/>: its pending, enabled, inactive interrupt of highest
    /// priority (ties: lower INTID).</summary>
    public Hppi? HppiFor(int vpe) => Enabled && _candidates[vpe].Count > 0 ? Hppi.FromKey(_candidates[vpe].Min) : null;

    /// <summary>What was last forwarded to <paramref name="vpe"/>.</summary>
    public Hppi? Offered(int vpe) => _offered[vpe];

    /// <summary>Re-derives the candidate index and offers from the ISTs (after a restart or an IST change).</summary>
    public void Rebuild()
    {
        foreach (var s in _candidates) s.Clear();
        Index(Spis, IntIdType.Spi);
        if (Lpis is not null) Index(Lpis, IntIdType.Lpi);
        for (var v = 0; v < Config.VpeCount; v++) _offered[v] = HppiFor(v);

        void Index(Ist ist, IntIdType type)
        {
            for (uint i = 0; i < ist.Capacity; i++)
                if (ist.TryGet(i, out var e, out _) && InterruptStateMachine.IsCandidate(e) && VpeOf(e) is { } vpe)
                    _candidates[vpe].Add(new Hppi(IntId.Create(type, i), e.Priority).Key);
        }
    }

    /// <summary>Every interrupt that is not idle, for observation and comparison with the reference.</summary>
    public IEnumerable<(IntId Id, IstEntry Entry)> Entries()
    {
        for (uint i = 0; i < Spis.Capacity; i++) yield return (IntId.Spi(i), Spis[i]);
        if (Lpis is null) yield break;
        for (uint i = 0; i < Lpis.Capacity; i++)
            if (Lpis.TryGet(i, out var e, out _)) yield return (IntId.Lpi(i), e);
    }

    private IrsOutcome Apply(string operation, IntId id, Func<IstEntry, Transition> rule, int alsoRefresh = -1) =>
        Apply(operation, id, rule, static (e, r) => r(e), alsoRefresh);

    /// <summary>Applies <paramref name="rule"/> to the ISTE of <paramref name="id"/>, keeps the candidate index, and returns
    /// the offer changes. The rule's operand is passed through (<paramref name="arg"/>) so that each operation's rule is a
    /// static lambda: one that captured it would allocate a closure and a delegate per call, and VDPEND is on every
    /// injection's path.</summary>
    private IrsOutcome Apply<TArg>(string operation, IntId id, TArg arg, Func<IstEntry, TArg, Transition> rule, int alsoRefresh = -1)
    {
        var ist = TableOf(id, out var error);
        if (ist is null || !ist.TryGet(id.Id, out var before, out error)) return IrsOutcome.Refused(id, $"{operation} {error}");
        var t = rule(before, arg);
        if (t.Entry == before) return WithOffers(id, t, alsoRefresh, null);
        ist[id.Id] = t.Entry;
        var wasCandidate = InterruptStateMachine.IsCandidate(before);
        var isCandidate = InterruptStateMachine.IsCandidate(t.Entry);
        // An IAFFID that names no VPE of this VM (a guest's CDAFF cannot be refused by KVM: the instruction is not
        // trapped) routes the interrupt nowhere until it is retargeted: it is in no VPE's candidate set.
        var from = VpeOf(before);
        var to = VpeOf(t.Entry);
        if (wasCandidate && from is { } f) _candidates[f].Remove(new Hppi(id, before.Priority).Key);
        if (isCandidate && to is { } n) _candidates[n].Add(new Hppi(id, t.Entry.Priority).Key);
        var changed = wasCandidate || isCandidate;
        return WithOffers(id, t, changed ? from : alsoRefresh, changed && to != from ? to : null);
    }

    /// <summary>The VPE an ISTE targets — the one whose vcpu_id is its IAFFID — or null when its IAFFID names no VPE of
    /// this VM (routed nowhere).</summary>
    public int? VpeOf(IstEntry e) => Vcpus.VpeOf(e.Iaffid);

    private IrsOutcome WithOffers(IntId id, Transition t, int? vpeA, int? vpeB) =>
        new(id, t, null, vpeA is { } a && a >= 0 ? Refresh(a) : null, vpeB is { } b ? Refresh(b) : null);

    private OfferChange? Refresh(int vpe)
    {
        var now = HppiFor(vpe);
        if (now == _offered[vpe]) return null;
        _offered[vpe] = now;
        return new OfferChange(vpe, now);
    }
}
