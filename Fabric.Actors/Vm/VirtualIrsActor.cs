using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using static Fabric.Actors.Protocols.IrsProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// What a VirtualIrsActor owns: the VM's IRS slice (its ISTs are memory that outlives the actor) and, per SPI, the
/// sequence number of the last VDPEND applied — Fabric's stand-in for the lock under which KVM's VDPEND and fold
/// cannot interleave.
/// </summary>
public sealed class VirtualIrsState(VirtualIrs irs) : UnitState
{
    public VirtualIrs Irs { get; } = irs;
    public long[] AppliedSeq { get; } = new long[irs.Config.SpiCount];
}

/// <summary>
/// This VM's slice of the IRS: executes VDPEND/VDRCFG and the guest's CD* operations on its ISTs, resolves each
/// CDIA's activation, and forwards each VPE its HPPI (the IRS→CPUIF stream as <see cref="CpuInterfaceProtocol.Offer"/>).
/// Every rule is a call into <see cref="VirtualIrs"/>; this actor routes, tells and logs.
/// </summary>
public sealed class VirtualIrsActor : VmUnitActor
{
    private readonly VirtualIrsState _state;
    private readonly VmTopology _vm;
    private readonly FabricPolicies _policies;
    private readonly EventLog _log;

    public VirtualIrsActor(VirtualIrsState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _vm = vm;
        _policies = policies;
        _log = log;
    }

    public static Props Props(VirtualIrsState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new VirtualIrsActor(a.state, a.vm, a.policies, a.log));

    private VirtualIrs Irs => _state.Irs;

    protected override UnitState Unit => _state;

