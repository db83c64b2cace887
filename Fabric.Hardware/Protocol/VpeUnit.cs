using System.Globalization;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>
/// The unit for one VPE and its virtual CPU interface (DESIGN.md §6.3): residency, PPIs, APR and running priority, PCR,
/// the HPPI the IRS offered, the doorbell request and db_fired, and the party whose CDIA awaits the IRS's confirmation
/// (an activation must reach the one that asked, or the interrupt would stay active forever). A resident VPE asserts its
/// vCPU's virtual IRQ; a non-resident one rings its doorbell, or has the host kick its vCPU for a PPI. Every rule is a
/// call into <see cref="CpuInterfaceRules"/>.
/// </summary>
public sealed class VpeState(VirtualCpuInterface cpu) : UnitState, IVmUnit
{
    public VirtualCpuInterface Cpu { get; } = cpu;

    /// <summary>The interpreter's token for whoever issued the CDIA in flight (null: none).</summary>
    public object? Acking { get; set; }

    private int Vpe => Cpu.VpeId;

    /// <summary>After a restart of its interpreter: the vCPU is told again if its IRQ is asserted, the doorbell rung if owed.</summary>
    public void Restarted(VmShape vm, Effects fx) => Evaluate(vm, fx);

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case Offer m:
                Cpu.Offered = m.Hppi;
                Evaluate(vm, fx);
                return true;
            case Cdia:
                Acknowledge(fx);
                return true;
            case IrsProtocol.Activated m:
                CpuInterfaceRules.CompleteAck(Cpu, m.Priority);
                if (m.Next is { } next) Cpu.Offered = next.Hppi;
                Answer(m.Id, vm, fx);
                return true;
            case IrsProtocol.ActivateRefused m:
                if (m.Next is { } now) Cpu.Offered = now.Hppi;
                Answer(null, vm, fx);
                return true;
            case IrsProtocol.Refused:
                return true;
            case Cdeoi:
                if (CpuInterfaceRules.PriorityDrop(Cpu) is { } dropped)
                    fx.Log(Ev.Eoi, Vpe, null, dropped.ToString(CultureInfo.InvariantCulture));
                Evaluate(vm, fx);
                return true;
            case SetPriorityMask m:
                if (!Priority.TryCreate(m.Mask, out var pcr, out var error)) { fx.Reply(new IrsProtocol.Refused("ICC_PCR_EL1", error)); return true; }
                Cpu.Pcr = pcr;
                Evaluate(vm, fx);
                return true;
            case PpiOp m:
                Ppi(m, vm, fx);
                return true;
            case IrsEnabled m:
                Cpu.IrsEnabled = m.Enabled;
                return true;
            case MakeResident m:
                if (Cpu.Resident) return true;
                CpuInterfaceRules.MakeResident(Cpu);
                fx.Log(Ev.Resident, Vpe, null, m.WokenBy switch { Woken.ByKick => FabricEvent.ByKick, Woken.ByDoorbell => FabricEvent.ByDoorbell, _ => null });
                Evaluate(vm, fx);
                return true;
            case MakeNonResident m:
                if (!Cpu.Resident) return true;
                var dbpm = m.Wfi ? CpuInterfaceRules.DoorbellPriorityMask(Cpu) : null;
                CpuInterfaceRules.MakeNonResident(Cpu, dbpm);
                fx.Log(Ev.Nonresident, Vpe, null, dbpm is { } d ? "db:" + d : "nodb");
                Evaluate(vm, fx);
                return true;
            default:
                return false;
        }
    }

    /// <summary>After any change: a resident VPE asserts its vCPU's IRQ when its HPPI signals; a non-resident one
    /// rings its doorbell when the doorbell rule says so, or has its vCPU kicked for a PPI that can signal.</summary>
    private void Evaluate(VmShape vm, Effects fx)
    {
        if (Cpu.Resident)
        {
            if (Acking is null && CpuInterfaceRules.IrqAsserted(Cpu)) fx.Send(UnitAddress.Vcpu(Vpe), IrqAsserted.Instance);
            return;
        }
        if (CpuInterfaceRules.TryRaiseDoorbell(Cpu, vm.Policies.Dbpm))
        {
            fx.Log(Ev.Doorbell, Vpe, Cpu.Offered?.Id, Cpu.Doorbell.Dbpm.ToString());
            fx.Send(UnitAddress.Scheduler, new Doorbell(Vpe));
        }
        else if (CpuInterfaceRules.PpiKicks(Cpu)) fx.Send(UnitAddress.Scheduler, new Kick(Vpe));
    }

    private void Acknowledge(Effects fx)
    {
        if (Acking is not null) { fx.Reply(new CdiaResult(null)); return; }
        var choice = CpuInterfaceRules.ChooseAck(Cpu);
        switch (choice.Source)
        {
            case AckSource.Ppi:
                fx.Log(Ev.Ack, Vpe, choice.Interrupt.Id, Cpu.Ppis[choice.Interrupt.Id].HandlingMode == HandlingMode.Edge ? "edge" : "level");
                fx.Reply(new CdiaResult(choice.Interrupt.Id));
                break;
            case AckSource.Irs when fx.Sender is not null:
                Acking = fx.Sender;
                fx.Send(UnitAddress.Irs, new IrsProtocol.Activate(choice.Interrupt.Id, Vpe,
                    new CdiaView(CpuInterfaceRules.EffectiveMask(Cpu), CpuInterfaceRules.BestPpi(Cpu))));
                break;
            default:
                fx.Reply(new CdiaResult(null));
                break;
        }
    }

    private void Answer(IntId? id, VmShape vm, Effects fx)
    {
        var to = Acking;
        Acking = null;
        if (to is not null) fx.Tell(to, new CdiaResult(id));
        Evaluate(vm, fx);
    }

    private void Ppi(PpiOp m, VmShape vm, Effects fx)
    {
        if (!m.Id.IsPpi) { fx.Reply(new IrsProtocol.Refused("PPI", $"{m.Id} is not a PPI")); return; }
        Transition t;
        switch (m.Operation)
        {
            case PpiOperation.Pend: t = CpuInterfaceRules.ApplyPpi(Cpu, m.Id, e => InterruptStateMachine.SetPending(e, m.Value != 0)); break;
            case PpiOperation.Enable: t = CpuInterfaceRules.ApplyPpi(Cpu, m.Id, e => InterruptStateMachine.SetEnabled(e, m.Value != 0)); break;
            case PpiOperation.Priority:
                if (!Priority.TryCreate(m.Value, out var p, out var error)) { fx.Reply(new IrsProtocol.Refused("CDPRI", $"CDPRI {m.Id}: {error}")); return; }
                t = CpuInterfaceRules.ApplyPpi(Cpu, m.Id, e => InterruptStateMachine.SetPriority(e, p));
                break;
            default: t = CpuInterfaceRules.ApplyPpi(Cpu, m.Id, InterruptStateMachine.Deactivate); break;
        }
        var ev = t.Effects switch
        {
            var f when (f & IstEffect.Pended) != 0 => Ev.Pend,
            var f when (f & IstEffect.Coalesced) != 0 => Ev.Coalesce,
            var f when (f & IstEffect.Unpended) != 0 => Ev.Unpend,
            var f when (f & IstEffect.Enabled) != 0 => Ev.Enable,
            var f when (f & IstEffect.Disabled) != 0 => Ev.Disable,
            var f when (f & IstEffect.Reprioritised) != 0 => Ev.Priority,
            var f when (f & IstEffect.Deactivated) != 0 => Ev.Deactivate,
            _ => (Ev?)null,
        };
        if (ev is { } e) fx.Log(e, Vpe, m.Id, e == Ev.Priority ? m.Value.ToString(CultureInfo.InvariantCulture) : null);
        Evaluate(vm, fx);
    }
}
