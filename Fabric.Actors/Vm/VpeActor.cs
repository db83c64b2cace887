using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using static Fabric.Actors.Protocols.CpuInterfaceProtocol;
using static Fabric.Actors.Protocols.ResidencyProtocol;

namespace Fabric.Actors.Vm;

/// <summary>What a VpeActor owns and keeps across a restart: the CPU interface, and the vCPU whose CDIA awaits the
/// IRS's confirmation (an activation must reach the vCPU that asked, or the interrupt would stay active forever).</summary>
public sealed class VpeState(VirtualCpuInterface cpu) : UnitState
{
    public VirtualCpuInterface Cpu { get; } = cpu;
    public IActorRef? Acking { get; set; }
}

/// <summary>
/// One VPE and its virtual CPU interface: residency, PPIs, APR and running priority, PCR, the HPPI the IRS
/// offered, the doorbell request and db_fired. It asserts its vCPU's virtual IRQ while resident, and rings the
/// doorbell while not. Every rule is a call into <see cref="CpuInterfaceRules"/>.
/// </summary>
public sealed class VpeActor : VmUnitActor
{
    private readonly VpeState _state;
    private readonly VirtualCpuInterface _cpu;
    private readonly VmTopology _vm;
    private readonly FabricPolicies _policies;
    private readonly EventLog _log;

    public VpeActor(VpeState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _cpu = state.Cpu;
        _vm = vm;
        _policies = policies;
        _log = log;
    }

    public static Props Props(VpeState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new VpeActor(a.state, a.vm, a.policies, a.log));

    protected override UnitState Unit => _state;

    private int Vpe => _cpu.VpeId;
    private IActorRef Vcpu => _vm.Vcpus[Vpe];

