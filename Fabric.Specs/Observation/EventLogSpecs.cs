using Fabric.Actors.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;
using Xunit;

namespace Fabric.Specs.Observation;

/// <summary>The event log's seq: one counter, so an effect logged after its cause has the higher seq. A log that does
/// not record keeps no order, so it takes no seq: it counts, and its last seq still moves with every event.</summary>
public class EventLogSpecs
{
    [Fact]
    public void Each_event_takes_the_next_seq_and_last_seq_is_the_latest()
    {
        var log = new EventLog();
        var a = log.Log(Ev.Inject, 0, null, IntId.Spi(5));
        var b = log.Log(Ev.Pend, 0, null, IntId.Spi(5));
        Assert.Equal((1L, 2L, 2L), (a, b, log.LastSeq));
        var events = new List<FabricEvent>();
        log.Drain(events);
        Assert.Equal([1L, 2L], events.Select(e => e.Seq));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_unsequenced_log_that_records_is_refused(bool count)
    {
        var e = Assert.Throws<ArgumentException>(() => new EventLog(record: true, count, sequenced: false));
        Assert.Contains("unsequenced", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_log_that_does_not_record_takes_no_seq_counts_and_its_last_seq_still_moves_with_every_event(bool count)
    {
        var log = new EventLog(record: false, count);
        Assert.Equal(0, log.Log(Ev.Inject, 0, null, IntId.Spi(5)));
        log.Log(Ev.Ack, 0, 0, IntId.Spi(5));
        Assert.Equal(2, log.LastSeq);
        Assert.Equal(1, log.Count(Ev.Ack));
    }

    [Fact]
    public void A_log_that_does_not_record_takes_the_shared_seq_when_asked_to()
    {
        var log = new EventLog(record: false, count: true, sequenced: true);
        Assert.Equal(1, log.Log(Ev.Inject, 0, null, IntId.Spi(5)));
        Assert.Equal(2, log.Log(Ev.Ack, 0, 0, IntId.Spi(5)));
        Assert.Equal(1, log.Count(Ev.Ack));
    }
}
