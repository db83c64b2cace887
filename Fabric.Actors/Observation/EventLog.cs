using System.Diagnostics;
using System.Collections.Concurrent;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;

namespace Fabric.Actors.Observation;

/// <summary>
/// The event log. <c>seq</c> comes from one atomic counter taken when the owning actor logs the event, so an
/// effect always has a higher seq than its cause. This counter is the one shared atomic of Fabric.Actors (it
/// guards no state); the recorded events go to a lock-free queue that the host drains — observation only,
/// never read by an actor.
/// <para>A log that does not record takes no seq: nothing reads an order that is not kept, and the counter, one cache
/// line that every event of every VM writes, costs a storm 20-28 % (Fabric.Bench, issue 15). It counts each kind of
/// event on the logging thread instead, and <see cref="LastSeq"/> is the number of events so far, which moves whenever
/// anything happens, as the seq did (what quiescence watches).</para>
/// </summary>
public sealed class EventLog
{
    private long _seq;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Func<TimeSpan>? _now;
    private readonly ConcurrentQueue<FabricEvent>? _queue;
    // Optional per-kind counts, one array per logging thread (no shared write): what a benchmark reads with recording off.
    // Every array stays in _allCounts, so a thread that ends takes none of its counts with it.
    private readonly ThreadLocal<long[]>? _counts;
    private readonly ConcurrentBag<long[]> _allCounts = new();

    /// <param name="record">Keep every event for <see cref="Drain"/>.</param>
    /// <param name="count">Also count events per kind (<see cref="Count"/>), recorded or not.</param>
    /// <param name="clock">The events' time <c>t</c>: wall time since the log was made, or (a deterministic run) the
    /// virtual time of its scheduler, so that the same seed writes the same log byte for byte.</param>
    /// <param name="sequenced">Take <c>seq</c> from the shared counter (the contract). By default a log does when it
    /// records and only then; Fabric.Bench asks for it on a log that does not record, to measure what it costs. An
    /// unsequenced log's events have seq 0 and it counts them (<see cref="Count"/>), so a recording log is always
    /// sequenced.</param>
    public EventLog(bool record = true, bool count = false, Func<TimeSpan>? clock = null, bool? sequenced = null)
    {
        var ordered = sequenced ?? record;
        if (!ordered && record)
            throw new ArgumentException("an unsequenced event log must not record: its events would have no order (DESIGN.md §5)");
        _now = clock;
        _queue = record ? new ConcurrentQueue<FabricEvent>() : null;
        _counts = count || !ordered ? new ThreadLocal<long[]>(NewCounts) : null;
        _sequenced = ordered;
    }

    private readonly bool _sequenced;

    private static readonly int KindCount = Enum.GetValues<Ev>().Length;

    private long[] NewCounts()
    {
        var counts = new long[KindCount];
        _allCounts.Add(counts);
        return counts;
    }

    public static EventLog Off() => new(record: false);

    /// <summary>The last sequence number handed out: it moves whenever anything happens anywhere.</summary>
    public long LastSeq => _sequenced ? Volatile.Read(ref _seq) : CountAll();

    public bool Recording => _queue is not null;

    public long Log(Ev ev, int vm, int? vpe = null, IntId? intid = null, string? arg = null)
    {
        var seq = _sequenced ? Interlocked.Increment(ref _seq) : 0;
        if (_counts is not null) _counts.Value![(int)ev]++;
        _queue?.Enqueue(new FabricEvent(seq, (long)((_now?.Invoke() ?? _clock.Elapsed).Ticks * (1_000_000_000.0 / TimeSpan.TicksPerSecond)), ev, vm, vpe, intid, arg));
        return seq;
    }

    /// <summary>How many events of kind <paramref name="ev"/> were logged (0 unless built with <c>count: true</c> or
    /// unsequenced). Exact once
    /// the fabric is quiescent; while it runs, a recent count from each thread.</summary>
    public long Count(Ev ev)
    {
        if (_counts is null) return 0;
        long n = 0;
        foreach (var perThread in _allCounts) n += Volatile.Read(ref perThread[(int)ev]);
        return n;
    }

    private long CountAll()
    {
        long n = 0;
        foreach (var perThread in _allCounts)
            for (var k = 0; k < perThread.Length; k++) n += Volatile.Read(ref perThread[k]);
        return n;
    }

    /// <summary>Takes what has been logged so far (in arrival order; sort by seq for causal order).</summary>
    public int Drain(ICollection<FabricEvent> into, int max = int.MaxValue)
    {
        if (_queue is null) return 0;
        var n = 0;
        while (n < max && _queue.TryDequeue(out var e)) { into.Add(e); n++; }
        return n;
    }
}
