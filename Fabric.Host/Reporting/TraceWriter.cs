using System.Text.Json;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;

namespace Fabric.Host.Reporting;

/// <summary>
/// Writes a run as a Chrome trace-event file (the JSON Object Format; opens in Perfetto and chrome://tracing): one
/// process per VM (pid = VM), one thread per VPE (tid = VPE); a complete slice ("X") per handled interrupt from its
/// acknowledge to its deactivation, named by its INTID; instants ("i") for doorbells and residency changes on the VPE's
/// thread, and for each live migration (<c>migrate</c>, Fabric's extension of the log) on the VM's process, its
/// <c>arg</c> ("bytes=N us=N", "... handoff" when it moved to another node) attached, and for each VM lost with its node
/// (<c>lost</c>). Timestamps are microseconds on the event log's clock.
/// </summary>
public sealed class TraceWriter : ITraceSink
{
    private static readonly JsonEncodedText Name = JsonEncodedText.Encode("name"), Ph = JsonEncodedText.Encode("ph"),
        Ts = JsonEncodedText.Encode("ts"), Dur = JsonEncodedText.Encode("dur"), Pid = JsonEncodedText.Encode("pid"),
        Tid = JsonEncodedText.Encode("tid"), Cat = JsonEncodedText.Encode("cat"), S = JsonEncodedText.Encode("s"),
        Args = JsonEncodedText.Encode("args"), X = JsonEncodedText.Encode("X"), I = JsonEncodedText.Encode("i"),
        M = JsonEncodedText.Encode("M"), Thread = JsonEncodedText.Encode("t"), Irq = JsonEncodedText.Encode("irq"),
        Residency = JsonEncodedText.Encode("residency"), Migration = JsonEncodedText.Encode("migration"),
        Cluster = JsonEncodedText.Encode("cluster"),
        Process = JsonEncodedText.Encode("p"), Mode = JsonEncodedText.Encode("mode"), Arg = JsonEncodedText.Encode("arg");

    private readonly FileStream _out;
    private readonly Utf8JsonWriter _json;
    private readonly Dictionary<(int Vm, IntId Id, int Owner), (long T, int Vpe, string? Mode)> _active = new();
    private readonly HashSet<int> _vms = new();
    private readonly HashSet<(int, int)> _vpes = new();

    public TraceWriter(string path)
    {
        _out = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        _json = new Utf8JsonWriter(_out);
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ns");
        _json.WriteStartArray("traceEvents");
    }

    public long Slices { get; private set; }

    public void Observe(in FabricEvent e)
    {
        switch (e.Ev)
        {
            case Ev.Ack when e.IntId is { } id:
                _active[(e.Vm, id, id.IsPpi ? e.Vpe ?? 0 : -1)] = (e.T, e.Vpe ?? 0, e.Arg);
                break;
            case Ev.Deactivate when e.IntId is { } id:
                if (!_active.Remove((e.Vm, id, id.IsPpi ? e.Vpe ?? 0 : -1), out var a)) break;
                Track(e.Vm, a.Vpe);
                _json.WriteStartObject();
                Span<char> text = stackalloc char[16];
                _json.WriteString(Name, EventLogWriter.Format(id, text));
                _json.WriteString(Cat, Irq);
                _json.WriteString(Ph, X);
                _json.WriteNumber(Ts, a.T / 1000.0);
                _json.WriteNumber(Dur, Math.Max(0, e.T - a.T) / 1000.0);
                _json.WriteNumber(Pid, e.Vm);
                _json.WriteNumber(Tid, a.Vpe);
                if (a.Mode is { } mode)
                {
                    _json.WriteStartObject(Args);
                    _json.WriteString(Mode, mode);
                    _json.WriteEndObject();
                }
                _json.WriteEndObject();
                Slices++;
                break;
            case Ev.Doorbell or Ev.Resident or Ev.Nonresident when e.Vpe is { } vpe:
                Track(e.Vm, vpe);
                _json.WriteStartObject();
                _json.WriteString(Name, FabricEvent.Name(e.Ev));
                _json.WriteString(Cat, Residency);
                _json.WriteString(Ph, I);
                _json.WriteString(S, Thread);
                _json.WriteNumber(Ts, e.T / 1000.0);
                _json.WriteNumber(Pid, e.Vm);
                _json.WriteNumber(Tid, vpe);
                if (e.Arg is not null || e.IntId is not null)
                {
                    _json.WriteStartObject(Args);
                    if (e.Arg is { } x) _json.WriteString(Arg, x);
                    if (e.IntId is { } iid) _json.WriteString("intid", iid.ToString());
                    _json.WriteEndObject();
                }
                _json.WriteEndObject();
                break;
            case Ev.Migrate or Ev.Lost:
                Track(e.Vm);
                _json.WriteStartObject();
                _json.WriteString(Name, FabricEvent.Name(e.Ev));
                _json.WriteString(Cat, e.Ev == Ev.Lost ? Cluster : Migration);
                _json.WriteString(Ph, I);
                _json.WriteString(S, Process);
                _json.WriteNumber(Ts, e.T / 1000.0);
                _json.WriteNumber(Pid, e.Vm);
                if (e.Arg is { } moved)
                {
                    _json.WriteStartObject(Args);
                    _json.WriteString(Arg, moved);
                    _json.WriteEndObject();
                }
                _json.WriteEndObject();
                break;
            default:
                return;
        }
        if (_json.BytesPending >= 1 << 16) _json.Flush();
    }

    /// <summary>Names a VM's process and a VPE's thread the first time they appear.</summary>
    private void Track(int vm, int vpe)
    {
        Track(vm);
        if (_vpes.Add((vm, vpe))) Metadata("thread_name", vm, vpe, $"vpe-{vpe}");
    }

    private void Track(int vm)
    {
        if (_vms.Add(vm)) Metadata("process_name", vm, null, $"vm-{vm}");
    }

    private void Metadata(string name, int pid, int? tid, string value)
    {
        _json.WriteStartObject();
        _json.WriteString(Name, name);
        _json.WriteString(Ph, M);
        _json.WriteNumber(Pid, pid);
        if (tid is { } t) _json.WriteNumber(Tid, t);
        _json.WriteStartObject(Args);
        _json.WriteString(Name, value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    public void Dispose()
    {
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        _json.Dispose();
        _out.Dispose();
    }
}
