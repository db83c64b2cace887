using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;

namespace Fabric.Host.Reporting;

/// <summary>
/// Matches an interrupt's events to what caused them, from the event stream alone: an acknowledge to the device trigger
/// whose pending state it consumed, a notification to the first deactivation it answers. What the report measures
/// latencies from (<see cref="ReportBuilder"/>) and the trace draws flows from (<see cref="PerfettoTraceWriter"/>).
/// <para>Per interrupt (VM, INTID, and VPE for a PPI), <c>inject</c> events queue; each <c>pend</c> makes the oldest
/// queued trigger the pending one and each <c>coalesce</c> drops the oldest (it merged into a pending state that already
/// has its trigger), so an <c>ack</c> is matched to the first trigger of the pending state it consumed. An <c>unpend</c>
/// (a lowered line, CDPEND(0)) drops the pending triggers: nothing acknowledges them. An ack with no pending trigger
/// (a hardware-level re-delivery) has no match. Per SPI, a <c>notify</c> is matched to the first deactivation since the
/// previous notification (under fold, several consumptions may share one notification). A <c>lost</c> VM's triggers in
/// flight are dropped with it (its recreation starts empty).</para>
/// </summary>
public sealed class TriggerMatcher
{
    /// <summary>An event, by its time (ns on the log's clock) and its seq.</summary>
    public readonly record struct Mark(long T, long Seq);

    private sealed class Line
    {
        public readonly Queue<Mark> Triggers = new();
        public readonly Queue<Mark> Pending = new();
        public Mark? FirstDeactivation;
    }

    private readonly Dictionary<(int Vm, IntId Id, int Owner), Line> _lines = new();

    /// <summary>Triggers neither acknowledged, coalesced, lowered nor lost yet.</summary>
    public long InFlight { get; private set; }

    private Line L(in FabricEvent e)
    {
        var id = e.IntId!.Value;
        var key = (e.Vm, id, id.IsPpi ? e.Vpe ?? 0 : -1);
        if (!_lines.TryGetValue(key, out var line)) _lines[key] = line = new Line();
        return line;
    }

    /// <summary>Takes one event; for an <c>ack</c> returns the trigger it consumed, for a <c>notify</c> the first
    /// deactivation it answers; null otherwise (and when there is none).</summary>
    public Mark? Observe(in FabricEvent e)
    {
        if (e.Ev == Ev.Lost) Forget(e.Vm);
        if (e.IntId is null) return null;
        switch (e.Ev)
        {
            case Ev.Inject:
                L(e).Triggers.Enqueue(new Mark(e.T, e.Seq));
                InFlight++;
                break;
            case Ev.Pend:
                var p = L(e);
                if (p.Triggers.TryDequeue(out var t)) p.Pending.Enqueue(t);
                break;
            case Ev.Coalesce:
                if (L(e).Triggers.TryDequeue(out _)) InFlight--;
                break;
            case Ev.Unpend:
                var u = L(e);
                InFlight -= u.Pending.Count;
                u.Pending.Clear();
                break;
            case Ev.Ack:
                if (!L(e).Pending.TryDequeue(out var trigger)) return null;
                InFlight--;
                return trigger;
            case Ev.Deactivate when e.IntId.Value.IsSpi:
                var d = L(e);
                d.FirstDeactivation ??= new Mark(e.T, e.Seq);
                break;
            case Ev.Notify:
                var n = L(e);
                var first = n.FirstDeactivation;
                n.FirstDeactivation = null;
                return first;
        }
        return null;
    }

    /// <summary>A VM whose node was lost: what it had in flight is gone with it, never acknowledged.</summary>
    private void Forget(int vm)
    {
        foreach (var key in _lines.Keys.Where(k => k.Vm == vm).ToList())
        {
            var line = _lines[key];
            InFlight -= line.Triggers.Count + line.Pending.Count;
            _lines.Remove(key);
        }
    }
}
