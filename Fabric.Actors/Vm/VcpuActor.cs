using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Interrupts;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// What a vCPU thread is doing — the guest's context, kept across a restart of its actor (as a thread's context
/// survives its being rescheduled): booted, in WFI, preempted, inside the handler loop, the interrupt being handled,
/// what it disabled and must enable again, its random stream and IPI budget.
/// </summary>
public sealed class VcpuState(int vpe, VmSpec spec) : UnitState
{
    public int Vpe { get; } = vpe;
    public bool Booted, InWfi, Preempted, Busy;
    /// <summary>Stopped by the VMM for a migration (out of KVM_RUN): it runs again only when told, on the destination.</summary>
    public bool Paused;
    /// <summary>The interrupt whose handler is running (acknowledged, not yet deactivated).</summary>
    public IntId? Handling;
    /// <summary>A CDIA result or a handler end that arrived while the vCPU was not running.</summary>
    public IntId? Deferred;
    public bool DeferredIsResult;
    public readonly List<IntId> Disabled = new();
    public GuestRandom Rng = new(unchecked((ulong)(spec.Seed * 1_000_003 + vpe)));
    public long Ipis = spec.Guest.IpiBudget;
    public bool Stopped;
}

/// <summary>
/// The vCPU thread: runs the guest's handler loop (CDIA → handler → CDEOI → CDDI, until CDIA returns nothing),
/// exits to KVM (where the fold runs), blocks in WFI when idle (a put with a doorbell request) and is loaded
/// again when the host wakes it; is preempted (a put without a doorbell) and resumed by the host scheduler; and,
/// as the guest, reprograms interrupts and sends IPIs at the scenario's rates. Holds no interrupt state: the
/// guest's view is what CDIA returns.
/// </summary>
public sealed class VcpuActor : VmUnitActor, IWithTimers
{
    private sealed record HandlerDone(IntId Id) : ILocalMessage;

    /// <summary>How many exits, reprogrammings and IPIs each tick serves, for rates above one per timer tick.</summary>
    private Pacer? _exitPace, _reprogramPace, _ipiPace;
    private sealed record TrapExit : ILocalMessage
    {
        public static readonly TrapExit Instance = new();
    }
    private sealed record ReprogramTick : ILocalMessage
    {
        public static readonly ReprogramTick Instance = new();
    }
    private sealed record IpiTick : ILocalMessage
    {
        public static readonly IpiTick Instance = new();
    }
    private sealed record Reenable : ILocalMessage
    {
        public static readonly Reenable Instance = new();
    }

    private readonly VcpuState _s;
    private readonly VmTopology _vm;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private IntId[]? _programmed, _lpis;

    public VcpuActor(VcpuState state, VmTopology vm, VmSpec spec, EventLog log)
    {
        _s = state;
        _vm = vm;
        _spec = spec;
        _log = log;
    }

    public static Props Props(VcpuState state, VmTopology vm, VmSpec spec, EventLog log) =>
        DirectProps.Of((state, vm, spec, log), static a => new VcpuActor(a.state, a.vm, a.spec, a.log));

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The SPIs and LPIs the guest programmed (what it reprograms), and its LPIs (what its IPIs pend): made when
    /// first needed, as a guest that does neither would keep 64 INTIDs per vCPU for nothing.</summary>
    private IntId[] Programmed => _programmed ??= _spec.Interrupts.Where(i => i.Ids.Type != IntIdType.Ppi).SelectMany(i => i.Ids.All()).ToArray();
    private IntId[] Lpis => _lpis ??= Programmed.Where(i => i.IsLpi).ToArray();

    private int VpeId => _s.Vpe;
    private IActorRef Vpe => _vm.Vpes[VpeId];
    private bool Running => _s.Booted && !_s.InWfi && !_s.Preempted && !_s.Paused;

    protected override UnitState Unit => _s;

