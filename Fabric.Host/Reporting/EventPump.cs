using Fabric.Actors.Observation;

namespace Fabric.Host.Reporting;

/// <summary>One consumer of the event stream, fed in seq order (causes before effects).</summary>
public interface IEventSink
{
    void Observe(in FabricEvent e);
}

/// <summary>
/// The single path every event takes to its consumers: drained from the <see cref="EventLog"/>, put back into seq
/// order by the <see cref="EventSequencer"/>, then handed to the <see cref="InvariantChecker"/> and to each sink (the
/// report, the event-log writer, the trace). A run pumps live; <c>check</c> delivers a log's events through the same
/// <see cref="Deliver"/> (without the sequencer: a log is already in order, and a gap must not hold events back).
/// </summary>
public sealed class EventPump
{
    private readonly EventLog? _log;
    private readonly InvariantChecker _checker;
    private readonly IEventSink[] _sinks;
    private readonly EventSequencer _sequencer = new();
    private readonly List<FabricEvent> _buffer = new(1 << 16);
    private readonly Action<FabricEvent> _deliver;

    public EventPump(EventLog? log, InvariantChecker checker, IEnumerable<IEventSink> sinks)
    {
        _log = log;
        _checker = checker;
        _sinks = sinks.ToArray();
        _deliver = e => Deliver(e);
    }

    /// <summary>Events drained but still waiting for a lower seq.</summary>
    public int Held => _sequencer.Held;

    /// <summary>Takes everything logged so far and delivers what is in order.</summary>
    public void Pump()
    {
        if (_log is null) return;
        _buffer.Clear();
        _log.Drain(_buffer);
        foreach (var e in _buffer) _sequencer.Add(e);
        _sequencer.Release(_deliver);
    }

    public void Deliver(in FabricEvent e)
    {
        _checker.Observe(e);
        foreach (var s in _sinks) s.Observe(e);
    }
}
