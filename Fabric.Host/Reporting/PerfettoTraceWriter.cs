using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Host.Reporting.Perfetto;
using Google.Protobuf;

namespace Fabric.Host.Reporting;

/// <summary>A trace written from a run's events (<c>--trace FILE</c>).</summary>
public interface ITraceSink : IEventSink, IDisposable
{
    /// <summary>Interrupt slices written so far.</summary>
    long Slices { get; }

    /// <summary>The writer for <paramref name="path"/>: Chrome's JSON trace-event format when it ends in <c>.json</c>,
    /// a native Perfetto trace otherwise.</summary>
    static ITraceSink Open(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
        ? new TraceWriter(path)
        : new PerfettoTraceWriter(path);
}

/// <summary>
/// Writes a run as a native Perfetto trace (a <c>Trace</c> of <c>TracePacket</c>s: <c>Reporting/Perfetto/perfetto_trace.proto</c>,
/// opens in ui.perfetto.dev and trace_processor). Each VM is a process track (<c>vm-N</c>, pid N + 1); under it:
/// <list type="bullet">
/// <item>a track per VPE (<c>vpe-N</c>) holding an async slice per handled interrupt, from its acknowledge to its
/// deactivation, named by its INTID. Deactivations come in any order (GICv5 lets a CDDI come in any order, even from
/// another vCPU), so slices overlap: a slice takes the VPE's first free lane, a track of the same name and parent, which
/// the UI shows merged as one VPE track. Doorbells and residency changes are instants on it.</item>
/// <item><c>devices</c>: an instant per trigger (<c>inject</c>); <c>ap-list</c>: an instant per notifier; and the
/// migrations and losses of the VM.</item>
/// <item>counter tracks: <c>ap-list length</c> (tracked SPIs), <c>pending</c> (interrupts pending) and
/// <c>doorbells</c> (raised so far).</item>
/// </list>
/// A flow (id: the trigger's seq) runs from each trigger through the acknowledge that consumed it
/// (<see cref="TriggerMatcher"/>) to the notifier of its deactivation. Timestamps are nanoseconds on the event log's clock.
/// </summary>
public sealed class PerfettoTraceWriter : ITraceSink
{
    private const uint Sequence = 1;
    private readonly FileStream _out;
    private readonly CodedOutputStream _proto;
    private readonly TriggerMatcher _matcher = new();
    private ulong _nextUuid;

    private sealed class VmTracks
    {
        public ulong Process, Devices, ApList, ApListLength, Pending, Doorbells;
        public readonly Dictionary<int, List<(ulong Uuid, bool Busy, ulong FreeAt)>> Lanes = new();
        public readonly HashSet<(IntId, int)> PendingIds = new();
        public readonly HashSet<uint> Tracked = new();
        public long DoorbellCount;
    }

    private readonly Dictionary<int, VmTracks> _vms = new();
    private readonly Dictionary<(int Vm, IntId Id, int Owner), (ulong Lane, int Vpe, int Index, ulong Flow)> _active = new();
    private readonly Dictionary<(int Vm, IntId Id), ulong> _notifyFlow = new();

    public PerfettoTraceWriter(string path)
    {
        _out = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        _proto = new CodedOutputStream(_out, leaveOpen: true);
    }

    public long Slices { get; private set; }