    /// <summary>After a restart the candidate index and offers are rebuilt from the ISTs, and re-sent.</summary>
    protected override void PostRestart(Exception reason)
    {
        Irs.Rebuild();
        for (var v = 0; v < _vm.Vpes.Length; v++) _vm.Vpes[v].Tell(new CpuInterfaceProtocol.Offer(Irs.Offered(v)));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Vdpend m:
                var o = Irs.Vdpend(m.Id, m.Pending);
                if (!o.Ok) { Refuse("VDPEND", o.Error!); return; }
                if (m.Id.IsSpi) _state.AppliedSeq[m.Id.Id] = m.Seq;
                Effects(o);
                if (o.RetiredSpi) Report(m.Id, deactivation: false, byKvm: true);
                break;
            case Vdrcfg m:
                var icsrs = new Icsr[m.Spis.Length];
                var seqs = new long[m.Spis.Length];
                for (var i = 0; i < m.Spis.Length; i++)
                {
                    icsrs[i] = Irs.Vdrcfg(IntId.Spi(m.Spis[i]));
                    seqs[i] = m.Spis[i] < _state.AppliedSeq.Length ? _state.AppliedSeq[m.Spis[i]] : 0;
                }
                Sender.Tell(new VdrcfgResult(m.FoldId, m.Spis, icsrs, seqs));
                break;
            case Activate m:
                var a = Irs.Activate(m.Id, m.Vpe, m.View);
                if (!a.Ok) { Refuse("CDIA", a.Error!); Sender.Tell(new ActivateRefused(m.Id)); return; }
                if (a.Has(IstEffect.Activated))
                {
                    _log.Log(Ev.Ack, _vm.VmId, m.Vpe, a.Id, a.Transition.Entry.HandlingMode == HandlingMode.Edge ? "edge" : "level");
                    Sender.Tell(new Activated(a.Id, a.Transition.Entry.Priority));
                }
                else Sender.Tell(new ActivateRefused(m.Id));
                Offers(a);
                break;
            case Cddi m:
                var d = Irs.Deactivate(m.Id);
                if (!d.Ok) { Refuse("CDDI", d.Error!); return; }
                if (!d.Has(IstEffect.Deactivated)) return;
                _log.Log(Ev.Deactivate, _vm.VmId, m.Vpe, m.Id);
                Offers(d);
                Report(m.Id, deactivation: true, byKvm: false);
                break;
            case ConfigureSpi m:
                var c = Mmio(Irs.ConfigureSpiTrigger(m.Spi, m.TriggerMode));
                if (!c.Ok) Refuse("IRS_SPI_CFGR", c.Access.Refusal!);
                break;
            case MmioWrite m:
                Sender.Tell(new MmioDone(Mmio(Irs.MmioWrite(m.Offset, m.Value, m.SizeBytes)).Access));
                break;
            case MmioRead m:
                Sender.Tell(new MmioDone(Irs.MmioRead(m.Offset, m.SizeBytes)));
                break;
            case CdEnable m: Guest("CDEN", Irs.CdEnable(m.Id, m.On), m.On ? Ev.Enable : Ev.Disable, null); break;
            case CdPriority m: Guest("CDPRI", Irs.CdPriority(m.Id, m.Priority), Ev.Priority, m.Priority.ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
            case CdAffinity m: Guest("CDAFF", Irs.CdAffinity(m.Id, m.Iaffid, m.Irm), Ev.Affinity, m.Iaffid.ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
            case CdHandlingMode m: Guest("CDHM", Irs.CdHandlingMode(m.Id, m.Mode), null, null); break;
            case CdPend m:
                var p = Irs.CdPend(m.Id, m.Pending);
                if (!p.Ok) { Refuse("CDPEND", p.Error!); return; }
                Effects(p);
                if (p.RetiredSpi) Report(m.Id, deactivation: false, byKvm: false);
                break;
            case ProgramAtBoot m:
                foreach (var op in m.Operations) OnReceive(op);
                break;
            case DirectedProtocol.ReadEntry m:
                Sender.Tell(Irs.TryGetEntry(m.Id, out var entry, out var missing)
                    ? new DirectedProtocol.EntryRead(m.Id, entry, null) : new DirectedProtocol.EntryRead(m.Id, default, missing));
                break;
            case Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/virs: crash requested");
            default:
                Unhandled(message);
                break;
        }
    }

    private void Guest(string operation, IrsOutcome o, Ev? ev, string? arg)
    {
        if (!o.Ok) { Refuse(operation, o.Error!); return; }
        if (ev is { } e && o.Effects != IstEffect.None) _log.Log(e, _vm.VmId, e == Ev.Affinity ? Irs.VpeOf(o.Transition.Entry) : null, o.Id, arg);
        Offers(o);
    }

    /// <summary>What a frame access did beyond its register: a trigger mode KVM must record, and offer changes.</summary>
    private MmioOutcome Mmio(MmioOutcome o)
    {
        if (o.Trigger is { } t) _vm.ApList.Tell(new ApListProtocol.SpiConfigured(t.Spi, t.Mode));
        if (o.Access.Effect is IrsFrameEffect.IrsEnabledChanged e)
            foreach (var vpe in _vm.Vpes) vpe.Tell(new CpuInterfaceProtocol.IrsEnabled(e.Enabled));
        foreach (var change in o.Offers) Offer(change);
        return o;
    }

    private void Effects(IrsOutcome o)
    {
        var vpe = Irs.VpeOf(o.Transition.Entry);
        if (o.Has(IstEffect.Pended)) _log.Log(Ev.Pend, _vm.VmId, vpe, o.Id);
        else if (o.Has(IstEffect.Coalesced)) _log.Log(Ev.Coalesce, _vm.VmId, vpe, o.Id);
        else if (o.Has(IstEffect.Unpended)) _log.Log(Ev.Unpend, _vm.VmId, vpe, o.Id);
        Offers(o);
    }

    /// <summary>The outcome's (up to two) offer changes, read from its fields: <see cref="IrsOutcome.Offers"/> is an
    /// iterator, whose state machine (a copy of the outcome, about 170 bytes) would be allocated per operation.</summary>
    private void Offers(IrsOutcome o)
    {
        if (o.First is { } first) Offer(first);
        if (o.Second is { } second) Offer(second);
    }

    private void Offer(OfferChange change)
    {
        _log.Log(Ev.Offer, _vm.VmId, change.Vpe, change.Hppi?.Id, change.Hppi?.Priority.ToString());
        _vm.Vpes[change.Vpe].Tell(new CpuInterfaceProtocol.Offer(change.Hppi));
    }

    /// <summary>Tell the AP list how a tracked SPI ended (deactivated, or idle without being consumed): under push every
    /// end; under fold only the retire caused by KVM's own VDPEND(0), whose result KVM sees (the rest the fold finds);
    /// under the merged design only a deactivation, for the device's own completion path (<see cref="KvmDesignRules.ReportsEnd"/>).</summary>
    private void Report(IntId id, bool deactivation, bool byKvm)
    {
        if (!id.IsSpi || !KvmDesignRules.ReportsEnd(_policies, deactivation, byKvm)) return;
        _vm.ApList.Tell(new ApListProtocol.Deactivated(id.Id, Irs.Vdrcfg(id), deactivation, _state.AppliedSeq[id.Id]));
    }

    private void Refuse(string operation, string reason)
    {
        if (!Sender.IsNobody()) Sender.Tell(new Refused(operation, reason));
    }
}
