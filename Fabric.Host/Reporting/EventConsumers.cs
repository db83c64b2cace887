using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;

namespace Fabric.Host.Reporting;

/// <summary>One consumer of the event stream, fed in seq order (causes before effects).</summary>
public interface IEventSink
{
    void Observe(in FabricEvent e);
}

/// <summary>
/// Everything that consumes a run's events, in one place: the <see cref="InvariantChecker"/> first, then each sink (the
/// report, the event-log writer, the trace). A run feeds it through <see cref="EventPump"/> (the log drained and put
/// back in seq order) while the fabric runs; <c>check</c> feeds it a log's events directly — a log is already in
/// order, and a gap in it must not hold events back — so a run and <c>check</c> judge with the same checker.
/// </summary>
public sealed class EventConsumers(InvariantChecker checker, IEnumerable<IEventSink> sinks)
{
    private readonly IEventSink[] _sinks = sinks.ToArray();

    public InvariantChecker Checker { get; } = checker;

    public void Observe(in FabricEvent e)
    {
        Checker.Observe(e);
        foreach (var s in _sinks) s.Observe(e);
    }
}
