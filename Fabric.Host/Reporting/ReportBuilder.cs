using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using HdrHistogram;

namespace Fabric.Host.Reporting;

/// <summary>
/// What the report needs beyond the checker's counters, computed from the same event stream: the latency from a
/// device's trigger to the guest's acknowledge, the latency from a deactivation to its notifier (each matched by
/// <see cref="TriggerMatcher"/>), acknowledges per 100 ms over time, the triggers still in flight, and in a clustered
/// run the handoffs (<c>migrate</c> events of a VM that arrived from another node, <see cref="MoveKind.HandOffIn"/>).
/// <para>With <paramref name="metrics"/> each count and latency is also emitted live as it is taken (<see cref="FabricMetrics"/>).</para>
/// </summary>
public sealed class ReportBuilder(FabricMetrics? metrics = null) : IEventSink
{
    public const long BinNanos = 100_000_000;
    private const long MaxTrackableNanos = 3_600_000_000_000;

    private readonly TriggerMatcher _matcher = new();
    private readonly List<int> _acksPerBin = new();

    public LongHistogram Latency { get; } = new(MaxTrackableNanos, 3);
    public LongHistogram NotifyLatency { get; } = new(MaxTrackableNanos, 3);

    /// <summary>Time (ns on the log's clock) of the first injection; throughput bins and elapsed time start here.</summary>
    public long FirstInjectT { get; private set; } = -1;
    public long LastT { get; private set; }
    public long InFlight => _matcher.InFlight;

    /// <summary>Events other than <c>exit</c>: what the drain watches. A vCPU that does not sleep when idle keeps
    /// exiting at its rate after the devices stop, with nothing left to do; that is not activity.</summary>
    public long Activity { get; private set; }
    public long Acknowledged { get; private set; }

    /// <summary>The vCPUs' exits to KVM (trap exits, WFI and preemption puts).</summary>
    public long Exits { get; private set; }

    /// <summary>VMs handed off to another node with their state (a graceful leave or a rebalance of the cluster).</summary>
    public long Handoffs { get; private set; }

    /// <summary>Acknowledges in each 100 ms since the first injection.</summary>
    public IReadOnlyList<int> AcksPerBin => _acksPerBin;

    /// <summary>From the first injection to the last event.</summary>
    public double ElapsedSeconds => FirstInjectT < 0 ? 0 : Math.Max(0, LastT - FirstInjectT) / 1e9;

    public void Observe(in FabricEvent e)
    {
        LastT = Math.Max(LastT, e.T);
        if (e.Ev != Ev.Exit) Activity++;
        else Exits++;
        if (e.Migration is { Kind: MoveKind.HandOffIn })
        {
            Handoffs++;
            metrics?.Handoff();
        }
        if (e.Ev == Ev.Doorbell) metrics?.Doorbell();
        var matched = _matcher.Observe(e);
        if (e.IntId is null) return;
        switch (e.Ev)
        {
            case Ev.Inject:
                if (FirstInjectT < 0) FirstInjectT = e.T;
                metrics?.Injected();
                break;
            case Ev.Ack:
                Acknowledged++;
                var latency = -1L;
                if (matched is { } trigger)
                {
                    latency = Math.Clamp(e.T - trigger.T, 0, MaxTrackableNanos);
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
            case Ev.Notify when matched is { } deactivation:
                var notifyLatency = Math.Clamp(e.T - deactivation.T, 0, MaxTrackableNanos);
                NotifyLatency.RecordValue(notifyLatency);
                metrics?.Notified(notifyLatency);
                break;
        }
    }

    public static LatencySummary Summarise(LongHistogram h) => h.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(
            Micros(h.GetValueAtPercentile(50)), Micros(h.GetValueAtPercentile(90)), Micros(h.GetValueAtPercentile(99)),
            Micros(h.GetValueAtPercentile(99.9)), Micros(h.GetMaxValue()), h.TotalCount);

    private static double Micros(long nanos) => Math.Round(nanos / 1000.0, 1);
}
