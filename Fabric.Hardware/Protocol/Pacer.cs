namespace Fabric.Hardware.Protocol;

/// <summary>
/// Paces a rate (events per second) with one periodic timer of a unit. Akka's scheduler turns every 10 ms
/// (<c>akka.scheduler.tick-duration</c>, which it does not let go lower), so a periodic timer fires at most 100 times a
/// second; every interpreter of the units keeps that period, so that a rate means the same on each. A rate up to
/// <see cref="TimerRate"/> is one event per period. Above it the timer fires every tick and each tick serves the events
/// due by then (rate × time since the pacer started − events served), so 1000 exits a second are 1000 a second however
/// the ticks fall (DESIGN.md §6.1). A tick that comes very late (a stalled machine) serves at most
/// <see cref="MaxBurstSeconds"/> worth of events and drops the rest of the backlog, rather than flooding the fabric to
/// catch up. Time is the interpreter's (<see cref="Effects.Now"/>): wall time, or virtual time on the deterministic
/// schedule.
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
    private readonly TimeSpan _start;
    private long _served;

    private Pacer(double rate, TimeSpan start)
    {
        _rate = rate;
        _start = start;
    }

    /// <summary>The timer's period for <paramref name="rate"/>: 1/rate, or one tick above <see cref="TimerRate"/>.</summary>
    public static TimeSpan PeriodOf(double rate) => rate <= TimerRate ? TimeSpan.FromSeconds(1.0 / rate) : Tick;

    /// <summary>Starts the unit's periodic timer under <paramref name="key"/> that delivers <paramref name="tick"/> at
    /// <paramref name="rate"/> per second (first after <paramref name="phase"/>, or one period); returns the pacer whose
    /// <see cref="Due"/> says how many events each firing serves (null: one per firing).</summary>
    public static Pacer? Start(Effects fx, object key, object tick, double rate, TimeSpan? phase = null)
    {
        var period = PeriodOf(rate);
        fx.StartPeriodicTimer(key, tick, phase ?? period, period);
        return rate > TimerRate ? new Pacer(rate, fx.Now) : null;
    }

    /// <summary>How many events this firing of the timer serves at <paramref name="now"/>: 1 without a pacer.</summary>
    public static int Due(Pacer? pacer, TimeSpan now) => pacer?.Serve(now) ?? 1;

    private int Serve(TimeSpan now)
    {
        var owed = (long)(_rate * (now - _start).TotalSeconds) - _served;
        if (owed <= 0) return 0;
        var burst = (long)Math.Max(1, _rate * MaxBurstSeconds);
        // A backlog beyond one burst is dropped: the rate resumes from now instead of catching up.
        _served += owed;
        return (int)Math.Min(owed, burst);
    }
}