    public void Observe(in FabricEvent e)
    {
        var matched = _matcher.Observe(e);
        var t = (ulong)Math.Max(0, e.T);
        switch (e.Ev)
        {
            case Ev.Inject when e.IntId is { } id:
                Instant(t, Vm(e.Vm).Devices, "inject " + id, flow: (ulong)e.Seq);
                break;
            case Ev.Pend when e.IntId is { } id:
                SetPending(t, e.Vm, id, Owner(id, e.Vpe), true);
                break;
            case Ev.Unpend when e.IntId is { } id:
                SetPending(t, e.Vm, id, Owner(id, e.Vpe), false);
                break;
            case Ev.Ack when e.IntId is { } id:
                var vpe = e.Vpe ?? 0;
                if (e.Arg != "level") SetPending(t, e.Vm, id, Owner(id, e.Vpe), false);
                var (lane, index) = TakeLane(e.Vm, vpe, t);
                var flow = matched is { } trigger ? (ulong)trigger.Seq : 0;
                _active[(e.Vm, id, Owner(id, e.Vpe))] = (lane, vpe, index, flow);
                var begin = Event(TrackEvent.Types.Type.SliceBegin, lane, id.ToString());
                begin.Categories.Add("irq");
                if (flow != 0) begin.FlowIds.Add(flow);
                if (e.Arg is { } mode) begin.DebugAnnotations.Add(new DebugAnnotation { Name = "mode", StringValue = mode });
                Write(t, begin);
                break;
            case Ev.Deactivate when e.IntId is { } id:
                if (!_active.Remove((e.Vm, id, Owner(id, e.Vpe)), out var a)) break;
                Write(t, Event(TrackEvent.Types.Type.SliceEnd, a.Lane, null));
                Vm(e.Vm).Lanes[a.Vpe][a.Index] = (a.Lane, false, t);
                if (a.Flow != 0 && id.IsSpi) _notifyFlow.TryAdd((e.Vm, id), a.Flow);
                Slices++;
                break;
            case Ev.Notify when e.IntId is { } id:
                var notify = Event(TrackEvent.Types.Type.Instant, Vm(e.Vm).ApList, "notify " + id);
                if (_notifyFlow.Remove((e.Vm, id), out var f)) notify.TerminatingFlowIds.Add(f);
                Write(t, notify);
                break;
            case Ev.Track or Ev.Untrack when e.IntId is { } id:
                var tracks = Vm(e.Vm);
                if (e.Ev == Ev.Track ? tracks.Tracked.Add(id.Id) : tracks.Tracked.Remove(id.Id))
                    Counter(t, tracks.ApListLength, tracks.Tracked.Count);
                break;
            case Ev.Doorbell or Ev.Resident or Ev.Nonresident when e.Vpe is { } v:
                var vm = Vm(e.Vm);
                Instant(t, Lane(e.Vm, v, 0), FabricEvent.Name(e.Ev), flow: 0);
                if (e.Ev == Ev.Doorbell) Counter(t, vm.Doorbells, ++vm.DoorbellCount);
                break;
            case Ev.Migrate or Ev.Lost:
                var moved = Event(TrackEvent.Types.Type.Instant, Vm(e.Vm).Devices, FabricEvent.Name(e.Ev));
                if (e.Arg is { } arg) moved.DebugAnnotations.Add(new DebugAnnotation { Name = "arg", StringValue = arg });
                Write(t, moved);
                if (e.Ev == Ev.Lost) Forget(t, e.Vm);
                break;
        }
    }

    private static int Owner(IntId id, int? vpe) => id.IsPpi ? vpe ?? 0 : -1;

    private void SetPending(ulong t, int vm, IntId id, int owner, bool pending)
    {
        var tracks = Vm(vm);
        if (pending ? tracks.PendingIds.Add((id, owner)) : tracks.PendingIds.Remove((id, owner)))
            Counter(t, tracks.Pending, tracks.PendingIds.Count);
    }

    /// <summary>A lost VM's state is gone: its slices end, its counters fall to zero.</summary>
    private void Forget(ulong t, int vm)
    {
        foreach (var key in _active.Keys.Where(k => k.Vm == vm).ToList())
        {
            _active.Remove(key, out var a);
            Write(t, Event(TrackEvent.Types.Type.SliceEnd, a.Lane, null));
            Vm(vm).Lanes[a.Vpe][a.Index] = (a.Lane, false, t);
        }
        var tracks = Vm(vm);
        tracks.PendingIds.Clear();
        tracks.Tracked.Clear();
        Counter(t, tracks.Pending, 0);
        Counter(t, tracks.ApListLength, 0);
    }

