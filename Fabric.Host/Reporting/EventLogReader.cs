using System.Text.Json;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;

namespace Fabric.Host.Reporting;

/// <summary>A line of an event log that is not an event of DESIGN.md §5. Exit code 2.</summary>
public sealed class EventLogFormatException(string file, long line, string message)
    : Exception($"{file}:{line}: {message}")
{
    public long Line { get; } = line;
}

/// <summary>
/// Reads an event log (JSON Lines, DESIGN.md §5) back into events, strictly: every line one object with
/// <c>seq</c>, <c>t</c>, <c>ev</c>, <c>vm</c>, <c>vpe</c>, <c>intid</c> and optionally <c>arg</c>, nothing else; blank
/// lines are skipped. The first malformed line stops the read with its line number.
/// </summary>
public static class EventLogReader
{
    /// <summary>The longest line read: an event is a few hundred bytes, so a longer line (a file that is no log, a
    /// line without end) is refused at this length instead of being read into memory.</summary>
    public const int MaxLineBytes = 1 << 20;

    public static IEnumerable<FabricEvent> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[1 << 16];
        int start = 0, end = 0;
        long line = 0;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (newline < 0)
            {
                // Keep the partial line, refill; grow when one line fills the whole buffer.
                if (start > 0) { Buffer.BlockCopy(buffer, start, buffer, 0, end - start); end -= start; start = 0; }
                if (end == buffer.Length)
                {
                    if (buffer.Length >= MaxLineBytes)
                        throw new EventLogFormatException(path, line + 1, $"a line longer than {MaxLineBytes >> 20} MiB: expected one event (a JSON object of a few hundred bytes) per line");
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var n = stream.Read(buffer, end, buffer.Length - end);
                if (n > 0) { end += n; continue; }
                if (end > start) yield return Parse(path, ++line, buffer.AsSpan(start, end - start));
                yield break;
            }
            line++;
            var span = buffer.AsSpan(start, newline - start);
            start = newline + 1;
            if (span.Length > 0 && span[^1] == (byte)'\r') span = span[..^1];
            if (span.Trim((byte)' ').IsEmpty) continue;
            yield return Parse(path, line, span);
        }
    }

    private static FabricEvent Parse(string path, long line, ReadOnlySpan<byte> json)
    {
        EventLogFormatException Bad(string what) => new(path, line, what);
        var r = new Utf8JsonReader(json);
        long? seq = null, t = null;
        Ev? ev = null;
        int? vm = null, vpe = null;
        IntId? intid = null;
        string? arg = null;
        bool hasVpe = false, hasIntId = false;
        try
        {
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) throw Bad("expected a JSON object {\"seq\":...}");
            while (r.Read() && r.TokenType != JsonTokenType.EndObject)
            {
                var key = r.GetString()!;
                r.Read();
                switch (key)
                {
                    case "seq" when seq is null: seq = Number(ref r, key); break;
                    case "t" when t is null: t = Number(ref r, key); break;
                    case "vm" when vm is null: vm = checked((int)Number(ref r, key)); break;
                    case "ev" when ev is null:
                        if (r.TokenType != JsonTokenType.String || !FabricEvent.TryParseName(r.GetString()!, out var e))
                            throw Bad($"\"ev\": expected one of {string.Join(", ", Enum.GetValues<Ev>().Select(FabricEvent.Name))}");
                        ev = e;
                        break;
                    case "vpe" when !hasVpe:
                        hasVpe = true;
                        vpe = r.TokenType == JsonTokenType.Null ? null : checked((int)Number(ref r, key));
                        break;
                    case "intid" when !hasIntId:
                        hasIntId = true;
                        if (r.TokenType == JsonTokenType.Null) break;
                        if (r.TokenType != JsonTokenType.String) throw Bad("\"intid\": expected a string such as \"spi:5\" or null");
                        if (!IntId.TryParse(r.GetString(), out var id, out var why)) throw Bad($"\"intid\": {why}");
                        intid = id;
                        break;
                    case "arg" when arg is null:
                        if (r.TokenType != JsonTokenType.String) throw Bad("\"arg\": expected a string");
                        arg = r.GetString();
                        break;
                    case "seq" or "t" or "vm" or "ev" or "vpe" or "intid" or "arg": throw Bad($"\"{key}\" appears twice");
                    default: throw Bad($"unknown key \"{key}\" (expected seq, t, ev, vm, vpe, intid, arg)");
                }
            }
            if (r.TokenType != JsonTokenType.EndObject) throw Bad("the object is not closed");
            // A second value on the line: the reader refuses it (JsonException) or, if it is only whitespace, reads nothing.
            r.Read();
        }
        catch (JsonException ex) { throw Bad($"not valid JSON: {ex.Message}"); }
        catch (OverflowException) { throw Bad("a number is out of range"); }
        foreach (var (name, present) in new[] { ("seq", seq is not null), ("t", t is not null), ("ev", ev is not null), ("vm", vm is not null), ("vpe", hasVpe), ("intid", hasIntId) })
            if (!present) throw Bad($"missing \"{name}\"");
        if (intid is null && ev is Ev.Inject or Ev.Coalesce or Ev.Pend or Ev.Unpend or Ev.Ack or Ev.Deactivate or Ev.Track
                or Ev.Untrack or Ev.Notify or Ev.Resample or Ev.Enable or Ev.Disable or Ev.Priority or Ev.Affinity)
            throw Bad($"\"{FabricEvent.Name(ev.Value)}\" needs an \"intid\"");
        if (vpe is null && ev is Ev.Eoi or Ev.Doorbell or Ev.Resident or Ev.Nonresident or Ev.Exit or Ev.Ack)
            throw Bad($"\"{FabricEvent.Name(ev.Value)}\" needs a \"vpe\"");
        // The values a checker reads from "arg" (DESIGN.md §5: priority, affinity, nonresident, inject, ack), and a
        // "migrate"'s (Fabric's extension: a VM moved, vpe and intid null): its typed fields, MigrateArg.
        switch (ev)
        {
            case Ev.Migrate when !MigrateArg.TryParse(arg, out _):
                throw Bad("\"migrate\": \"arg\" is words \"bytes=N\", \"us=N\", \"gen=N\", \"handoff\" or \"handoff-out\"");
            case Ev.Priority when !int.TryParse(arg, System.Globalization.NumberStyles.None, null, out var p) || p >= Priority.Levels:
                throw Bad($"\"priority\" needs \"arg\": the new priority 0..{Priority.Levels - 1}");
            case Ev.Affinity when !int.TryParse(arg, System.Globalization.NumberStyles.None, null, out _):
                throw Bad("\"affinity\" needs \"arg\": the IAFFID written (\"vpe\" is the VPE it names, null for none)");
            case Ev.Nonresident when arg != "nodb" && !(arg is ['d', 'b', ':', .. var dbpm] && int.TryParse(dbpm, System.Globalization.NumberStyles.None, null, out _)):
                throw Bad("\"nonresident\" needs \"arg\": \"nodb\" or \"db:DBPM\"");
            case Ev.Inject or Ev.Ack when arg is not (null or "edge" or "level"):
                throw Bad($"\"{FabricEvent.Name(ev.Value)}\": \"arg\" is \"edge\" or \"level\"");
        }
        return new FabricEvent(seq!.Value, t!.Value, ev!.Value, vm!.Value, vpe, intid, arg);

        long Number(ref Utf8JsonReader reader, string key)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var v)) throw Bad($"\"{key}\": expected an integer");
            return v;
        }
    }
}
