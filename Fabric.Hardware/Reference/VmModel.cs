using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;

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
/// One VM, sequentially: the reference interpreter of the protocol (DESIGN.md §6.3). It owns the same units the actors
/// own (the IRS slice, a VPE per vCPU, the AP list), delivers their messages from one FIFO queue until none is left, and
/// drives them with the operations of KVM and the guest, each run to completion. No glue lives here: what a message does
/// is the unit's. The oracle for the actor fabric.
/// </summary>
public sealed class VmModel
{
    /// <summary>The token for this model's caller: what the units reply to it is the operation's result.</summary>
    private static readonly object Caller = new();

    private readonly Queue<(UnitAddress To, object Message, object? Sender)> _queue = new();
    private readonly Effects _fx = new();
    private readonly List<object> _replies = new();
    private readonly List<Effect> _events = new();
    private readonly VmShape _shape;
    private readonly VirtualIrsState _irs;
    private readonly VpeState[] _vpes;
    private readonly ApListState _apList;

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
        Cpus = cpus.ToArray();
        _shape = new VmShape(vmId, Cpus.Length, policies);
        _irs = new VirtualIrsState(irs);
        _vpes = Cpus.Select(c => new VpeState(c)).ToArray();
        _apList = new ApListState(apList);
        NotifiedPerSpi = new long[irs.Config.SpiCount];
    }

    public int VmId { get; }
    public FabricPolicies Policies { get; }
    public VirtualIrs Irs => _irs.Irs;
    public VirtualCpuInterface[] Cpus { get; }
    public SpiApList ApList => _apList.List;
    public FabricCounters Counters { get; } = new();
    public long[] NotifiedPerSpi { get; }

    /// <summary>A device (irqfd) drives an SPI's line: KVM's injection (kvm_set_irq), then the VDPEND it issues.</summary>
    public string? Inject(uint spi, bool level)
    {
        var refused = Run(UnitAddress.ApList, new ApListProtocol.SetIrq(spi, level));
        if (refused is null && level) Counters.Injected++;
        return refused;
    }

    /// <summary>The guest configures an SPI's trigger mode (IRS_SPI_CFGR.TM): the IRS and KVM both record it.</summary>
    public string? ConfigureSpi(uint spi, HandlingMode tm) => Run(UnitAddress.Irs, new IrsProtocol.ConfigureSpi(spi, tm));

    /// <summary>A guest store to the IRS frame (a hostile one included): refused accesses change nothing.</summary>
    public string? MmioWrite(ulong offset, ulong value, int sizeBytes) =>
        Run(UnitAddress.Irs, new IrsProtocol.MmioWrite(offset, value, sizeBytes)) ??
        (Reply<IrsProtocol.MmioDone>() is { Result.Ok: false } done ? Refuse(done.Result.Refusal!) : null);

    /// <summary>A guest CD* operation on an IRS interrupt: <see cref="IrsProtocol.CdEnable"/>, <see cref="IrsProtocol.CdPriority"/>,
    /// <see cref="IrsProtocol.CdAffinity"/>, <see cref="IrsProtocol.CdPend"/>, <see cref="IrsProtocol.CdHandlingMode"/>.</summary>
    public string? Guest(IUnitMessage cdOperation) => Run(UnitAddress.Irs, cdOperation);

    /// <summary>GIC CDIA on <paramref name="vpe"/>: the acknowledged INTID, or null (spurious).</summary>
    public IntId? Cdia(int vpe) =>
        BadVpe("CDIA", vpe) is null && Run(UnitAddress.Vpe(vpe), CpuInterfaceProtocol.Cdia.Instance) is null
            ? Reply<CpuInterfaceProtocol.CdiaResult>()?.Id : null;

    /// <summary>GIC CDEOI on <paramref name="vpe"/>: the priority it dropped (from the VPE's <c>eoi</c> event), or null.</summary>
    public int? Cdeoi(int vpe)
    {
        if (BadVpe("CDEOI", vpe) is not null) return null;
        Run(UnitAddress.Vpe(vpe), CpuInterfaceProtocol.Cdeoi.Instance);
        foreach (var e in _events)
            if (e.Ev == Ev.Eoi) return int.Parse(e.Arg!, System.Globalization.CultureInfo.InvariantCulture);
        return null;
    }

    /// <summary>GIC CDDI: PPIs deactivate in the CPU interface, SPIs/LPIs in the IRS (which reports an SPI's end to KVM).</summary>
    public string? Cddi(int vpe, IntId id) =>
        BadVpe("CDDI", vpe) ?? (id.IsPpi
            ? Run(UnitAddress.Vpe(vpe), new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Deactivate, 0))
            : Run(UnitAddress.Irs, new IrsProtocol.Cddi(id, vpe)));

    /// <summary>vgic_v5_load: make the VPE resident.</summary>
    public void Load(int vpe)
    {
        if (BadVpe("load", vpe) is null) Run(UnitAddress.Vpe(vpe), ResidencyProtocol.MakeResident.Instance);
    }

    /// <summary>vgic_v5_put of a running vCPU: non-resident; in WFI with a doorbell request at the effective mask − 1. Then
    /// kvm_vgic_sync_hwstate (<see cref="Exit"/>).</summary>
    public void Put(int vpe, bool wfi)
    {
        if (BadVpe("put", vpe) is not null || !Cpus[vpe].Resident) return;
        Run(UnitAddress.Vpe(vpe), new ResidencyProtocol.MakeNonResident(wfi));
        Exit();
    }

    /// <summary>A vCPU exit that is not a put (a trap): kvm_vgic_sync_hwstate, where the seed's design folds under fold tracking.</summary>
    public void Exit() => Run(UnitAddress.ApList, new ApListProtocol.VcpuExit(-1));

    /// <summary>Delivers one message to a unit of the VM and everything it causes, in FIFO order: every effect performed on the
    /// way (the messages between units and those that left the VM, the events), in order. What a restore's first run uses
    /// to replay the pending interrupts with VDPEND.</summary>
    public IReadOnlyList<Effect> Deliver(UnitAddress to, IUnitMessage message)
    {
        _trace = new List<Effect>();
        try
        {
            Run(to, message);
            return _trace;
        }
        finally
        {
            _trace = null;
        }
    }

    private List<Effect>? _trace;

    /// <summary>Delivers <paramref name="message"/> and everything it causes, in FIFO order, until nothing is left: the refusal
    /// it earned the caller, if any. Messages to a vCPU's guest or to the host scheduler (an asserted IRQ, a doorbell's
    /// interrupt, a kick) leave the VM: the caller is the guest and the host here, and the events record them.</summary>
    private string? Run(UnitAddress to, object message)
    {
        _replies.Clear();
        _events.Clear();
        _queue.Enqueue((to, message, Caller));
        while (_queue.TryDequeue(out var next))
        {
            _fx.Begin(next.Sender);
            var unit = Unit(next.To) ?? throw new ArgumentException($"{next.To} is not one of this model's units (the IRS slice, the AP list, the VPEs)", nameof(to));
            if (!unit.Handle(next.Message, _shape, _fx))
                throw new InvalidOperationException($"{next.To} does not take {next.Message.GetType().Name}");
            foreach (var e in _fx.Items) Perform(next.To, e);
            _fx.Clear();
        }
        return _replies.OfType<IrsProtocol.Refused>().FirstOrDefault() is { } r ? Refuse(r.Reason) : null;
    }

    /// <summary>This model's wiring: the unit an address names; none for a vCPU's guest or the host scheduler.</summary>
    private IVmUnit? Unit(UnitAddress to) => to.Kind switch
    {
        UnitKind.Irs => _irs,
        UnitKind.ApList => _apList,
        UnitKind.Vpe => _vpes[to.Index],
        _ => null,
    };

    private void Perform(UnitAddress from, in Effect e)
    {
        _trace?.Add(e);
        switch (e.Kind)
        {
            case EffectKind.Send:
                if (Unit(e.To) is not null) _queue.Enqueue((e.To, e.Message!, from));
                break;
            case EffectKind.Tell:
                if (e.Target == Caller) _replies.Add(e.Message!);
                else if (e.Target is UnitAddress unit) _queue.Enqueue((unit, e.Message!, from));
                break;
            default:
                _events.Add(e);
                Count(e);
                break;
        }
    }

    private T? Reply<T>() where T : class => _replies.OfType<T>().FirstOrDefault();

    private void Count(in Effect e)
    {
        switch (e.Ev)
        {
            case Ev.Coalesce: Counters.Coalesced++; break;
            case Ev.Pend: Counters.Pended++; break;
            case Ev.Ack: Counters.Acknowledged++; break;
            case Ev.Deactivate: Counters.Deactivated++; break;
            case Ev.Doorbell: Counters.Doorbells++; break;
            case Ev.Resident or Ev.Nonresident: Counters.ResidencyChanges++; break;
            case Ev.Notify:
                Counters.Notified++;
                NotifiedPerSpi[e.IntId!.Value.Id]++;
                break;
        }
    }

    /// <summary>An operation naming a VPE this VM does not have is refused (counted) and changes nothing (I8).</summary>
    private string? BadVpe(string operation, int vpe) =>
        vpe >= 0 && vpe < Cpus.Length ? null : Refuse($"{operation} on VPE {vpe}: this VM has VPEs 0..{Cpus.Length - 1}");

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
