using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;

namespace Fabric.Host.Reporting;

/// <summary>
/// Writes the event log of DESIGN.md §5 as JSON Lines, one event per line, keys in this order:
/// <c>{"seq":1,"t":1234,"ev":"inject","vm":0,"vpe":null,"intid":"spi:5"}</c>, plus <c>"arg"</c> when the event has one.
/// A streaming writer: one <see cref="Utf8JsonWriter"/> over a reused buffer, property names and event names
/// pre-encoded, INTIDs formatted on the stack — nothing allocated per event.
/// </summary>
public sealed class EventLogWriter : IEventSink, IDisposable
{
    private static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq"), T = JsonEncodedText.Encode("t"),
        EvKey = JsonEncodedText.Encode("ev"), Vm = JsonEncodedText.Encode("vm"), Vpe = JsonEncodedText.Encode("vpe"),
        IntIdKey = JsonEncodedText.Encode("intid"), Arg = JsonEncodedText.Encode("arg");
    private static readonly JsonEncodedText[] EvNames = Enum.GetValues<Ev>().Select(e => JsonEncodedText.Encode(FabricEvent.Name(e))).ToArray();
    private const int FlushAt = 1 << 16;

    private readonly FileStream _out;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushAt * 2);
    private readonly Utf8JsonWriter _json;

    public EventLogWriter(string path)
    {
        Path = path;
        _out = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        // SkipValidation: the writer holds one object at a time and is Reset after each, so no separator is written.
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    public string Path { get; }
    public long Written { get; private set; }

    public void Observe(in FabricEvent e)
    {
        _json.WriteStartObject();
        _json.WriteNumber(Seq, e.Seq);
        _json.WriteNumber(T, e.T);
        _json.WriteString(EvKey, EvNames[(int)e.Ev]);
        _json.WriteNumber(Vm, e.Vm);
        if (e.Vpe is { } vpe) _json.WriteNumber(Vpe, vpe);
        else _json.WriteNull(Vpe);
        if (e.IntId is { } id)
        {
            Span<char> text = stackalloc char[16];
            _json.WriteString(IntIdKey, Format(id, text));
        }
        else _json.WriteNull(IntIdKey);
        if (e.Arg is { } arg) _json.WriteString(Arg, arg);
        _json.WriteEndObject();
        _json.Flush();
        _json.Reset();
        _buffer.Write("\n"u8);
        Written++;
        if (_buffer.WrittenCount >= FlushAt) Flush();
    }

    /// <summary><c>spi:5</c>, as <see cref="IntId.ToString"/> writes it, into <paramref name="into"/>.</summary>
    public static ReadOnlySpan<char> Format(IntId id, Span<char> into)
    {
        var prefix = id.Type switch { IntIdType.Spi => "spi:", IntIdType.Lpi => "lpi:", _ => "ppi:" };
        prefix.CopyTo(into);
        id.Id.TryFormat(into[prefix.Length..], out var n, default, CultureInfo.InvariantCulture);
        return into[..(prefix.Length + n)];
    }

    private void Flush()
    {
        _out.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }

    public void Dispose()
    {
        try { Flush(); }
        finally
        {
            _json.Dispose();
            _out.Dispose();
        }
    }
}
