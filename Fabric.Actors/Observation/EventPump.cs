using Fabric.Hardware.Observation;
namespace Fabric.Actors.Observation;

/// <summary>
/// Moves events from the <see cref="EventLog"/> to their consumers (the checker, the report, the log file) in seq
/// order, a bounded batch at a time so that a caller that pumps while the fabric runs always gets control back.
/// </summary>
public sealed class EventPump(EventLog log, Action<FabricEvent> consumer)
{
    private readonly EventSequencer _sequencer = new();
    private readonly List<FabricEvent> _batch = new(1 << 16);

    public int Held => _sequencer.Held;
    public long Pumped { get; private set; }

    /// <summary>Takes at most <paramref name="max"/> logged events and releases what is in order; returns how many it took.</summary>
    public int Pump(int max = 1 << 16)
    {
        _batch.Clear();
        var n = log.Drain(_batch, max);
        foreach (var e in _batch) _sequencer.Add(e);
        _sequencer.Release(e => { Pumped++; consumer(e); });
        return n;
    }

    /// <summary>Pumps until the log is empty (at quiescence: everything logged so far).</summary>
    public void PumpAll()
    {
        while (Pump() > 0) { }
    }
}
