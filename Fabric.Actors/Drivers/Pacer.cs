using Akka.Actor;

namespace Fabric.Actors.Drivers;

/// <summary>
/// Paces a rate (events per second) with one Akka timer. Akka's scheduler turns every 10 ms
/// (<c>akka.scheduler.tick-duration</c>, which it does not let go lower), so a periodic timer fires at most 100 times a
/// second. A rate up to <see cref="TimerRate"/> is one event per period, as before. Above it the timer fires every tick
/// and each tick serves the events due by then (rate × time since the pacer started − events served), so 1000 exits a
/// second are 1000 a second however the ticks fall (DESIGN.md §6.1). A tick that comes very late (a stalled machine)
/// serves at most <see cref="MaxBurstSeconds"/> worth of events and drops the rest of the backlog, rather than
/// flooding the fabric to catch up.
/// </summary>
public sealed class Pacer
{
    /// <summary>Akka's scheduler tick.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    /// <summary>The highest rate one timer paces alone (one event per tick).</summary>
    public const double TimerRate = 100;

    /// <summary>The highest rate a scenario may ask of one paced source (a device's interrupt, a vCPU's exits, IPIs or
    /// reprogramming, a VM's preemption): 100 events per tick.</summary>
    public const double MaxRate = 10_000;

    /// <summary>A late tick serves at most this much time's events.</summary>
    public const double MaxBurstSeconds = 0.1;

    private readonly double _rate;
    private readonly IScheduler _clock;
    private readonly TimeSpan _start;
    private long _served;

    private Pacer(double rate, IScheduler clock)
    {
        _rate = rate;
        _clock = clock;
        _start = clock.MonotonicClock;
    }

    /// <summary>The timer's period for <paramref name="rate"/>: 1/rate, or one tick above <see cref="TimerRate"/>.</summary>
    public static TimeSpan PeriodOf(double rate) => rate <= TimerRate ? TimeSpan.FromSeconds(1.0 / rate) : Tick;

    /// <summary>A pacer for a rate one timer cannot pace alone, on <paramref name="clock"/>'s time (the actor system's
    /// scheduler: wall time, or virtual time in a deterministic run); null (one event per firing) otherwise.</summary>
    public static Pacer? For(double rate, IScheduler clock) => rate > TimerRate ? new Pacer(rate, clock) : null;

    /// <summary>How many events this firing of the timer serves: 1 without a pacer.</summary>
    public static int Due(Pacer? pacer) => pacer?.Due() ?? 1;

    private int Due()
    {
        var owed = (long)(_rate * (_clock.MonotonicClock - _start).TotalSeconds) - _served;
        if (owed <= 0) return 0;
        var burst = (long)Math.Max(1, _rate * MaxBurstSeconds);
        // A backlog beyond one burst is dropped: the rate resumes from now instead of catching up.
        _served += owed;
        return (int)Math.Min(owed, burst);
    }
}

public static class PacedTimers
{
    /// <summary>Starts a periodic timer that delivers <paramref name="tick"/> at <paramref name="rate"/> per second
    /// (after <paramref name="phase"/>, if given), on <paramref name="clock"/>'s time; returns the pacer whose
    /// <see cref="Pacer.Due(Pacer?)"/> says how many events each firing serves.</summary>
    public static Pacer? StartPaced(this ITimerScheduler timers, IScheduler clock, object key, object tick, double rate, TimeSpan? phase = null)
    {
        var period = Pacer.PeriodOf(rate);
        if (phase is { } p) timers.StartPeriodicTimer(key, tick, p, period);
        else timers.StartPeriodicTimer(key, tick, period);
        return Pacer.For(rate, clock);
    }
}
