using Fabric.Actors.Observation;
using Fabric.Hardware.Interrupts;
using HdrHistogram;

namespace Fabric.Host.Reporting;

/// <summary>
/// What the report needs beyond the checker's counters, computed from the same event stream: the latency from a
/// device's trigger to the guest's acknowledge, the latency from a deactivation to its notifier, acknowledges per
/// 100 ms over time, and the triggers still in flight.
/// <para>Trigger-to-acknowledge: per interrupt (VM, INTID, and VPE for a PPI), <c>inject</c> events queue their time;
/// each <c>pend</c> makes the oldest queued trigger the pending one and each <c>coalesce</c> drops the oldest (it merged
/// into a pending state that already has its trigger), so an <c>ack</c> measures from the first trigger of the pending
/// state it consumed. An <c>unpend</c> (a lowered line, CDPEND(0)) drops the pending triggers: nothing acknowledges
/// them. An ack with no pending trigger (a hardware-level re-delivery) is not a sample.</para>
/// <para>Deactivate-to-notify: per SPI, from the first deactivation since its previous notification (under fold,
/// several consumptions may share one notification) to the notification.</para>
/// <para>A clustered run: the handoffs (<c>migrate</c> events whose arg ends in <c>handoff</c>: a VM moved to another
/// node) are counted; a <c>lost</c> VM's triggers in flight are dropped with it (its recreation starts empty).</para>
/// <para>With <paramref name="metrics"/> each count and latency is also emitted live as it is taken (<see cref="FabricMetrics"/>).</para>
/// </summary>
public sealed class ReportBuilder(FabricMetrics? metrics = null) : IEventSink
{
    public const long BinNanos = 100_000_000;
    private const long MaxTrackableNanos = 3_600_000_000_000;

    private sealed class Line
    {
        public readonly Queue<long> Triggers = new();
        public readonly Queue<long> Pending = new();
        public long FirstDeactivation = -1;
    }

    private readonly Dictionary<(int Vm, IntId Id, int Owner), Line> _lines = new();
    private readonly List<int> _acksPerBin = new();

    public LongHistogram Latency { get; } = new(MaxTrackableNanos, 3);
    public LongHistogram NotifyLatency { get; } = new(MaxTrackableNanos, 3);

    /// <summary>Time (ns on the log's clock) of the first injection; throughput bins and elapsed time start here.</summary>
    public long FirstInjectT { get; private set; } = -1;
    public long LastT { get; private set; }
    public long InFlight { get; private set; }

    /// <summary>Events other than <c>exit</c>: what the drain watches. A vCPU that does not sleep when idle keeps
    /// exiting at its rate after the devices stop, with nothing left to do; that is not activity.</summary>
    public long Activity { get; private set; }
    public long Acknowledged { get; private set; }

    /// <summary>VMs handed off to another node with their state (a graceful leave or a rebalance of the cluster).</summary>
    public long Handoffs { get; private set; }

    /// <summary>Acknowledges in each 100 ms since the first injection.</summary>
    public IReadOnlyList<int> AcksPerBin => _acksPerBin;

    /// <summary>From the first injection to the last event.</summary>
    public double ElapsedSeconds => FirstInjectT < 0 ? 0 : Math.Max(0, LastT - FirstInjectT) / 1e9;

    private Line L(in FabricEvent e)
    {
        var id = e.IntId!.Value;
        var key = (e.Vm, id, id.IsPpi ? e.Vpe ?? 0 : -1);
        if (!_lines.TryGetValue(key, out var line)) _lines[key] = line = new Line();
        return line;
    }

    public void Observe(in FabricEvent e)
    {
        LastT = Math.Max(LastT, e.T);
        if (e.Ev != Ev.Exit) Activity++;
        if (e.Ev == Ev.Migrate && e.Arg?.EndsWith("handoff", StringComparison.Ordinal) == true)
        {
            Handoffs++;
            metrics?.Handoff();
        }
        if (e.Ev == Ev.Doorbell) metrics?.Doorbell();
        if (e.Ev == Ev.Lost) Forget(e.Vm);
        if (e.IntId is null) return;
        switch (e.Ev)
        {
            case Ev.Inject:
                if (FirstInjectT < 0) FirstInjectT = e.T;
                L(e).Triggers.Enqueue(e.T);
                InFlight++;
                metrics?.Injected();
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
                Acknowledged++;
                var a = L(e);
                var latency = -1L;
                if (a.Pending.TryDequeue(out var trigger))
                {
                    InFlight--;
                    latency = Math.Clamp(e.T - trigger, 0, MaxTrackableNanos);
                    Latency.RecordValue(latency);
                }
                metrics?.Acknowledged(latency);
                if (FirstInjectT >= 0 && e.T >= FirstInjectT)
                {
                    var bin = (int)((e.T - FirstInjectT) / BinNanos);
                    while (_acksPerBin.Count <= bin) _acksPerBin.Add(0);
                    _acksPerBin[bin]++;
                }
                break;
            case Ev.Deactivate when e.IntId.Value.IsSpi:
                var d = L(e);
                if (d.FirstDeactivation < 0) d.FirstDeactivation = e.T;
                break;
            case Ev.Notify:
                var n = L(e);
                if (n.FirstDeactivation >= 0)
                {
                    var notifyLatency = Math.Clamp(e.T - n.FirstDeactivation, 0, MaxTrackableNanos);
                    NotifyLatency.RecordValue(notifyLatency);
                    metrics?.Notified(notifyLatency);
                }
                n.FirstDeactivation = -1;
                break;
        }
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

    public static LatencySummary Summarise(LongHistogram h) => h.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(
            Micros(h.GetValueAtPercentile(50)), Micros(h.GetValueAtPercentile(90)), Micros(h.GetValueAtPercentile(99)),
            Micros(h.GetValueAtPercentile(99.9)), Micros(h.GetMaxValue()), h.TotalCount);

    private static double Micros(long nanos) => Math.Round(nanos / 1000.0, 1);
}
