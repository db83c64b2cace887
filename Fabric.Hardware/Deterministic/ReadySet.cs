namespace Fabric.Hardware.Deterministic;

/// <summary>How the next delivery is chosen among the parties that have a message ready (DESIGN.md §6.5).</summary>
public enum ScheduleStrategy
{
    /// <summary>Each step, a ready party chosen uniformly by the seed.</summary>
    Random,

    /// <summary>PCT (probabilistic concurrency testing, Burckhardt et al. 2010): every party gets a random priority when
    /// it first becomes ready, the highest-priority ready party always runs, and at <see cref="ReadySet{T}.PctDepth"/>
    /// random steps the running party's priority drops below all others. Finds bugs that need a few specific
    /// preemptions with far fewer schedules than a uniform choice.</summary>
    Pct,
}

/// <summary>
/// The seeded choice of a deterministic schedule: the parties (mailboxes) that have a message ready, and which of them
/// delivers next, by <see cref="ScheduleStrategy"/>. Both deterministic interpreters use it — the actors on the
/// deterministic loop and the units on their own — so a strategy means the same on each.
/// </summary>
public sealed class ReadySet<T> where T : class
{
    /// <summary>Priority changes per schedule under <see cref="ScheduleStrategy.Pct"/>.</summary>
    public const int PctDepth = 3;

    private readonly List<T> _ready = new();
    private readonly Random _rng;
    private readonly ScheduleStrategy _strategy;
    private readonly Dictionary<T, int> _priority = new(ReferenceEqualityComparer.Instance);
    private readonly long[] _changeAt;
    private readonly Func<List<T>, int>? _guide;

    /// <summary>A set whose every choice <paramref name="guide"/> makes (an index into the ready parties, in the order they
    /// became ready): an exhaustive exploration's.</summary>
    public ReadySet(Func<List<T>, int> guide) : this(0, ScheduleStrategy.Random) => _guide = guide;

    /// <summary>An empty set whose choices <paramref name="seed"/> and <paramref name="strategy"/> decide;
    /// <paramref name="expectedSteps"/>: about how many deliveries a schedule makes (PCT's change points fall among them).</summary>
    public ReadySet(long seed, ScheduleStrategy strategy, long expectedSteps = 100_000)
    {
        _rng = new Random(unchecked((int)(seed ^ (seed >> 32))));
        _strategy = strategy;
        _changeAt = [.. Enumerable.Range(0, PctDepth).Select(_ => _rng.NextInt64(1, Math.Max(2, expectedSteps)))];
    }

    /// <summary>Deliveries chosen so far.</summary>
    public long Steps { get; private set; }

    public int Count => _ready.Count;

    public void Add(T party) => _ready.Add(party);

    /// <summary>The party that delivers next, taken out of the set.</summary>
    public T Take()
    {
        var i = _guide is not null ? _guide(_ready) : _strategy == ScheduleStrategy.Random ? _rng.Next(_ready.Count) : Highest();
        var run = _ready[i];
        _ready[i] = _ready[^1];
        _ready.RemoveAt(_ready.Count - 1);
        Steps++;
        if (_strategy == ScheduleStrategy.Pct && Array.IndexOf(_changeAt, Steps) >= 0) _priority[run] = -(int)Steps;
        return run;
    }

    private int Highest()
    {
        var best = 0;
        for (var i = 1; i < _ready.Count; i++)
            if (Priority(_ready[i]) > Priority(_ready[best])) best = i;
        return best;
    }

    private int Priority(T party)
    {
        if (!_priority.TryGetValue(party, out var p)) _priority[party] = p = _rng.Next(1, int.MaxValue);
        return p;
    }
}
