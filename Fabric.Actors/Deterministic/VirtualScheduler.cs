using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Fabric.Actors.Deterministic;

/// <summary>
/// Akka's scheduler in virtual time (DESIGN.md §6.5): <c>akka.scheduler.implementation</c> of a deterministic run's
/// actor system. Nothing fires by itself: <see cref="DeterministicLoop"/> advances the clock to the next due timer when
/// no message is ready, so a run takes as long as its work and every timer fires at a reproducible point. Timers due at
/// the same virtual time fire in the order they were scheduled. Requests may come from Akka's own threads (the system's
/// actors run on the thread pool); they wait in a concurrent queue until the loop takes them in.
/// </summary>
public sealed class VirtualScheduler(Config config, ILoggingAdapter log) : SchedulerBase(config, log)
{
    private sealed record Timer(TimeSpan Due, long Order, TimeSpan? Interval, Action Fire, ICancelable? Cancelable);

    private readonly ConcurrentQueue<(TimeSpan Delay, TimeSpan? Interval, Action Fire, ICancelable? Cancelable)> _incoming = new();
    private readonly PriorityQueue<Timer, (TimeSpan, long)> _due = new();
    private long _order;
    private TimeSpan _now;

    /// <summary>Virtual time since the system started.</summary>
    public TimeSpan Now => _now;

    protected override DateTimeOffset TimeNow => DateTimeOffset.UnixEpoch + _now;
    public override TimeSpan MonotonicClock => _now;
    public override TimeSpan HighResMonotonicClock => _now;

    private void Add(TimeSpan delay, TimeSpan? interval, Action fire, ICancelable? cancelable) => _incoming.Enqueue((delay, interval, fire, cancelable));

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(delay, null, () => receiver.Tell(message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(initialDelay, interval, () => receiver.Tell(message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) => Add(delay, null, action, cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) => Add(delay, null, action.Run, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Add(initialDelay, interval, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Add(initialDelay, interval, action.Run, cancelable);

    /// <summary>Takes in what was scheduled since, each due at now + its delay, in the order it was asked for.</summary>
    private void TakeIn()
    {
        while (_incoming.TryDequeue(out var t))
        {
            var timer = new Timer(_now + (t.Delay < TimeSpan.Zero ? TimeSpan.Zero : t.Delay), _order++, t.Interval, t.Fire, t.Cancelable);
            _due.Enqueue(timer, (timer.Due, timer.Order));
        }
    }

    /// <summary>Moves the clock on by <paramref name="cost"/> without firing anything (the time a delivery takes).</summary>
    public void Charge(TimeSpan cost) => _now += cost;

    /// <summary>When the next live timer is due, or null when none is scheduled.</summary>
    public TimeSpan? NextDue()
    {
        TakeIn();
        while (_due.TryPeek(out var t, out _))
        {
            if (t.Cancelable?.IsCancellationRequested != true) return t.Due;
            _due.Dequeue();
        }
        return null;
    }

    /// <summary>Moves the clock to the next due timer (never past <paramref name="limit"/>) and fires every timer due
    /// then; false when nothing is due by the limit (the clock then stands at the limit).</summary>
    public bool AdvanceToNext(TimeSpan limit)
    {
        if (NextDue() is not { } due || due > limit)
        {
            if (limit > _now && limit != TimeSpan.MaxValue) _now = limit;
            return false;
        }
        _now = due;
        while (_due.TryPeek(out var t, out _) && t.Due <= _now)
        {
            _due.Dequeue();
            if (t.Cancelable?.IsCancellationRequested == true) continue;
            t.Fire();
            if (t.Interval is { } every && t.Cancelable?.IsCancellationRequested != true)
            {
                var next = t with { Due = _now + (every > TimeSpan.Zero ? every : TimeSpan.FromTicks(1)), Order = _order++ };
                _due.Enqueue(next, (next.Due, next.Order));
            }
        }
        return true;
    }
}
