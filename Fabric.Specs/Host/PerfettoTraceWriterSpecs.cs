using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Host.Reporting;
using Fabric.Host.Reporting.Perfetto;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>The native Perfetto trace, decoded with its own schema: a process track per VM, VPE tracks holding an async
/// slice per interrupt from acknowledge to deactivation (overlapping slices on lanes of one name), a flow from the
/// trigger through the acknowledge to the notifier, and counter tracks.</summary>
public sealed class PerfettoTraceWriterSpecs : IDisposable
{
    private static readonly IntId S5 = IntId.Spi(5), S6 = IntId.Spi(6);
    private readonly TempFolder _dir = new();
    private long _seq;

    public void Dispose() => _dir.Dispose();

    private FabricEvent E(long t, Ev ev, IntId? id, int? vpe = null, string? arg = null) => new(++_seq, t, ev, 0, vpe, id, arg);

    /// <summary>Two SPIs acknowledged by vCPU 0 and deactivated in the order they came (5 then 6: the slices overlap
    /// without nesting); SPI 5 tracked and notified; a doorbell for VPE 1.</summary>
    private List<TracePacket> WriteAndDecode(out string file, out long inject5)
    {
        file = _dir.File("run.perfetto-trace");
        var events = new[]
        {
            E(1_000, Ev.Inject, S5, arg: "edge"), E(1_100, Ev.Track, S5), E(1_200, Ev.Pend, S5, 0),
            E(2_000, Ev.Inject, S6, arg: "edge"), E(2_100, Ev.Pend, S6, 0),
            E(3_000, Ev.Ack, S5, 0, "edge"), E(4_000, Ev.Ack, S6, 0, "edge"),
            E(5_000, Ev.Deactivate, S5, 0), E(5_100, Ev.Untrack, S5), E(5_500, Ev.Notify, S5),
            E(6_000, Ev.Deactivate, S6, 0),
            E(7_000, Ev.Doorbell, S6, 1),
        };
        inject5 = events[0].Seq;
        using (var trace = ITraceSink.Open(file))
        {
            Assert.IsType<PerfettoTraceWriter>(trace);
            foreach (var e in events) trace.Observe(e);
            Assert.Equal(2, trace.Slices);
        }
        return [.. Trace.Parser.ParseFrom(File.ReadAllBytes(file)).Packet];
    }

    private static Dictionary<ulong, TrackDescriptor> Tracks(List<TracePacket> packets) =>
        packets.Where(p => p.DataCase == TracePacket.DataOneofCase.TrackDescriptor).ToDictionary(p => p.TrackDescriptor.Uuid, p => p.TrackDescriptor);

    [Fact]
    public void A_vm_is_a_process_track_and_its_vpes_and_counters_are_tracks_under_it()
    {
        var packets = WriteAndDecode(out _, out _);
        var tracks = Tracks(packets);
        var vm = Assert.Single(tracks.Values, t => t.Process is not null);
        Assert.Equal("vm-0", vm.Process.ProcessName);
        Assert.Equal(1, vm.Process.Pid);
        Assert.All(tracks.Values.Where(t => t != vm), t => Assert.Equal(vm.Uuid, t.ParentUuid));
        Assert.Contains(tracks.Values, t => t.Name == "vpe-1");
        Assert.Equal(["ap-list length", "doorbells", "pending"], tracks.Values.Where(t => t.Counter is not null).Select(t => t.Name).Order());
        Assert.All(packets, p => Assert.Equal(1u, p.TrustedPacketSequenceId));
        // Every event is on a described track, after its description.
        var described = new HashSet<ulong>();
        foreach (var p in packets)
        {
            if (p.DataCase == TracePacket.DataOneofCase.TrackDescriptor) described.Add(p.TrackDescriptor.Uuid);
            else Assert.Contains(p.TrackEvent.TrackUuid, described);
        }
    }