    /// <summary>A restarted vCPU carries on from its context: timers are re-armed, a handler in progress resumes.</summary>
    protected override void PostRestart(Exception reason)
    {
        if (!_s.Booted || _s.Paused) return;
        StartTimers();
        if (_s.Handling is { } id && Running) Self.Tell(new HandlerDone(id));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case VcpuProtocol.Boot:
                if (_s.Booted) return;
                _s.Booted = true;
                Vpe.Tell(new SetPriorityMask(_spec.Guest.PriorityMask));
                Vpe.Tell(MakeResident.Instance);
                StartTimers();
                break;
            case IrqAsserted:
                if (Running && !_s.Busy && !_spec.Directed) Acknowledge();
                break;
            case CdiaResult m:
                if (!Running) { _s.Deferred = m.Id; _s.DeferredIsResult = true; return; }
                Handle(m.Id);
                break;
            case HandlerDone m:
                if (_s.Handling != m.Id) return;
                if (!Running) { _s.Deferred = m.Id; _s.DeferredIsResult = false; return; }
                Finish(m.Id);
                break;
            case TrapExit:
                for (var n = Pacer.Due(_exitPace); n > 0 && Running; n--) Exit();
                break;
            case ReprogramTick:
                for (var n = Pacer.Due(_reprogramPace); n > 0 && Running; n--) Reprogram();
                break;
            case Reenable:
                if (Running) EnableAgain();
                break;
            case IpiTick:
                for (var n = Pacer.Due(_ipiPace); n > 0 && Running && _s.Ipis > 0; n--) SendIpi();
                break;
            case DeviceProtocol.Stop:
                _s.Stopped = true;
                Timers.Cancel("reprogram");
                Timers.Cancel("ipi");
                EnableAgain();
                break;
            case Wake:
                if (!_s.InWfi) return;
                _s.InWfi = false;
                if (Running) Load();
                break;
            case Preempt:
                if (!Running) return;
                _s.Preempted = true;
                Vpe.Tell(new MakeNonResident(Wfi: false));
                Exit();
                break;
            case Resume:
                if (!_s.Preempted) return;
                _s.Preempted = false;
                if (Running) Load();
                break;
            case MigrationProtocol.StopVcpu:
                StopForMigration();
                Sender.Tell(new MigrationProtocol.Stopped(VpeId));
                break;
            case MigrationProtocol.RunVcpu:
                RunAfterMigration();
                break;
            case DirectedProtocol.HandleAll:
                if (!Running) Refuse("handle");
                else if (!_s.Busy) Acknowledge();
                break;
            case DirectedProtocol.TrapExit:
                if (!Running) Refuse("exit");
                else Exit();
                break;
            case DirectedProtocol.SetVcpu m:
                Directed(m.State);
                break;
            case IrsProtocol.Refused:
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/vcpu-{VpeId}: crash requested");
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>A step of a directed scenario puts the vCPU in WFI (a put with a doorbell request), preempts it (a put
    /// without one), or runs it (a load, whether it was in WFI or preempted; a running vCPU stays as it is).</summary>
    private void Directed(DirectedProtocol.VcpuRun state)
    {
        switch (state)
        {
            case DirectedProtocol.VcpuRun.Wfi when Running:
                EnterWfi();
                break;
            case DirectedProtocol.VcpuRun.Preempt when Running:
                _s.Preempted = true;
                Vpe.Tell(new MakeNonResident(Wfi: false));
                Exit();
                break;
            case DirectedProtocol.VcpuRun.Run:
                if (Running || _s.Paused) return;
                _s.InWfi = _s.Preempted = false;
                Load();
                break;
            default:
                Refuse(state == DirectedProtocol.VcpuRun.Wfi ? "vcpu-state = wfi" : "vcpu-state = preempt");
                break;
        }
    }

    private void Refuse(string operation) =>
        Sender.Tell(new IrsProtocol.Refused(operation, $"vCPU {VpeId} is not running ({(_s.InWfi ? "in WFI" : _s.Preempted ? "preempted" : "stopped")})"));

    /// <summary>The VMM stops the vCPU for a migration: it leaves KVM_RUN (a put without a doorbell request, and an exit),
    /// and its guest context — a handler in progress, a CDIA result still to come — waits for the destination.</summary>
    private void StopForMigration()
    {
        if (_s.Paused) return;
        var wasRunning = Running;
        _s.Paused = true;
        Timers.CancelAll();
        if (!wasRunning) return;
        Vpe.Tell(new MakeNonResident(Wfi: false));
        Exit();
    }

    /// <summary>KVM_RUN on the destination: timers re-armed, a handler that was running carries on, and a vCPU that is
    /// neither in WFI nor preempted is loaded.</summary>
    private void RunAfterMigration()
    {
        if (!_s.Paused) return;
        _s.Paused = false;
        if (!_s.Booted) return;
        StartTimers();
        if (_s.Handling is { } id) Self.Tell(new HandlerDone(id));
        if (Running) Load();
    }

    private void StartTimers()
    {
        if (_s.Paused) return;
        if (_s.Disabled.Count > 0) Timers.StartSingleTimer("reenable", Reenable.Instance, TimeSpan.FromMilliseconds(1));
        if (_spec.Vcpu.ExitsPerSecond > 0)
            _exitPace = Timers.StartPaced(Context.System.Scheduler, "exit", TrapExit.Instance, _spec.Vcpu.ExitsPerSecond);
        if (_s.Stopped) return;
        if (_spec.Guest.ReprogramPerSecond > 0 && Programmed.Length > 0)
            _reprogramPace = Timers.StartPaced(Context.System.Scheduler, "reprogram", ReprogramTick.Instance, _spec.Guest.ReprogramPerSecond);
        if (_spec.Guest.IpiPerSecond > 0 && Lpis.Length > 0)
            _ipiPace = Timers.StartPaced(Context.System.Scheduler, "ipi", IpiTick.Instance, _spec.Guest.IpiPerSecond);
    }

    private void Load()
    {
        Vpe.Tell(MakeResident.Instance);
        if (_s.Deferred is not null || _s.DeferredIsResult)
        {
            var (result, deferred) = (_s.DeferredIsResult, _s.Deferred);
            _s.Deferred = null;
            _s.DeferredIsResult = false;
            if (result) Handle(deferred);
            else if (deferred is { } d) Finish(d);
        }
        else if (!_s.Busy && !_spec.Directed) Acknowledge();
    }

    private void Acknowledge()
    {
        _s.Busy = true;
        Vpe.Tell(Cdia.Instance);
    }

    private void Handle(IntId? id)
    {
        if (id is not { } acked)
        {
            _s.Busy = false;
            if (_spec.Vcpu.WfiWhenIdle && !_spec.Directed) EnterWfi();
            return;
        }
        _s.Handling = acked;
        if (_spec.Guest.HandlerTime > TimeSpan.Zero)
            Timers.StartSingleTimer("handler", new HandlerDone(acked), _spec.Guest.HandlerTime);
        else
            Finish(acked);
    }

    /// <summary>The end of a handler: priority drop, deactivation, and the next CDIA.</summary>
    private void Finish(IntId id)
    {
        _s.Handling = null;
        Vpe.Tell(Cdeoi.Instance);
        if (id.IsPpi) Vpe.Tell(new PpiOp(id, PpiOperation.Deactivate, 0));
        else _vm.Virs.Tell(new IrsProtocol.Cddi(id, VpeId));
        Vpe.Tell(Cdia.Instance);
    }

    /// <summary>The guest reprograms a random interrupt it owns, possibly one in flight: a new priority, a new
    /// target vCPU, or a disable that it undoes shortly after (and always before it sleeps).</summary>
    private void Reprogram()
    {
        var id = Programmed[_s.Rng.Next(Programmed.Length)];
        switch (_s.Rng.Next(3))
        {
            case 0: _vm.Virs.Tell(new IrsProtocol.CdPriority(id, _s.Rng.Next(_spec.Guest.PriorityMask + 1))); break;
            case 1: _vm.Virs.Tell(new IrsProtocol.CdAffinity(id, Fabric.Hardware.Irs.VcpuIdMap.IaffidOf(_spec.VcpuIds, _s.Rng.Next(_vm.Vcpus.Length)))); break;
            default:
                if (_spec.Interrupts.Any(i => i.Ids.Contains(id) && !i.Enabled)) return;
                _vm.Virs.Tell(new IrsProtocol.CdEnable(id, false));
                _s.Disabled.Add(id);
                Timers.StartSingleTimer("reenable", Reenable.Instance, TimeSpan.FromMilliseconds(1));
                break;
        }
    }

    private void EnableAgain()
    {
        foreach (var id in _s.Disabled) _vm.Virs.Tell(new IrsProtocol.CdEnable(id, true));
        _s.Disabled.Clear();
    }

    /// <summary>An IPI: GIC CDPEND of an LPI (GICv5 IPIs are LPIs), routed to whichever vCPU the guest targeted.</summary>
    private void SendIpi()
    {
        _s.Ipis--;
        var lpi = Lpis[_s.Rng.Next(Lpis.Length)];
        _log.Log(Ev.Inject, _vm.VmId, VpeId, lpi, "edge");
        _vm.Virs.Tell(new IrsProtocol.CdPend(lpi, true));
    }

    private void EnterWfi()
    {
        EnableAgain();
        _s.InWfi = true;
        Vpe.Tell(new MakeNonResident(Wfi: true));
        Exit();
    }

    private void Exit()
    {
        _log.Log(Ev.Exit, _vm.VmId, VpeId);
        _vm.ApList.Tell(new ApListProtocol.VcpuExit(VpeId));
    }
}
