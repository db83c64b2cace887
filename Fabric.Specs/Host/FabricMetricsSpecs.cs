using System.Diagnostics.Metrics;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Host.Reporting;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>The live metrics (meter "Fabric") follow the event stream as the host consumes it: what a MeterListener —
/// dotnet-counters, an exporter — sees is what the report counts.</summary>
public sealed class FabricMetricsSpecs : IDisposable
{
    private static readonly IntId S5 = IntId.Spi(5);
    private readonly FabricMetrics _metrics = new();
    private readonly MeterListener _listener = new();
    private readonly List<(string Name, double Value)> _seen = new();
    private long _seq;

    public FabricMetricsSpecs()
    {
        // Only this spec's meter: other specs' runs in this process have meters of the same name.
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, _metrics.Meter)) l.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, _, _) => _seen.Add((i.Name, v)));
        _listener.SetMeasurementEventCallback<double>((i, v, _, _) => _seen.Add((i.Name, v)));
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _metrics.Dispose();
    }

    private FabricEvent E(long t, Ev ev, IntId? id, int? vpe = null, string? arg = null, int vm = 0) => new(++_seq, t, ev, vm, vpe, id, arg);

    private double Sum(string name) => _seen.Where(m => m.Name == name).Sum(m => m.Value);

    [Fact]
    public void The_meter_is_named_Fabric_and_publishes_each_metric_the_readme_lists()
    {
        Assert.Equal("Fabric", _metrics.Meter.Name);
        var published = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, _) => { if (ReferenceEquals(i.Meter, _metrics.Meter)) published.Add(i.Name); },
        };
        listener.Start();
        Assert.Equal(["fabric.ack.latency", "fabric.doorbells", "fabric.handoffs", "fabric.injected", "fabric.lifecycles", "fabric.notifier.latency"],
            published.Order());
    }

    [Fact]
    public void Each_lifecycle_counts_its_trigger_its_acknowledge_and_its_latencies()
    {
        var report = new ReportBuilder(_metrics);
        foreach (var e in new[]
                 {
                     E(1_000, Ev.Inject, S5, arg: "edge"), E(1_500, Ev.Pend, S5, 0), E(41_000, Ev.Ack, S5, 0, "edge"),
                     E(50_000, Ev.Deactivate, S5, 0), E(53_000, Ev.Notify, S5),
                     E(60_000, Ev.Inject, S5, arg: "edge"), E(61_000, Ev.Pend, S5, 0), E(71_000, Ev.Ack, S5, 0, "edge"),
                 })
            report.Observe(e);

        Assert.Equal(2, Sum("fabric.injected"));
        Assert.Equal(2, Sum("fabric.lifecycles"));
        Assert.Equal([40.0, 11.0], _seen.Where(m => m.Name == "fabric.ack.latency").Select(m => m.Value));   // µs
        Assert.Equal([3.0], _seen.Where(m => m.Name == "fabric.notifier.latency").Select(m => m.Value));
        Assert.Equal(report.Acknowledged, Sum("fabric.lifecycles"));
    }

    [Fact]
    public void Doorbells_and_handoffs_are_counted_and_a_local_migration_is_not_a_handoff()
    {
        var report = new ReportBuilder(_metrics);
        report.Observe(E(1_000, Ev.Doorbell, S5, 2));
        report.Observe(E(2_000, Ev.Doorbell, null, 3));
        report.Observe(E(3_000, Ev.Migrate, null, arg: "bytes=812 us=1500"));
        report.Observe(E(4_000, Ev.Migrate, null, arg: "bytes=812 us=5100000 handoff", vm: 1));

        Assert.Equal(2, Sum("fabric.doorbells"));
        Assert.Equal(1, Sum("fabric.handoffs"));
        Assert.Equal(report.Handoffs, Sum("fabric.handoffs"));
    }

    [Fact]
    public void A_report_without_metrics_emits_nothing()
    {
        var report = new ReportBuilder();
        report.Observe(E(1_000, Ev.Inject, S5, arg: "edge"));
        report.Observe(E(1_500, Ev.Pend, S5, 0));
        report.Observe(E(2_000, Ev.Ack, S5, 0, "edge"));
        Assert.Empty(_seen);
        Assert.Equal(1, report.Acknowledged);
    }
}
