using Fabric.Hardware.Observation;
namespace Fabric.Actors.Observation;

/// <summary>
/// Puts drained events back into seq order. Every seq is handed out exactly once, but two actors may enqueue
/// theirs in the other order; the sequencer holds an event until every lower seq has arrived, so consumers (the
/// checker, the log writer) see causes before effects. Events arrive almost in order, so they are held in a ring
/// indexed by seq (O(1) each), which grows when an event runs far ahead of the oldest missing one.
/// </summary>
public sealed class EventSequencer
{
    private FabricEvent[] _ring = new FabricEvent[1 << 12];
    private bool[] _present = new bool[1 << 12];
    private long _next = 1;

    /// <summary>How many events wait for an earlier one.</summary>
    public int Held { get; private set; }

    public void Add(in FabricEvent e)
    {
        if (e.Seq < _next) throw new ArgumentException($"event seq {e.Seq} was already released (next is {_next})", nameof(e));
        while (e.Seq - _next >= _ring.Length) Grow();
        var i = (int)(e.Seq & (_ring.Length - 1));
        if (_present[i]) throw new ArgumentException($"event seq {e.Seq} arrived twice", nameof(e));
        _ring[i] = e;
        _present[i] = true;
        Held++;
    }

    /// <summary>Releases every event whose predecessors have all arrived.</summary>
    public void Release(Action<FabricEvent> to)
    {
        var mask = _ring.Length - 1;
        while (_present[(int)(_next & mask)])
        {
            var i = (int)(_next & mask);
            _present[i] = false;
            Held--;
            _next++;
            to(_ring[i]);
        }
    }

    private void Grow()
    {
        var ring = new FabricEvent[_ring.Length * 2];
        var present = new bool[_ring.Length * 2];
        for (var s = _next; s < _next + _ring.Length; s++)
        {
            var from = (int)(s & (_ring.Length - 1));
            if (!_present[from]) continue;
            var to = (int)(s & (ring.Length - 1));
            ring[to] = _ring[from];
            present[to] = true;
        }
        _ring = ring;
        _present = present;
    }
}
