using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The actor interpreter of a unit's effects (DESIGN.md §6.3): a message to a unit is a Tell to the actor the VM's
/// topology names for its address, a message to a party outside the units is a Tell to the actor reference the unit was
/// given, and an event goes to the log with the VM's id. Effects are performed in the order the unit produced them.
/// </summary>
public static class UnitEffects
{
    [ThreadStatic] private static Effects? _spare;

    /// <summary>A cleared buffer for one step of a unit, its replies going to <paramref name="sender"/> (an actor, or the
    /// address of a unit hosted in the same actor; none for null or Nobody).</summary>
    public static Effects Begin(object? sender, in UnitWiring w)
    {
        var fx = _spare ?? new Effects();
        _spare = null;
        return fx.Begin(sender is IActorRef r && r.IsNobody() ? null : sender, w.Self, w.Clock?.MonotonicClock ?? TimeSpan.Zero);
    }

    /// <summary>One step of <paramref name="unit"/> on <paramref name="message"/> from <paramref name="sender"/>, its
    /// effects performed through <paramref name="w"/>; false (nothing done) when the unit does not take the message.</summary>
    public static bool Step(IVmUnit unit, object message, object? sender, VmShape shape, in UnitWiring w)
    {
        var fx = Begin(sender, w);
        var handled = unit.Handle(message, shape, fx);
        Perform(fx, w);   // nothing to perform when unhandled: a unit changes nothing for a message it does not take
        return handled;
    }

    /// <summary>After the unit's actor restarted (or, for a driver, started): what its unit owes from the state it kept,
    /// performed.</summary>
    public static void Restarted(IVmUnit unit, VmShape shape, in UnitWiring w)
    {
        var fx = Begin(ActorRefs.Nobody, w);
        unit.Restarted(shape, fx);
        Perform(fx, w);
    }

    /// <summary>Performs the step's effects and returns the buffer for the next step on this thread.</summary>
    public static void Perform(Effects fx, in UnitWiring w)
    {
        foreach (ref readonly var e in fx.Items)
        {
            switch (e.Kind)
            {
                case EffectKind.Send:
                    ToUnit(e.To, e.Message!, w, hold: true);
                    break;
                case EffectKind.Tell when e.Target is UnitAddress a:
                    ToUnit(a, e.Message!, w, hold: false);
                    break;
                case EffectKind.Tell:
                    ((IActorRef)e.Target!).Tell(e.Message, w.Self);
                    break;
                case EffectKind.Log:
                    w.Log.Log(e.Ev, w.Vm.VmId, e.Vpe, e.IntId, e.Arg);
                    break;
                case EffectKind.Timer:
                    var timers = (w.Timers ?? throw new InvalidOperationException($"{w.Self.Path}: its unit started a timer, and this actor has none")).Timers;
                    if (e.Period > TimeSpan.Zero) timers.StartPeriodicTimer(e.Target!, e.Message!, e.Delay, e.Period);
                    else timers.StartSingleTimer(e.Target!, e.Message!, e.Delay);
                    break;
                default:
                    if (e.Target is null) w.Timers?.StartedTimers?.CancelAll();
                    else w.Timers?.StartedTimers?.Cancel(e.Target);
                    break;
            }
        }
        fx.Clear();
        _spare = fx;
    }

    /// <summary>A message to the unit at <paramref name="to"/>: kept for a unit this actor hosts, held while a driver's VM
    /// moves (<paramref name="hold"/>: a driver's own sends), or told to the actor the address resolves to.</summary>
    private static void ToUnit(UnitAddress to, object message, in UnitWiring w, bool hold)
    {
        if (w.Local?.TryKeep(to, message) == true) return;
        if (hold && w.Held?.TryHold(to, message) == true) return;
        Resolve(w.Vm, to).Tell(message, w.Self);
    }

    /// <summary>The wiring of the actor fabric: which actor a unit's address is.</summary>
    public static IActorRef Resolve(VmTopology vm, UnitAddress to) => to.Kind switch
    {
        UnitKind.Irs => vm.Virs,
        UnitKind.ApList => vm.ApList,
        UnitKind.Vpe => vm.Vpes[to.Index],     // in the product both are the PE of that vCPU
        UnitKind.Vcpu => vm.Vcpus[to.Index],
        UnitKind.Device => vm.Devices[to.Index],
        _ => vm.Scheduler,
    };

    /// <summary>A driver's VM runs again after a move: what its unit sent meanwhile, in order, to the units as they are now.</summary>
    public static void Release(HeldMessages held, VmTopology vm, IActorRef self, Func<object, object>? rebind = null)
    {
        foreach (var (to, message) in held.Release()) Resolve(vm, to).Tell(rebind?.Invoke(message) ?? message, self);
    }
}

/// <summary>How one actor performs its unit's effects: its VM's topology (addresses), the event log, itself (the token it
/// gives for itself and the sender of what it sends), its timers (a unit that starts none needs none), what it holds
/// while its VM moves (a driver), the clock a unit paces rates by, and the units it hosts itself (a PE's two), whose
/// messages it delivers within the turn.</summary>
public readonly record struct UnitWiring(VmTopology Vm, EventLog Log, IActorRef Self, ITimerOwner? Timers = null, HeldMessages? Held = null,
    IScheduler? Clock = null, ILocalUnits? Local = null);

/// <summary>Units that one actor hosts together (a PE's VPE and vCPU, <see cref="PeActor"/>): a message to one of their
/// addresses — a Send, or a Tell whose token is such an address — is kept by the actor and delivered to that unit in the
/// same turn, not told.</summary>
public interface ILocalUnits
{
    /// <summary>True when <paramref name="to"/> is a unit this actor hosts: it keeps <paramref name="message"/> for it.</summary>
    bool TryKeep(UnitAddress to, object message);
}
