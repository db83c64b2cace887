using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.CpuInterfaceProtocol;
using static Fabric.Hardware.Protocol.ResidencyProtocol;
using static Fabric.Hardware.Protocol.VcpuProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>
/// The unit for one vCPU thread running the guest (DESIGN.md §6.3), and its context, kept across a restart of its
/// interpreter (as a thread's context survives its being rescheduled): booted, in WFI, preempted, inside the handler
/// loop, the interrupt being handled, what it disabled and must enable again, its random stream and IPI budget.
/// <para>The thread runs the guest's handler loop (CDIA → handler → CDEOI → CDDI, until CDIA returns nothing), exits to
/// KVM (where the fold runs), blocks in WFI when idle (a put with a doorbell request) and is loaded again when the host
/// wakes it; is preempted (a put without a doorbell) and resumed by the host scheduler; and, as the guest, reprograms
/// interrupts and sends IPIs at the scenario's rates, paced by its own timers. It holds no interrupt state: the guest's
/// view is what CDIA returns.</para>
/// </summary>
public sealed class VcpuState(int vpe, VmSpec spec) : UnitState, IVmUnit
{
    public int Vpe { get; } = vpe;
    public VmSpec Spec { get; } = spec;
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
    /// <summary>What ended its WFI, until it is loaded (a move's stop may come between the two): its next load says so.</summary>
    public Woken Woken;

    /// <summary>How many exits, reprogrammings and IPIs each tick serves, for rates above one per timer tick; made again
    /// whenever the timers are (they are not context).</summary>
    private Pacer? _exitPace, _reprogramPace, _ipiPace;
    private IntId[]? _programmed, _lpis;

    /// <summary>What the guest's own timers deliver to it (a handler's end, the paced exits, reprogrammings and IPIs, the
    /// re-enable of what it disabled): its interpreter routes them by this type, not by each one.</summary>
    public abstract record GuestTimer : IUnitMessage;
    /// <summary>The handler of <paramref name="Id"/> has run its course (the guest's handler time, a timer).</summary>
    public sealed record HandlerDone(IntId Id) : GuestTimer;
    private sealed record ExitTick : GuestTimer
    {
        public static readonly ExitTick Instance = new();
    }
    private sealed record ReprogramTick : GuestTimer
    {
        public static readonly ReprogramTick Instance = new();
    }
    private sealed record IpiTick : GuestTimer
    {
        public static readonly IpiTick Instance = new();
    }
    private sealed record Reenable : GuestTimer
    {
        public static readonly Reenable Instance = new();
    }

    /// <summary>The SPIs and LPIs the guest programmed (what it reprograms), and its LPIs (what its IPIs pend): made when
    /// first needed, as a guest that does neither would keep 64 INTIDs per vCPU for nothing.</summary>
    private IntId[] Programmed => _programmed ??= Spec.Interrupts.Where(i => i.Ids.Type != IntIdType.Ppi).SelectMany(i => i.Ids.All()).ToArray();
    private IntId[] Lpis => _lpis ??= Programmed.Where(i => i.IsLpi).ToArray();

    private UnitAddress Self => UnitAddress.Vcpu(Vpe);
    private UnitAddress MyVpe => UnitAddress.Vpe(Vpe);
    public bool Running => Booted && !InWfi && !Preempted && !Paused;

