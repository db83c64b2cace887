using System.Globalization;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.IrsProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>
/// The unit for one VM's slice of the IRS (DESIGN.md §6.3): its ISTs (memory that outlives any interpreter) and, per SPI,
/// the sequence number of the last VDPEND applied — Fabric's stand-in for the lock under which KVM's VDPEND and fold
/// cannot interleave. <see cref="Handle"/> executes VDPEND/VDRCFG and the guest's CD* operations, resolves each CDIA's
/// activation, and turns every change of a VPE's HPPI into an <see cref="CpuInterfaceProtocol.Offer"/> (the IRS→CPUIF
/// stream). Every rule is a call into <see cref="VirtualIrs"/>; this is the glue, written once.
/// </summary>
public sealed class VirtualIrsState(VirtualIrs irs) : UnitState, IVmUnit
{
    public VirtualIrs Irs { get; } = irs;
    public long[] AppliedSeq { get; } = new long[irs.Config.SpiCount];

    /// <summary>After a restart of its interpreter the candidate index is rebuilt from the ISTs and every VPE is offered its
    /// HPPI again.</summary>
    public void Restarted(VmShape vm, Effects fx)
    {
        Irs.Rebuild();
        for (var v = 0; v < Irs.Config.VpeCount; v++) fx.Send(UnitAddress.Vpe(v), new CpuInterfaceProtocol.Offer(Irs.Offered(v)));
    }

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case Vdpend m:
                var o = Irs.Vdpend(m.Id, m.Pending);
                if (!o.Ok) { fx.Reply(new Refused("VDPEND", o.Error!)); return true; }
                if (m.Id.IsSpi) AppliedSeq[m.Id.Id] = m.Seq;
                Changed(o, fx, FabricEvent.ByVdpend);
                if (o.RetiredSpi) Report(m.Id, deactivation: false, byKvm: true, vm, fx);
                return true;
            case Vdrcfg m:
                var icsrs = new Icsr[m.Spis.Length];
                var seqs = new long[m.Spis.Length];
                for (var i = 0; i < m.Spis.Length; i++)
                {
                    icsrs[i] = Irs.Vdrcfg(IntId.Spi(m.Spis[i]));
                    seqs[i] = m.Spis[i] < AppliedSeq.Length ? AppliedSeq[m.Spis[i]] : 0;
                }
                fx.Reply(new VdrcfgResult(m.FoldId, m.Spis, icsrs, seqs));
                return true;
            case Activate m:
                var a = Irs.Activate(m.Id, m.Vpe, m.View);
                if (!a.Ok) { fx.Reply(new Refused("CDIA", a.Error!)); fx.Reply(new ActivateRefused(m.Id)); return true; }
                var activated = a.Has(IstEffect.Activated);
                if (activated) fx.Log(Ev.Ack, m.Vpe, a.Id, a.Transition.Entry.HandlingMode == HandlingMode.Edge ? "edge" : "level");
                // The acknowledging VPE's own offer change rides with the answer; another VPE's goes as an offer.
                var next = Offers(a, fx, except: m.Vpe);
                fx.Reply(activated ? new Activated(a.Id, a.Transition.Entry.Priority, next) : new ActivateRefused(m.Id, next));
                return true;
            case Cddi m:
                var d = Irs.Deactivate(m.Id);
                if (!d.Ok) { fx.Reply(new Refused("CDDI", d.Error!)); return true; }
                if (!d.Has(IstEffect.Deactivated)) return true;
                fx.Log(Ev.Deactivate, m.Vpe, m.Id);
                Offers(d, fx);
                Report(m.Id, deactivation: true, byKvm: false, vm, fx);
                return true;
            case ConfigureSpi m:
                var c = Mmio(Irs.ConfigureSpiTrigger(m.Spi, m.TriggerMode), fx);
                if (!c.Ok) fx.Reply(new Refused("IRS_SPI_CFGR", c.Access.Refusal!));
                return true;
            case MmioWrite m:
                fx.Reply(new MmioDone(Mmio(Irs.MmioWrite(m.Offset, m.Value, m.SizeBytes), fx).Access));
                return true;
            case MmioRead m:
                fx.Reply(new MmioDone(Irs.MmioRead(m.Offset, m.SizeBytes)));
                return true;
            case CdEnable m: Guest("CDEN", Irs.CdEnable(m.Id, m.On), m.On ? Ev.Enable : Ev.Disable, null, fx); return true;
            case CdPriority m: Guest("CDPRI", Irs.CdPriority(m.Id, m.Priority), Ev.Priority, m.Priority.ToString(CultureInfo.InvariantCulture), fx); return true;
            case CdAffinity m: Guest("CDAFF", Irs.CdAffinity(m.Id, m.Iaffid, m.Irm), Ev.Affinity, m.Iaffid.ToString(CultureInfo.InvariantCulture), fx); return true;
            case CdHandlingMode m: Guest("CDHM", Irs.CdHandlingMode(m.Id, m.Mode), null, null, fx); return true;
            case CdPend m:
                var p = Irs.CdPend(m.Id, m.Pending);
                if (!p.Ok) { fx.Reply(new Refused("CDPEND", p.Error!)); return true; }
                Changed(p, fx, null);
                if (p.RetiredSpi) Report(m.Id, deactivation: false, byKvm: false, vm, fx);
                return true;
            case ProgramAtBoot m:
                foreach (var op in m.Operations) Handle(op, vm, fx);
                return true;
            default:
                return false;
        }
    }

    private void Guest(string operation, IrsOutcome o, Ev? ev, string? arg, Effects fx)
    {
        if (!o.Ok) { fx.Reply(new Refused(operation, o.Error!)); return; }
        // The affinity event names the VPE the new IAFFID routes to (null: no vCPU has that id).
        if (ev is { } e && o.Effects != IstEffect.None) fx.Log(e, e == Ev.Affinity ? Irs.VpeOf(o.Transition.Entry) : null, o.Id, arg);
        Offers(o, fx);
    }

    /// <summary>What a frame access did beyond its register: a trigger mode KVM must record, KVM's reload of every vCPU
    /// when IRSEN changed (KVM_REQ_RELOAD_GICv5), and offer changes.</summary>
    private MmioOutcome Mmio(MmioOutcome o, Effects fx)
    {
        if (o.Trigger is { } t) fx.Send(UnitAddress.ApList, new ApListProtocol.SpiConfigured(t.Spi, t.Mode));
        if (o.Access.Effect is IrsFrameEffect.IrsEnabledChanged e)
            for (var v = 0; v < Irs.Config.VpeCount; v++) fx.Send(UnitAddress.Vpe(v), new CpuInterfaceProtocol.IrsEnabled(e.Enabled));
        foreach (var change in o.Offers) Offer(change, fx);
        return o;
    }

    /// <summary>A pending-state change: logged (pend, coalesce or unpend, on the VPE it targets; a pend KVM's VDPEND made
    /// says so, <paramref name="cause"/>), then its offers.</summary>
    private void Changed(IrsOutcome o, Effects fx, string? cause)
    {
        var vpe = Irs.VpeOf(o.Transition.Entry);
        if (o.Has(IstEffect.Pended)) fx.Log(Ev.Pend, vpe, o.Id, cause);
        else if (o.Has(IstEffect.Coalesced)) fx.Log(Ev.Coalesce, vpe, o.Id);
        else if (o.Has(IstEffect.Unpended)) fx.Log(Ev.Unpend, vpe, o.Id);
        Offers(o, fx);
    }

    /// <summary>The outcome's (up to two) offer changes, read from its fields: <see cref="IrsOutcome.Offers"/> is an
    /// iterator, whose state machine (a copy of the outcome, about 170 bytes) would be allocated per operation.
    /// <para>The change for <paramref name="except"/> (a VPE that is answered anyway, -1: none) is logged but not sent: it
    /// is returned, for the answer to carry.</para></summary>
    private static CpuInterfaceProtocol.Offer? Offers(IrsOutcome o, Effects fx, int except = -1)
    {
        CpuInterfaceProtocol.Offer? kept = null;
        if (o.First is { } first) Offer(first, fx, except, ref kept);
        if (o.Second is { } second) Offer(second, fx, except, ref kept);
        return kept;
    }

    private static void Offer(OfferChange change, Effects fx, int except, ref CpuInterfaceProtocol.Offer? kept)
    {
        fx.Log(Ev.Offer, change.Vpe, change.Hppi?.Id, change.Hppi?.Priority.ToString());
        var offer = new CpuInterfaceProtocol.Offer(change.Hppi);
        if (change.Vpe == except) kept = offer;
        else fx.Send(UnitAddress.Vpe(change.Vpe), offer);
    }

    private static void Offer(OfferChange change, Effects fx)
    {
        CpuInterfaceProtocol.Offer? none = null;
        Offer(change, fx, -1, ref none);
    }

    /// <summary>Tell the AP list how a tracked SPI ended (deactivated, or idle without being consumed): under push every
    /// end; under fold only the retire caused by KVM's own VDPEND(0), whose result KVM sees (the rest the fold finds);
    /// under the merged design only a deactivation, for the device's own completion path (<see cref="KvmDesignRules.ReportsEnd"/>).</summary>
    private void Report(IntId id, bool deactivation, bool byKvm, VmShape vm, Effects fx)
    {
        if (!id.IsSpi || !KvmDesignRules.ReportsEnd(vm.Policies, deactivation, byKvm)) return;
        fx.Send(UnitAddress.ApList, new ApListProtocol.Deactivated(id.Id, Irs.Vdrcfg(id), deactivation, AppliedSeq[id.Id]));
    }
}
