using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Host.Reporting;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>How the report turns events into latencies: a trigger is matched to the acknowledge of the pending state it
/// created (coalesced triggers have none of their own), a notification to the first consumption it answers.</summary>
public sealed class ReportBuilderSpecs
{
    private static readonly IntId S5 = IntId.Spi(5), S6 = IntId.Spi(6), P27 = IntId.Ppi(27);
    private long _seq;

    private FabricEvent E(long t, Ev ev, IntId? id, int? vpe = null, string? arg = null) => new(++_seq, t, ev, 0, vpe, id, arg);

    private static ReportBuilder Feed(params FabricEvent[] events)
    {
        var b = new ReportBuilder();
        foreach (var e in events) b.Observe(e);
        return b;
    }

    [Fact]
    public void Latency_runs_from_the_trigger_to_the_acknowledge_of_the_state_it_made_pending()
    {
        var b = Feed(E(1_000, Ev.Inject, S5, arg: "edge"), E(1_500, Ev.Pend, S5, 0), E(41_000, Ev.Ack, S5, 0, "edge"));

        Assert.Equal(1, b.Latency.TotalCount);
        Assert.Equal(40.0, ReportBuilder.Summarise(b.Latency).Max, 1);   // (41,000 - 1,000) ns = 40 µs
        Assert.Equal(0, b.InFlight);
    }

    [Fact]
    public void A_coalesced_trigger_has_no_acknowledge_of_its_own_the_first_trigger_is_measured()
    {
        var b = Feed(
            E(1_000, Ev.Inject, S5, arg: "edge"), E(2_000, Ev.Inject, S5, arg: "edge"),
            E(3_000, Ev.Pend, S5, 0), E(4_000, Ev.Coalesce, S5, 0),
            E(11_000, Ev.Ack, S5, 0, "edge"));

        Assert.Equal(1, b.Latency.TotalCount);
        Assert.Equal(10.0, ReportBuilder.Summarise(b.Latency).Max, 1);
        Assert.Equal(0, b.InFlight);
    }

    [Fact]
    public void A_trigger_that_arrives_while_active_is_measured_to_its_own_later_acknowledge()
    {
        var b = Feed(
            E(1_000, Ev.Inject, S5, arg: "edge"), E(2_000, Ev.Pend, S5, 0), E(3_000, Ev.Ack, S5, 0, "edge"),
            E(5_000, Ev.Inject, S5, arg: "edge"), E(6_000, Ev.Pend, S5, 0),
            E(7_000, Ev.Deactivate, S5, 0), E(25_000, Ev.Ack, S5, 0, "edge"));

        Assert.Equal(2, b.Latency.TotalCount);
        Assert.Equal(2.0, ReportBuilder.Summarise(b.Latency).P50, 1);     // 3,000 - 1,000
        Assert.Equal(20.0, ReportBuilder.Summarise(b.Latency).Max, 1);    // 25,000 - 5,000
    }

    [Fact]
    public void An_unpended_trigger_is_never_acknowledged_and_leaves_no_sample()
    {
        var b = Feed(E(1_000, Ev.Inject, S6, arg: "level"), E(2_000, Ev.Pend, S6, 0), E(3_000, Ev.Unpend, S6, 0));

        Assert.Equal(0, b.Latency.TotalCount);
        Assert.Equal(0, b.InFlight);
    }

    [Fact]
    public void A_ppi_is_matched_per_vpe()
    {
        var b = Feed(
            E(1_000, Ev.Inject, P27, 0, "edge"), E(1_000, Ev.Inject, P27, 1, "edge"),
            E(2_000, Ev.Pend, P27, 0), E(2_000, Ev.Pend, P27, 1),
            E(9_000, Ev.Ack, P27, 1, "edge"), E(31_000, Ev.Ack, P27, 0, "edge"));

        Assert.Equal(2, b.Latency.TotalCount);
        Assert.Equal(8.0, ReportBuilder.Summarise(b.Latency).P50, 1);
        Assert.Equal(30.0, ReportBuilder.Summarise(b.Latency).Max, 1);
    }

    [Fact]
    public void Notify_latency_runs_from_the_first_consumption_since_the_previous_notification()
    {
        var b = Feed(
            E(10_000, Ev.Deactivate, S5, 0), E(12_000, Ev.Notify, S5),                        // push: 2 µs
            E(20_000, Ev.Deactivate, S5, 0), E(30_000, Ev.Deactivate, S5, 1), E(70_000, Ev.Notify, S5));   // fold: one for both, 50 µs

        Assert.Equal(2, b.NotifyLatency.TotalCount);
        Assert.Equal(2.0, ReportBuilder.Summarise(b.NotifyLatency).P50, 1);
        Assert.Equal(50.0, ReportBuilder.Summarise(b.NotifyLatency).Max, 1);
    }

    [Fact]
    public void Throughput_counts_acknowledges_per_100ms_from_the_first_injection()
    {
        const long ms = 1_000_000;
        var b = Feed(
            E(1_000 * ms, Ev.Inject, S5, arg: "edge"), E(1_000 * ms, Ev.Pend, S5, 0), E(1_050 * ms, Ev.Ack, S5, 0, "edge"),
            E(1_060 * ms, Ev.Ack, S6, 1, "edge"), E(1_250 * ms, Ev.Ack, S5, 0, "edge"), E(1_300 * ms, Ev.Exit, null, 0));

        Assert.Equal([2, 0, 1], b.AcksPerBin);
        Assert.Equal(0.3, b.ElapsedSeconds, 3);
    }

    [Fact]
    public void The_event_log_writer_and_reader_round_trip_every_field()
    {
        using var dir = new TempFolder();
        var file = dir.File("round-trip.jsonl");
        FabricEvent[] events =
        [
            E(1, Ev.Inject, S5, null, "edge"), E(2, Ev.Pend, S5, 3), E(3, Ev.Offer, null, 1), E(4, Ev.Nonresident, null, 2, "db:31"),
            E(5, Ev.Priority, IntId.Lpi(8192), null, "7"), E(6, Ev.Ack, P27, 0, "level"), E(long.MaxValue / 2, Ev.Exit, null, 511),
        ];

        using (var w = new EventLogWriter(file))
            foreach (var e in events) w.Observe(e);
        var back = EventLogReader.Read(file).ToArray();

        Assert.Equal(events, back);
    }
}