    /// <summary>After a restart of its interpreter (which lost the timers): timers are re-armed, a handler in progress
    /// resumes.</summary>
    public void Restarted(VmShape vm, Effects fx)
    {
        if (!Booted || Paused) return;
        StartTimers(fx);
        if (Handling is { } id && Running) fx.Send(Self, new HandlerDone(id));
    }

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case Boot:
                if (Booted) return true;
                Booted = true;
                fx.Send(MyVpe, new SetPriorityMask(Spec.Guest.PriorityMask));
                fx.Send(MyVpe, MakeResident.Instance);
                StartTimers(fx);
                return true;
            case IrqAsserted:
                if (Running && !Busy && !Spec.Directed) Acknowledge(fx);
                return true;
            case CdiaResult m:
                if (!Running) { Deferred = m.Id; DeferredIsResult = true; return true; }
                HandleResult(m.Id, vm, fx);
                return true;
            case HandlerDone m:
                if (Handling != m.Id) return true;
                if (!Running) { Deferred = m.Id; DeferredIsResult = false; return true; }
                Finish(m.Id, fx);
                return true;
            case ExitTick:
                for (var n = Pacer.Due(_exitPace, fx.Now); n > 0 && Running; n--) Exit(fx);
                return true;
            case ReprogramTick:
                for (var n = Pacer.Due(_reprogramPace, fx.Now); n > 0 && Running; n--) Reprogram(vm, fx);
                return true;
            case Reenable:
                if (Running) EnableAgain(fx);
                return true;
            case IpiTick:
                for (var n = Pacer.Due(_ipiPace, fx.Now); n > 0 && Running && Ipis > 0; n--) SendIpi(fx);
                return true;
            case DeviceProtocol.Stop:
                Stopped = true;
                fx.CancelTimer("reprogram");
                fx.CancelTimer("ipi");
                EnableAgain(fx);
                return true;
            case Wake w:
                if (!InWfi) return true;
                InWfi = false;
                Woken = w.Kicked ? Woken.ByKick : Woken.ByDoorbell;
                if (Running) Load(vm, fx);
                return true;
            case Preempt:
                if (!Running) return true;
                Preempted = true;
                fx.Send(MyVpe, new MakeNonResident(Wfi: false));
                Exit(fx);
                return true;
            case Resume:
                if (!Preempted) return true;
                Preempted = false;
                if (Running) Load(vm, fx);
                return true;
            case StopVcpu:
                StopForMigration(fx);
                fx.Reply(new VcpuProtocol.Stopped(Vpe));
                return true;
            case RunVcpu:
                RunAfterMigration(vm, fx);
                return true;
            case HandleAll:
                if (!Running) Refuse("handle", fx);
                else if (!Busy) Acknowledge(fx);
                return true;
            case TrapExit:
                if (!Running) Refuse("exit", fx);
                else Exit(fx);
                return true;
            case SetVcpu m:
                Directed(m.State, vm, fx);
                return true;
            case IrsProtocol.Refused:
                return true;
            default:
                return false;
        }
    }

    /// <summary>A step of a directed scenario puts the vCPU in WFI (a put with a doorbell request), preempts it (a put
    /// without one), or runs it (a load, whether it was in WFI or preempted; a running vCPU stays as it is).</summary>
    private void Directed(VcpuRun state, VmShape vm, Effects fx)
    {
        switch (state)
        {
            case VcpuRun.Wfi when Running:
                EnterWfi(fx);
                break;
            case VcpuRun.Preempt when Running:
                Preempted = true;
                fx.Send(MyVpe, new MakeNonResident(Wfi: false));
                Exit(fx);
                break;
            case VcpuRun.Run:
                if (Running || Paused) return;
                InWfi = Preempted = false;
                Load(vm, fx);
                break;
            default:
                Refuse(state == VcpuRun.Wfi ? "vcpu-state = wfi" : "vcpu-state = preempt", fx);
                break;
        }
    }

    private void Refuse(string operation, Effects fx) =>
        fx.Reply(new IrsProtocol.Refused(operation, $"vCPU {Vpe} is not running ({(InWfi ? "in WFI" : Preempted ? "preempted" : "stopped")})"));

    /// <summary>The VMM stops the vCPU for a migration: it leaves KVM_RUN (a put without a doorbell request, and an exit),
    /// and its guest context — a handler in progress, a CDIA result still to come — waits for the destination.</summary>
    private void StopForMigration(Effects fx)
    {
        if (Paused) return;
        var wasRunning = Running;
        Paused = true;
        fx.CancelTimers();
        if (!wasRunning) return;
        fx.Send(MyVpe, new MakeNonResident(Wfi: false));
        Exit(fx);
    }

    /// <summary>KVM_RUN on the destination: timers re-armed, a handler that was running carries on, and a vCPU that is
    /// neither in WFI nor preempted is loaded.</summary>
    private void RunAfterMigration(VmShape vm, Effects fx)
    {
        if (!Paused) return;
        Paused = false;
        if (!Booted) return;
        StartTimers(fx);
        if (Handling is { } id) fx.Send(Self, new HandlerDone(id));
        if (Running) Load(vm, fx);
    }

    private void StartTimers(Effects fx)
    {
        if (Paused) return;
        if (Disabled.Count > 0) fx.StartTimer("reenable", Reenable.Instance, TimeSpan.FromMilliseconds(1));
        if (Spec.Vcpu.ExitsPerSecond > 0)
            _exitPace = Pacer.Start(fx, "exit", ExitTick.Instance, Spec.Vcpu.ExitsPerSecond);
        if (Stopped) return;
        if (Spec.Guest.ReprogramPerSecond > 0 && Programmed.Length > 0)
            _reprogramPace = Pacer.Start(fx, "reprogram", ReprogramTick.Instance, Spec.Guest.ReprogramPerSecond);
        if (Spec.Guest.IpiPerSecond > 0 && Lpis.Length > 0)
            _ipiPace = Pacer.Start(fx, "ipi", IpiTick.Instance, Spec.Guest.IpiPerSecond);
    }

    /// <summary>KVM_RUN: the vCPU is loaded (telling its VPE, which logs it, what woke it, even when a move's stop came
    /// between the wake and the load) and resumes what waited.</summary>
    private void Load(VmShape vm, Effects fx)
    {
        fx.Send(MyVpe, MakeResident.After(Woken));
        Woken = Woken.No;
        if (Deferred is not null || DeferredIsResult)
        {
            var (result, deferred) = (DeferredIsResult, Deferred);
            Deferred = null;
            DeferredIsResult = false;
            if (result) HandleResult(deferred, vm, fx);
            else if (deferred is { } d) Finish(d, fx);
        }
        else if (!Busy && !Spec.Directed) Acknowledge(fx);
    }

    private void Acknowledge(Effects fx)
    {
        Busy = true;
        fx.Send(MyVpe, Cdia.Instance);
    }

    private void HandleResult(IntId? id, VmShape vm, Effects fx)
    {
        if (id is not { } acked)
        {
            Busy = false;
            if (Spec.Vcpu.WfiWhenIdle && !Spec.Directed) EnterWfi(fx);
            return;
        }
        Handling = acked;
        if (Spec.Guest.HandlerTime > TimeSpan.Zero)
            fx.StartTimer("handler", new HandlerDone(acked), Spec.Guest.HandlerTime);
        else
            Finish(acked, fx);
    }

    /// <summary>The end of a handler: priority drop, deactivation, and the next CDIA.</summary>
    private void Finish(IntId id, Effects fx)
    {
        Handling = null;
        fx.Send(MyVpe, Cdeoi.Instance);
        if (id.IsPpi) fx.Send(MyVpe, new PpiOp(id, PpiOperation.Deactivate, 0));
        else fx.Send(UnitAddress.Irs, new IrsProtocol.Cddi(id, Vpe));
        fx.Send(MyVpe, Cdia.Instance);
    }

    /// <summary>The guest reprograms a random interrupt it owns, possibly one in flight: a new priority, a new
    /// target vCPU, or a disable that it undoes shortly after (and always before it sleeps).</summary>
    private void Reprogram(VmShape vm, Effects fx)
    {
        var id = Programmed[Rng.Next(Programmed.Length)];
        switch (Rng.Next(3))
        {
            case 0: fx.Send(UnitAddress.Irs, new IrsProtocol.CdPriority(id, Rng.Next(Spec.Guest.PriorityMask + 1))); break;
            case 1: fx.Send(UnitAddress.Irs, new IrsProtocol.CdAffinity(id, VcpuIdMap.IaffidOf(Spec.VcpuIds, Rng.Next(vm.Vcpus)))); break;
            default:
                if (Spec.Interrupts.Any(i => i.Ids.Contains(id) && !i.Enabled)) return;
                fx.Send(UnitAddress.Irs, new IrsProtocol.CdEnable(id, false));
                Disabled.Add(id);
                fx.StartTimer("reenable", Reenable.Instance, TimeSpan.FromMilliseconds(1));
                break;
        }
    }

    private void EnableAgain(Effects fx)
    {
        foreach (var id in Disabled) fx.Send(UnitAddress.Irs, new IrsProtocol.CdEnable(id, true));
        Disabled.Clear();
    }

    /// <summary>An IPI: GIC CDPEND of an LPI (GICv5 IPIs are LPIs), routed to whichever vCPU the guest targeted.</summary>
    private void SendIpi(Effects fx)
    {
        Ipis--;
        var lpi = Lpis[Rng.Next(Lpis.Length)];
        fx.Log(Ev.Inject, Vpe, lpi, "edge");
        fx.Send(UnitAddress.Irs, new IrsProtocol.CdPend(lpi, true));
    }

    private void EnterWfi(Effects fx)
    {
        EnableAgain(fx);
        InWfi = true;
        fx.Send(MyVpe, new MakeNonResident(Wfi: true));
        Exit(fx);
    }

    private void Exit(Effects fx)
    {
        fx.Log(Ev.Exit, Vpe);
        fx.Send(UnitAddress.ApList, new ApListProtocol.VcpuExit(Vpe));
    }
}