    [Fact]
    public void Overlapping_interrupts_are_async_slices_on_lanes_of_their_vpes_track()
    {
        var packets = WriteAndDecode(out _, out _);
        var tracks = Tracks(packets);
        var slices = packets.Where(p => p.TrackEvent is { Type: TrackEvent.Types.Type.SliceBegin or TrackEvent.Types.Type.SliceEnd }).ToList();
        Assert.Equal(4, slices.Count);
        var begin5 = Assert.Single(slices, p => p.TrackEvent.Name == "spi:5");
        var begin6 = Assert.Single(slices, p => p.TrackEvent.Name == "spi:6");
        Assert.Equal((3_000ul, 4_000ul), (begin5.Timestamp, begin6.Timestamp));
        Assert.NotEqual(begin5.TrackEvent.TrackUuid, begin6.TrackEvent.TrackUuid);
        Assert.Equal("vpe-0", tracks[begin5.TrackEvent.TrackUuid].Name);
        Assert.Equal("vpe-0", tracks[begin6.TrackEvent.TrackUuid].Name);
        Assert.Equal("edge", Assert.Single(begin5.TrackEvent.DebugAnnotations).StringValue);
        // Each lane ends its own slice: 5 at 5,000 ns, 6 at 6,000 ns (not nested: 5 ends first).
        var ends = slices.Where(p => p.TrackEvent.Type == TrackEvent.Types.Type.SliceEnd).ToDictionary(p => p.TrackEvent.TrackUuid, p => p.Timestamp);
        Assert.Equal(5_000ul, ends[begin5.TrackEvent.TrackUuid]);
        Assert.Equal(6_000ul, ends[begin6.TrackEvent.TrackUuid]);
    }

    [Fact]
    public void A_flow_runs_from_the_trigger_through_the_acknowledge_to_the_notifier()
    {
        var packets = WriteAndDecode(out _, out var inject5);
        var flow = (ulong)inject5;
        var inject = Assert.Single(packets, p => p.TrackEvent?.Name == "inject spi:5");
        Assert.Equal(TrackEvent.Types.Type.Instant, inject.TrackEvent.Type);
        Assert.Equal([flow], inject.TrackEvent.FlowIds);
        Assert.Equal([flow], Assert.Single(packets, p => p.TrackEvent?.Name == "spi:5").TrackEvent.FlowIds);
        var notify = Assert.Single(packets, p => p.TrackEvent?.Name == "notify spi:5");
        Assert.Equal([flow], notify.TrackEvent.TerminatingFlowIds);
        Assert.Equal(5_500ul, notify.Timestamp);
        // spi:6's flow has its own id and ends at its acknowledge (it was not tracked: no notifier).
        Assert.DoesNotContain(flow, Assert.Single(packets, p => p.TrackEvent?.Name == "spi:6").TrackEvent.FlowIds);
    }

    [Fact]
    public void Counter_tracks_follow_the_ap_list_the_pending_interrupts_and_the_doorbells()
    {
        var packets = WriteAndDecode(out _, out _);
        var tracks = Tracks(packets);
        List<(ulong T, long V)> Values(string name) =>
            [.. packets.Where(p => p.TrackEvent is { Type: TrackEvent.Types.Type.Counter } e && tracks[e.TrackUuid].Name == name)
                .Select(p => (p.Timestamp, p.TrackEvent.CounterValue))];
        Assert.Equal([(1_100ul, 1L), (5_100ul, 0L)], Values("ap-list length"));
        Assert.Equal([(1_200ul, 1L), (2_100ul, 2L), (3_000ul, 1L), (4_000ul, 0L)], Values("pending"));
        Assert.Equal([(7_000ul, 1L)], Values("doorbells"));
    }

    [Fact]
    public void A_trace_named_json_is_still_chromes_json()
    {
        var file = _dir.File("run.json");
        using (var trace = ITraceSink.Open(file))
            Assert.IsType<TraceWriter>(trace);
        Assert.StartsWith("{", File.ReadAllText(file));
    }
}
