using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Reference;

/// <summary>Counters every fabric keeps (DESIGN.md §5 report).</summary>
public sealed class FabricCounters
{
    public long Injected, Coalesced, Pended, Acknowledged, Deactivated, Notified, Doorbells, ResidencyChanges, Refused;

    public FabricCounters Clone() => (FabricCounters)MemberwiseClone();

    public override string ToString() =>
        $"injected={Injected} coalesced={Coalesced} pended={Pended} acked={Acknowledged} deactivated={Deactivated} notified={Notified} doorbells={Doorbells} residency={ResidencyChanges} refused={Refused}";
}

/// <summary>
/// One VM, sequentially: the same Fabric.Hardware units the actors own (VirtualIrs, one VirtualCpuInterface per VPE,
/// the SpiApList), composed with direct calls where the actors exchange messages. The oracle for the actor fabric.
/// </summary>
public sealed class VmModel
{
    public VmModel(int vmId, VirtualIrsConfig config, FabricPolicies policies)
        : this(vmId, policies, new VirtualIrs(config with { VirtualLevel = policies.VirtualLevel }),
               Enumerable.Range(0, config.VpeCount).Select(v => new VirtualCpuInterface(v)).ToArray(),
               new SpiApList(config.SpiCount, policies.Notify, policies.Kvm))
    {
        Irs.EnableIrs();   // the guest's boot: IRS_CR0.IRSEN = 1 (nothing is offered before)
        foreach (var c in Cpus) CpuInterfaceRules.GuestEnable(c, Priority.Lowest).IrsEnabled = true;   // and its CPU interfaces: PCR, ICC_CR0_EL1.EN = 1
    }

