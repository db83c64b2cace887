using Akka.Actor;

namespace Fabric.Actors.Vm;

/// <summary>
/// The timers a unit's actor runs for its unit (<see cref="Fabric.Hardware.Protocol.Effects.StartTimer"/> and the
/// rest), with the semantics of Akka's timers (<see cref="IWithTimers"/>): a timer under a key replaces the earlier one,
/// a message of a cancelled or replaced timer already on its way is dropped, and a restart or stop of the actor cancels
/// them all. Unlike Akka's, which makes a scheduler for every actor that declares <see cref="IWithTimers"/> when the
/// actor is made (about 170 bytes, for each of a VM's PEs, devices and host scheduler), nothing is allocated until the
/// first timer starts: a VM whose guests sit idle carries none (issue 15's lighter actors).
/// <para>Each timer sends its actor a <see cref="Fired"/>, which <see cref="TimedActor"/> opens before the actor's own
/// receive: what it carries if the timer is still the one under its key, nothing if not.</para>
/// </summary>
public sealed class ActorTimers(IActorRef self, IScheduler scheduler)
{
    private readonly Dictionary<object, Timer> _timers = new();
    private int _generation;

    private sealed record Timer(int Generation, bool Periodic, ICancelable Task);

    /// <summary>What a timer sends its actor: the message, under the timer's key and generation, from these timers.</summary>
    public sealed record Fired(ActorTimers Owner, object Key, int Generation, object Message) : Protocols.ILocalMessage;

    public int Active => _timers.Count;

    public void StartSingleTimer(object key, object message, TimeSpan delay) => Start(key, message, delay, null);

    public void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan period) => Start(key, message, initialDelay, period);

    private void Start(object key, object message, TimeSpan delay, TimeSpan? period)
    {
        Cancel(key);
        var fired = new Fired(this, key, ++_generation, message);
        var task = period is { } p
            ? scheduler.ScheduleTellRepeatedlyCancelable(delay, p, self, fired, self)
            : scheduler.ScheduleTellOnceCancelable(delay, self, fired, self);
        _timers[key] = new Timer(fired.Generation, period is not null, task);
    }

    public void Cancel(object key)
    {
        if (_timers.Remove(key, out var t)) t.Task.Cancel();
    }

    public void CancelAll()
    {
        foreach (var t in _timers.Values) t.Task.Cancel();
        _timers.Clear();
    }

    /// <summary>The message <paramref name="fired"/> carries if its timer is still the current one under its key (a
    /// single timer is then over); null if it was cancelled or replaced, or belongs to an earlier incarnation's timers.</summary>
    public object? Open(Fired fired)
    {
        if (!ReferenceEquals(fired.Owner, this) || !_timers.TryGetValue(fired.Key, out var t) || t.Generation != fired.Generation) return null;
        if (!t.Periodic) _timers.Remove(fired.Key);
        return fired.Message;
    }
}

/// <summary>
/// An actor whose unit may run timers (<see cref="ActorTimers"/>), made on its first timer. It opens a
/// <see cref="ActorTimers.Fired"/> before its receive sees it, and cancels every timer when it restarts or stops, as
/// Akka does for <see cref="IWithTimers"/>. Not for an actor that stashes: a stashed <see cref="ActorTimers.Fired"/> of a
/// single timer would be opened twice (the VmActor keeps Akka's timers).
/// </summary>
public abstract class TimedActor : UntypedActor, ITimerOwner
{
    private ActorTimers? _timers;

    /// <summary>This actor's timers, made when first asked for.</summary>
    public ActorTimers Timers => _timers ??= new ActorTimers(Self, Context.System.Scheduler);

    /// <summary>This actor's timers if one was ever started (what a cancel needs: it makes none).</summary>
    public ActorTimers? StartedTimers => _timers;

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not ActorTimers.Fired fired) return base.AroundReceive(receive, message);
        return _timers?.Open(fired) is not { } carried || base.AroundReceive(receive, carried);
    }

    public override void AroundPreRestart(Exception cause, object message)
    {
        _timers?.CancelAll();
        base.AroundPreRestart(cause, message);
    }

    public override void AroundPostStop()
    {
        _timers?.CancelAll();
        base.AroundPostStop();
    }
}

/// <summary>Whose timers a unit's effects start and cancel (<see cref="UnitWiring"/>): made on the first start, never
/// for a cancel.</summary>
public interface ITimerOwner
{
    ActorTimers Timers { get; }
    ActorTimers? StartedTimers { get; }
}
