namespace Fabric.Actors.Observation;

/// <summary>
/// Puts drained events back into seq order. Every seq is handed out exactly once, but two actors may enqueue
/// theirs in the other order; the sequencer holds an event until every lower seq has arrived, so consumers (the
/// checker, the log writer) see causes before effects.
/// </summary>
public sealed class EventSequencer
{
    private readonly PriorityQueue<FabricEvent, long> _held = new();
    private long _next = 1;

    public int Held => _held.Count;

    public void Add(in FabricEvent e) => _held.Enqueue(e, e.Seq);

    /// <summary>Releases every event whose predecessors have all arrived.</summary>
    public void Release(Action<FabricEvent> to)
    {
        while (_held.TryPeek(out var e, out var seq) && seq == _next)
        {
            _held.Dequeue();
            _next++;
            to(e);
        }
    }
}
