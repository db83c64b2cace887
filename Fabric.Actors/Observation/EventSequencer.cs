namespace Fabric.Actors.Observation;

/// <summary>
/// Puts drained events back into seq order. Every seq is handed out exactly once, but two actors may enqueue
/// theirs in the other order; the sequencer holds an event until every lower seq has arrived, so consumers (the
/// checker, the log writer) see causes before effects.
/// Seqs are dense and arrive almost in order, so the held events sit in a ring indexed by seq (grown when an event
/// arrives further ahead than it holds): adding and releasing an event are O(1).
/// </summary>
public sealed class EventSequencer
{
    private FabricEvent[] _ring = new FabricEvent[1 << 12];
    private bool[] _present = new bool[1 << 12];
    private long _next = 1;

    public int Held { get; private set; }

    /// <summary>Holds <paramref name="e"/> until its predecessors arrive. A seq already released cannot recur (one
    /// atomic counter hands them out); one would be dropped.</summary>
    public void Add(in FabricEvent e)
    {
        var ahead = e.Seq - _next;
        if (ahead < 0) return;
        while (ahead >= _ring.Length) Grow();
        var i = (int)(e.Seq & (_ring.Length - 1));
        if (!_present[i]) Held++;
        _ring[i] = e;
        _present[i] = true;
    }

    /// <summary>Releases every event whose predecessors have all arrived.</summary>
    public void Release(Action<FabricEvent> to)
    {
        while (true)
        {
            var i = (int)(_next & (_ring.Length - 1));
            if (!_present[i]) return;
            var e = _ring[i];
            _ring[i] = default;
            _present[i] = false;
            Held--;
            _next++;
            to(e);
        }
    }

    private void Grow()
    {
        var ring = new FabricEvent[_ring.Length * 2];
        var present = new bool[ring.Length];
        for (var seq = _next; seq < _next + _ring.Length; seq++)
        {
            var from = (int)(seq & (_ring.Length - 1));
            if (!_present[from]) continue;
            var to = (int)(seq & (ring.Length - 1));
            ring[to] = _ring[from];
            present[to] = true;
        }
        _ring = ring;
        _present = present;
    }
}