    /// <summary>A VM assembled from units that already hold state — e.g. those a restore built (Fabric.Hardware.Migration) —
    /// taken as they are: nothing is reset and the IRS is not re-enabled. The units must fit each other and the policies.</summary>
    public VmModel(int vmId, FabricPolicies policies, VirtualIrs irs, IReadOnlyList<VirtualCpuInterface> cpus, SpiApList apList)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentNullException.ThrowIfNull(irs);
        ArgumentNullException.ThrowIfNull(cpus);
        ArgumentNullException.ThrowIfNull(apList);
        if (cpus.Count != irs.Config.VpeCount || cpus.Where((c, i) => c.VpeId != i).Any())
            throw new ArgumentException($"the IRS has VPEs 0..{irs.Config.VpeCount - 1}; the CPU interfaces must be those, in order", nameof(cpus));
        if (apList.SpiCount != irs.Config.SpiCount)
            throw new ArgumentException($"the AP list covers {apList.SpiCount} SPIs, the IRS {irs.Config.SpiCount}", nameof(apList));
        if (apList.Notify != policies.Notify || apList.Design != policies.Kvm || irs.Config.VirtualLevel != policies.VirtualLevel)
            throw new ArgumentException("the AP list's notify policy and KVM design, and the IRS's virtual-level policy, must be the VM's", nameof(policies));
        VmId = vmId;
        Policies = policies;
        Irs = irs;
        Cpus = cpus.ToArray();
        ApList = apList;
        NotifiedPerSpi = new long[irs.Config.SpiCount];
    }

    public int VmId { get; }
    public FabricPolicies Policies { get; }
    public VirtualIrs Irs { get; }
    public VirtualCpuInterface[] Cpus { get; }
    public SpiApList ApList { get; }
    public FabricCounters Counters { get; } = new();
    public long[] NotifiedPerSpi { get; }

    /// <summary>A device (irqfd) drives an SPI's line: KVM's injection, then the VDPEND it issues.</summary>
    public string? Inject(uint spi, bool level)
    {
        if (ApList.Validate(spi) is { } error) return Refuse(error);
        if (level) Counters.Injected++;
        var (inj, _) = ApList.Inject(spi, level);
        if (inj.Vdpend is not { } pending) return null;
        Changed(Irs.Vdpend(IntId.Spi(spi), pending), byKvm: true);
        return null;
    }

    /// <summary>The guest configures an SPI's trigger mode (IRS_SPI_CFGR.TM): the IRS and KVM both record it.</summary>
    public string? ConfigureSpi(uint spi, HandlingMode tm) => Mmio(Irs.ConfigureSpiTrigger(spi, tm));

    /// <summary>A guest store to the IRS frame (a hostile one included): refused accesses change nothing.</summary>
    public string? MmioWrite(ulong offset, ulong value, int sizeBytes) => Mmio(Irs.MmioWrite(offset, value, sizeBytes));

    private string? Mmio(MmioOutcome o)
    {
        if (!o.Ok) return Refuse(o.Access.Refusal!);
        if (o.Trigger is { } t) ApList.Configure(t.Spi, t.Mode);
        if (o.Access.Effect is IrsFrameEffect.IrsEnabledChanged e)
            foreach (var c in Cpus) c.IrsEnabled = e.Enabled;   // KVM reloads every vCPU (KVM_REQ_RELOAD_GICv5)
        Offer(o.Offers);
        return null;
    }

    /// <summary>A guest CD* operation on an IRS interrupt (CDEN, CDDIS, CDPRI, CDAFF, CDPEND, CDHM).</summary>
    public string? Guest(Func<VirtualIrs, IrsOutcome> op)
    {
        var o = op(Irs);
        if (!o.Ok) return Refuse(o.Error!);
        Changed(o, byKvm: false);
        return null;
    }

    /// <summary>After a pending-state change: count it, forward offers, and report an SPI that went idle unconsumed —
    /// always when KVM's own VDPEND(0) did it (KVM issued it and sees its result), only under push when the guest did.</summary>
    private void Changed(IrsOutcome o, bool byKvm)
    {
        Count(o);
        AfterIrs(o);
        if (o.RetiredSpi) Report(o.Id.Id, deactivated: false, byKvm);
    }

    /// <summary>GIC CDIA on <paramref name="vpe"/>: the acknowledged INTID, or null (spurious).</summary>
    public IntId? Cdia(int vpe)
    {
        if (BadVpe("CDIA", vpe)) return null;
        var c = Cpus[vpe];
        var choice = CpuInterfaceRules.ChooseAck(c);
        switch (choice.Source)
        {
            case AckSource.Ppi:
                Counters.Acknowledged++;
                return choice.Interrupt.Id;
            case AckSource.Irs:
                var o = Irs.Activate(choice.Interrupt.Id, vpe);
                AfterIrs(o);
                if (!o.Has(IstEffect.Activated)) return null;
                CpuInterfaceRules.CompleteAck(c, o.Transition.Entry.Priority);
                Counters.Acknowledged++;
                return o.Id;
            default:
                return null;
        }
    }

    /// <summary>GIC CDEOI on <paramref name="vpe"/>.</summary>
    public int? Cdeoi(int vpe) => BadVpe("CDEOI", vpe) ? null : CpuInterfaceRules.PriorityDrop(Cpus[vpe]);

    /// <summary>GIC CDDI: PPIs deactivate in the CPU interface, SPIs/LPIs in the IRS (then push tracking reports it).</summary>
    public string? Cddi(int vpe, IntId id)
    {
        if (BadVpe("CDDI", vpe)) return $"CDDI from VPE {vpe}: no such VPE";
        if (id.IsPpi)
        {
            var t = CpuInterfaceRules.ApplyPpi(Cpus[vpe], id, InterruptStateMachine.Deactivate);
            if (t.Has(IstEffect.Deactivated)) Counters.Deactivated++;
            return null;
        }
        var o = Irs.Deactivate(id);
        if (!o.Ok) return Refuse(o.Error!);
        AfterIrs(o);
        if (!o.Has(IstEffect.Deactivated)) return null;
        Counters.Deactivated++;
        if (id.IsSpi) Report(id.Id, deactivated: true, byKvm: false);
        return null;
    }

    /// <summary>vgic_v5_load: make the VPE resident (a residency change when it was not).</summary>
    public void Load(int vpe)
    {
        if (BadVpe("load", vpe) || Cpus[vpe].Resident) return;
        CpuInterfaceRules.MakeResident(Cpus[vpe]);
        Counters.ResidencyChanges++;
    }

    /// <summary>vgic_v5_put: non-resident; in WFI with a doorbell request at the effective mask − 1. Then
    /// kvm_vgic_sync_hwstate: under fold tracking, the fold of the whole AP list.</summary>
    public void Put(int vpe, bool wfi)
    {
        if (BadVpe("put", vpe)) return;
        var c = Cpus[vpe];
        if (!c.Resident) return;
        CpuInterfaceRules.MakeNonResident(c, wfi ? CpuInterfaceRules.DoorbellPriorityMask(c) : null);
        Counters.ResidencyChanges++;
        Doorbell(vpe);
        Exit();
    }

    /// <summary>A vCPU exit that is not a put (a trap): kvm_vgic_sync_hwstate folds under fold tracking (the seed's design only).</summary>
    public void Exit()
    {
        if (!KvmDesignRules.Folds(Policies)) return;
        foreach (var spi in ApList.Entries.ToArray())
        {
            var step = ApList.Fold(spi, Irs.Vdrcfg(IntId.Spi(spi)), ApList.LastSent(spi));
            if (step.Notify) Notified(spi);
        }
    }

    /// <summary>The IRS reports a tracked SPI's end to the AP list: under push every end; under fold only the retire of
    /// KVM's own VDPEND(0) (the rest the fold finds); under the merged design nothing is tracked, so nothing notifies.</summary>
    private void Report(uint spi, bool deactivated, bool byKvm)
    {
        if (!KvmDesignRules.ReportsEnd(Policies, deactivated, byKvm)) return;
        var step = ApList.Pushed(spi, Irs.Vdrcfg(IntId.Spi(spi)), deactivated, ApList.LastSent(spi));
        if (step.Notify) Notified(spi);
    }

    private void Notified(uint spi)
    {
        Counters.Notified++;
        NotifiedPerSpi[spi]++;
    }

    private void AfterIrs(IrsOutcome o) => Offer(o.Offers());

    private void Offer(IEnumerable<OfferChange> changes)
    {
        foreach (var change in changes)
        {
            Cpus[change.Vpe].Offered = change.Hppi;
            Doorbell(change.Vpe);
        }
    }

    private void Doorbell(int vpe)
    {
        if (CpuInterfaceRules.TryRaiseDoorbell(Cpus[vpe], Policies.Dbpm)) Counters.Doorbells++;
    }

    private void Count(IrsOutcome o)
    {
        if (o.Has(IstEffect.Coalesced)) Counters.Coalesced++;
        if (o.Has(IstEffect.Pended)) Counters.Pended++;
    }

    /// <summary>An operation naming a VPE this VM does not have is refused (counted) and changes nothing (I8).</summary>
    private bool BadVpe(string operation, int vpe)
    {
        if (vpe >= 0 && vpe < Cpus.Length) return false;
        Refuse($"{operation} on VPE {vpe}: this VM has VPEs 0..{Cpus.Length - 1}");
        return true;
    }

    private string Refuse(string error)
    {
        Counters.Refused++;
        return error;
    }
}

/// <summary>The whole fabric, sequential: many independent VMs. The oracle for every later issue.</summary>
public sealed class ReferenceFabric
{
    public ReferenceFabric(int vms, VirtualIrsConfig config, FabricPolicies policies) =>
        Vms = Enumerable.Range(0, vms).Select(v => new VmModel(v, config, policies)).ToArray();

    public VmModel[] Vms { get; }

    public VmModel this[int vm] => vm >= 0 && vm < Vms.Length ? Vms[vm] : throw new ArgumentOutOfRangeException(nameof(vm), $"VM {vm} does not exist (0..{Vms.Length - 1})");
}