    /// <summary>A restart keeps the CPU interface and a CDIA in progress; the vCPU is told again if its IRQ is asserted.</summary>
    protected override void PostRestart(Exception reason) => Evaluate();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Offer m:
                _cpu.Offered = m.Hppi;
                Evaluate();
                break;
            case Cdia:
                Acknowledge();
                break;
            case IrsProtocol.Activated m:
                CpuInterfaceRules.CompleteAck(_cpu, m.Priority);
                Answer(m.Id);
                break;
            case IrsProtocol.ActivateRefused:
                Answer(null);
                break;
            case IrsProtocol.Refused:
                break;
            case Cdeoi:
                if (CpuInterfaceRules.PriorityDrop(_cpu) is { } dropped)
                    _log.Log(Ev.Eoi, _vm.VmId, Vpe, null, dropped.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Evaluate();
                break;
            case SetPriorityMask m:
                if (!Priority.TryCreate(m.Mask, out var pcr, out var error)) { Sender.Tell(new IrsProtocol.Refused("ICC_PCR_EL1", error)); return; }
                _cpu.Pcr = pcr;
                Evaluate();
                break;
            case PpiOp m:
                Ppi(m);
                break;
            case IrsEnabled m:
                _cpu.IrsEnabled = m.Enabled;
                break;
            case MakeResident:
                if (_cpu.Resident) return;
                CpuInterfaceRules.MakeResident(_cpu);
                _log.Log(Ev.Resident, _vm.VmId, Vpe);
                Evaluate();
                break;
            case MakeNonResident m:
                if (!_cpu.Resident) return;
                var dbpm = m.Wfi ? CpuInterfaceRules.DoorbellPriorityMask(_cpu) : null;
                CpuInterfaceRules.MakeNonResident(_cpu, dbpm);
                _log.Log(Ev.Nonresident, _vm.VmId, Vpe, null, dbpm is { } d ? "db:" + d : "nodb");
                Evaluate();
                break;
            case DirectedProtocol.ReadEntry m:
                Sender.Tell(m.Id.IsPpi ? new DirectedProtocol.EntryRead(m.Id, _cpu.Ppis[m.Id.Id], null)
                    : new DirectedProtocol.EntryRead(m.Id, default, $"{m.Id} is not a PPI: the IRS holds it"));
                break;
            case DirectedProtocol.ReadCpu:
                Sender.Tell(new DirectedProtocol.CpuRead(Vpe, _cpu.Resident, _cpu.Doorbell.Armed, _cpu.Doorbell.Dbpm.Value, _cpu.DbFired,
                    _cpu.RunningPriority, _cpu.Apr, _cpu.Pcr.Value));
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/vpe-{Vpe}: crash requested");
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>After any change: a resident VPE asserts its vCPU's IRQ when its HPPI signals; a non-resident one
    /// rings its doorbell when the doorbell rule says so.</summary>
    private void Evaluate()
    {
        if (_cpu.Resident)
        {
            if (_state.Acking is null && CpuInterfaceRules.IrqAsserted(_cpu)) Vcpu.Tell(IrqAsserted.Instance);
            return;
        }
        if (CpuInterfaceRules.TryRaiseDoorbell(_cpu, _policies.Dbpm))
        {
            _log.Log(Ev.Doorbell, _vm.VmId, Vpe, _cpu.Offered?.Id, _cpu.Doorbell.Dbpm.ToString());
            _vm.Scheduler.Tell(new Doorbell(Vpe));
        }
        else if (CpuInterfaceRules.PpiKicks(_cpu)) _vm.Scheduler.Tell(new Kick(Vpe));
    }

    private void Acknowledge()
    {
        if (_state.Acking is not null) { Sender.Tell(new CdiaResult(null)); return; }
        var choice = CpuInterfaceRules.ChooseAck(_cpu);
        switch (choice.Source)
        {
            case AckSource.Ppi:
                _log.Log(Ev.Ack, _vm.VmId, Vpe, choice.Interrupt.Id, _cpu.Ppis[choice.Interrupt.Id.Id].HandlingMode == HandlingMode.Edge ? "edge" : "level");
                Sender.Tell(new CdiaResult(choice.Interrupt.Id));
                break;
            case AckSource.Irs:
                _state.Acking = Sender;
                _vm.Virs.Tell(new IrsProtocol.Activate(choice.Interrupt.Id, Vpe,
                    new CdiaView(CpuInterfaceRules.EffectiveMask(_cpu), CpuInterfaceRules.BestPpi(_cpu))));
                break;
            default:
                Sender.Tell(new CdiaResult(null));
                break;
        }
    }

    private void Answer(IntId? id)
    {
        var to = _state.Acking;
        _state.Acking = null;
        to?.Tell(new CdiaResult(id));
        Evaluate();
    }

    private void Ppi(PpiOp m)
    {
        if (!m.Id.IsPpi) { Sender.Tell(new IrsProtocol.Refused("PPI", $"{m.Id} is not a PPI")); return; }
        Transition t;
        switch (m.Operation)
        {
            case PpiOperation.Pend: t = CpuInterfaceRules.ApplyPpi(_cpu, m.Id, e => InterruptStateMachine.SetPending(e, m.Value != 0)); break;
            case PpiOperation.Enable: t = CpuInterfaceRules.ApplyPpi(_cpu, m.Id, e => InterruptStateMachine.SetEnabled(e, m.Value != 0)); break;
            case PpiOperation.Priority:
                if (!Priority.TryCreate(m.Value, out var p, out var error)) { Sender.Tell(new IrsProtocol.Refused("CDPRI", $"CDPRI {m.Id}: {error}")); return; }
                t = CpuInterfaceRules.ApplyPpi(_cpu, m.Id, e => InterruptStateMachine.SetPriority(e, p));
                break;
            default: t = CpuInterfaceRules.ApplyPpi(_cpu, m.Id, InterruptStateMachine.Deactivate); break;
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
        if (ev is { } e) _log.Log(e, _vm.VmId, Vpe, m.Id, e == Ev.Priority ? m.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
        Evaluate();
    }
}
