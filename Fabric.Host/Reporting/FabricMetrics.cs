using System.Diagnostics.Metrics;

namespace Fabric.Host.Reporting;

/// <summary>
/// A run's live metrics, through System.Diagnostics.Metrics on a meter named <see cref="MeterName"/>: what
/// <c>dotnet-counters monitor -n Fabric.Host --counters Fabric</c> (or any MeterListener, OpenTelemetry exporter...)
/// shows while the run goes on. They are emitted by the host as it consumes the event stream (<see cref="ReportBuilder"/>
/// calls them), never by the actors: the fabric stays lock-free and pays nothing for them. Counters are totals; a
/// monitor shows them as rates (lifecycles/s, doorbells/s).
/// </summary>
public sealed class FabricMetrics : IDisposable
{
    public const string MeterName = "Fabric";

    private readonly Counter<long> _injected, _lifecycles, _doorbells, _handoffs;
    private readonly Histogram<double> _notifierLatency, _ackLatency;

    public FabricMetrics()
    {
        Meter = new Meter(MeterName, typeof(FabricMetrics).Assembly.GetName().Version?.ToString());
        _injected = Meter.CreateCounter<long>("fabric.injected", "{trigger}", "Device triggers (edge writes and level assertions)");
        _lifecycles = Meter.CreateCounter<long>("fabric.lifecycles", "{interrupt}", "Interrupts acknowledged by a guest (CDIA): one per lifecycle");
        _doorbells = Meter.CreateCounter<long>("fabric.doorbells", "{doorbell}", "Doorbells raised for non-resident VPEs");
        _handoffs = Meter.CreateCounter<long>("fabric.handoffs", "{vm}", "VMs handed off to another node with their state");
        _notifierLatency = Meter.CreateHistogram<double>("fabric.notifier.latency", "us", "From an SPI's deactivation to its deactivation notifier");
        _ackLatency = Meter.CreateHistogram<double>("fabric.ack.latency", "us", "From a device's trigger to the guest's acknowledge");
    }

    /// <summary>This run's meter (one per run, so that a listener can tell two runs of one process apart).</summary>
    public Meter Meter { get; }

    public void Injected() => _injected.Add(1);

    public void Acknowledged(long latencyNanos)
    {
        _lifecycles.Add(1);
        if (latencyNanos >= 0) _ackLatency.Record(latencyNanos / 1000.0);
    }

    public void Doorbell() => _doorbells.Add(1);

    public void Handoff() => _handoffs.Add(1);

    public void Notified(long latencyNanos) => _notifierLatency.Record(latencyNanos / 1000.0);

    public void Dispose() => Meter.Dispose();
}