    private VmTracks Vm(int vm)
    {
        if (_vms.TryGetValue(vm, out var tracks)) return tracks;
        tracks = new VmTracks { Process = ++_nextUuid };
        _vms[vm] = tracks;
        Describe(new TrackDescriptor { Uuid = tracks.Process, Process = new ProcessDescriptor { Pid = vm + 1, ProcessName = $"vm-{vm}" } });
        tracks.Devices = Child(tracks.Process, "devices");
        tracks.ApList = Child(tracks.Process, "ap-list");
        tracks.ApListLength = Child(tracks.Process, "ap-list length", counter: true);
        tracks.Pending = Child(tracks.Process, "pending", counter: true);
        tracks.Doorbells = Child(tracks.Process, "doorbells", counter: true);
        return tracks;
    }

    private ulong Child(ulong parent, string name, bool counter = false)
    {
        var uuid = ++_nextUuid;
        var track = new TrackDescriptor { Uuid = uuid, ParentUuid = parent, Name = name };
        if (counter) track.Counter = new CounterDescriptor { Unit = CounterDescriptor.Types.Unit.Count };
        Describe(track);
        return uuid;
    }

    /// <summary>The VPE's lane <paramref name="index"/>, made (and described) the first time it is needed.</summary>
    private ulong Lane(int vm, int vpe, int index)
    {
        var tracks = Vm(vm);
        if (!tracks.Lanes.TryGetValue(vpe, out var lanes)) tracks.Lanes[vpe] = lanes = new();
        while (lanes.Count <= index) lanes.Add((Child(tracks.Process, $"vpe-{vpe}"), false, 0));
        return lanes[index].Uuid;
    }

    /// <summary>The VPE's first lane that is free at <paramref name="t"/>: no slice open on it, and its last one ended
    /// by then (events of different threads may reach the log a little out of time order; a slice must not start on a
    /// lane before the previous one there ended).</summary>
    private (ulong Uuid, int Index) TakeLane(int vm, int vpe, ulong t)
    {
        Lane(vm, vpe, 0);
        var lanes = Vm(vm).Lanes[vpe];
        var index = lanes.FindIndex(l => !l.Busy && l.FreeAt <= t);
        if (index < 0) index = lanes.Count;
        var uuid = Lane(vm, vpe, index);
        lanes[index] = (uuid, true, 0);
        return (uuid, index);
    }

    private static TrackEvent Event(TrackEvent.Types.Type type, ulong track, string? name)
    {
        var e = new TrackEvent { Type = type, TrackUuid = track };
        if (name is not null) e.Name = name;
        return e;
    }

    private void Instant(ulong t, ulong track, string name, ulong flow)
    {
        var e = Event(TrackEvent.Types.Type.Instant, track, name);
        if (flow != 0) e.FlowIds.Add(flow);
        Write(t, e);
    }

    private void Counter(ulong t, ulong track, long value) =>
        Write(t, new TrackEvent { Type = TrackEvent.Types.Type.Counter, TrackUuid = track, CounterValue = value });

    private void Describe(TrackDescriptor track) =>
        Append(new TracePacket { TrackDescriptor = track, TrustedPacketSequenceId = Sequence });

    private void Write(ulong t, TrackEvent e) =>
        Append(new TracePacket { Timestamp = t, TrackEvent = e, TrustedPacketSequenceId = Sequence });

    /// <summary>One packet of the Trace: field 1, length-delimited; the file is a Trace at every packet boundary.</summary>
    private void Append(TracePacket packet)
    {
        _proto.WriteTag(Trace.PacketFieldNumber, WireFormat.WireType.LengthDelimited);
        _proto.WriteMessage(packet);
    }

    public void Dispose()
    {
        _proto.Flush();
        _proto.Dispose();
        _out.Dispose();
    }
}
