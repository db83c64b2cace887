using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Interrupts;
using static Fabric.Actors.Protocols.CpuInterfaceProtocol;
using static Fabric.Actors.Protocols.ResidencyProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The vCPU thread: runs the guest's handler loop (CDIA → handler → CDEOI → CDDI, until CDIA returns nothing),
/// exits to KVM (where the fold runs), blocks in WFI when idle (a put with a doorbell request) and is loaded
/// again when the host wakes it; is preempted (a put without a doorbell) and resumed by the host scheduler.
/// Holds no interrupt state: the guest's view is what CDIA returns.
/// </summary>
public sealed class VcpuActor : UntypedActor, IWithTimers
{
    private sealed record HandlerDone(IntId Id);
    private sealed record TrapExit
    {
        public static readonly TrapExit Instance = new();
    }
    public sealed record Boot
    {
        public static readonly Boot Instance = new();
    }

    private readonly int _vpe;
    private readonly VmTopology _vm;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private bool _booted, _inWfi, _preempted, _busy;
    /// <summary>An acknowledged interrupt whose handler must finish after the vCPU runs again.</summary>
    private IntId? _deferred;
    private bool _deferredResult;

    public VcpuActor(int vpe, VmTopology vm, VmSpec spec, EventLog log)
    {
        _vpe = vpe;
        _vm = vm;
        _spec = spec;
        _log = log;
    }

    public static Props Props(int vpe, VmTopology vm, VmSpec spec, EventLog log) =>
        Akka.Actor.Props.Create(() => new VcpuActor(vpe, vm, spec, log));

    public ITimerScheduler Timers { get; set; } = null!;

    private IActorRef Vpe => _vm.Vpes[_vpe];
    private bool Running => _booted && !_inWfi && !_preempted;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Boot:
                if (_booted) return;
                _booted = true;
                Vpe.Tell(new SetPriorityMask(_spec.Guest.PriorityMask));
                Vpe.Tell(MakeResident.Instance);
                if (_spec.Vcpu.ExitsPerSecond > 0)
                    Timers.StartPeriodicTimer("exit", TrapExit.Instance, TimeSpan.FromSeconds(1.0 / _spec.Vcpu.ExitsPerSecond));
                break;
            case IrqAsserted:
                if (Running && !_busy) Acknowledge();
                break;
            case CdiaResult m:
                if (!Running) { _deferred = m.Id; _deferredResult = true; return; }
                Handle(m.Id);
                break;
            case HandlerDone m:
                if (!Running) { _deferred = m.Id; _deferredResult = false; return; }
                Finish(m.Id);
                break;
            case TrapExit:
                if (Running) Exit();
                break;
            case Wake:
                if (!_inWfi) return;
                _inWfi = false;
                Load();
                break;
            case Preempt:
                if (!Running) return;
                _preempted = true;
                Vpe.Tell(new MakeNonResident(Wfi: false));
                Exit();
                break;
            case Resume:
                if (!_preempted) return;
                _preempted = false;
                Load();
                break;
            case IrsProtocol.Refused:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Load()
    {
        Vpe.Tell(MakeResident.Instance);
        if (_deferred is { } id || _deferredResult)
        {
            var result = _deferredResult;
            var deferred = _deferred;
            _deferred = null;
            _deferredResult = false;
            if (result) Handle(deferred);
            else if (deferred is { } d) Finish(d);
        }
        else if (!_busy) Acknowledge();
    }

    private void Acknowledge()
    {
        _busy = true;
        Vpe.Tell(Cdia.Instance);
    }

    private void Handle(IntId? id)
    {
        if (id is not { } acked)
        {
            _busy = false;
            if (_spec.Vcpu.WfiWhenIdle) EnterWfi();
            return;
        }
        if (_spec.Guest.HandlerTime > TimeSpan.Zero)
            Timers.StartSingleTimer("handler", new HandlerDone(acked), _spec.Guest.HandlerTime);
        else
            Finish(acked);
    }

    /// <summary>The end of a handler: priority drop, deactivation, and the next CDIA.</summary>
    private void Finish(IntId id)
    {
        Vpe.Tell(Cdeoi.Instance);
        if (id.IsPpi) Vpe.Tell(new PpiOp(id, PpiOperation.Deactivate, 0));
        else _vm.Virs.Tell(new IrsProtocol.Cddi(id, _vpe));
        Vpe.Tell(Cdia.Instance);
    }

    private void EnterWfi()
    {
        _inWfi = true;
        Vpe.Tell(new MakeNonResident(Wfi: true));
        Exit();
    }

    private void Exit()
    {
        _log.Log(Ev.Exit, _vm.VmId, _vpe);
        _vm.ApList.Tell(new ApListProtocol.VcpuExit(_vpe));
    }
}
