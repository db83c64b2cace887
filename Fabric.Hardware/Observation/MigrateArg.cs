using System.Globalization;

namespace Fabric.Hardware.Observation;

/// <summary>Which side of a move a <c>migrate</c> event records.</summary>
public enum MoveKind : byte
{
    /// <summary>A VM moved to fresh units on its node.</summary>
    Local,
    /// <summary>A VM arrived from another node (a shard handoff) and runs here.</summary>
    HandOffIn,
    /// <summary>A VM left this node for another (its snapshot is stored; it runs next where its shard goes).</summary>
    HandOffOut,
}

/// <summary>
/// The typed fields of a <c>migrate</c> event (<see cref="FabricEvent.Migration"/>): which side of a move it records, the
/// size of the interrupt state it carried, how long the VM was stopped, and the generation of its units after an arrival
/// or at a departure. In the event log they are the event's <c>arg</c>, written by <see cref="Format"/> and read back by
/// <see cref="TryParse"/> — the one writer and the one reader of that text: <c>"bytes=N us=N"</c>, <c>"bytes=N us=N
/// gen=N handoff"</c>, <c>"handoff-out gen=N"</c> (the text logs have always carried, so older logs still read).
/// </summary>
public readonly record struct MigrateArg(MoveKind Kind, int Bytes, long Micros, int Generation = -1)
{
    /// <summary>A generation the event does not give (a local move's, or an older log's).</summary>
    public const int Unknown = -1;

    public static MigrateArg Local(int bytes, long micros) => new(MoveKind.Local, bytes, micros);
    public static MigrateArg Arrived(int bytes, long micros, int generation) => new(MoveKind.HandOffIn, bytes, micros, generation);
    public static MigrateArg Departed(int generation) => new(MoveKind.HandOffOut, 0, 0, generation);

    public string Format() => Kind switch
    {
        MoveKind.HandOffOut => string.Create(CultureInfo.InvariantCulture, $"handoff-out gen={Generation}"),
        MoveKind.HandOffIn => string.Create(CultureInfo.InvariantCulture, $"bytes={Bytes} us={Micros} gen={Generation} handoff"),
        _ => string.Create(CultureInfo.InvariantCulture, $"bytes={Bytes} us={Micros}"),
    };

    /// <summary>Reads a <c>migrate</c> event's arg: its words, each <c>key=N</c> or a side (<c>handoff</c>,
    /// <c>handoff-out</c>); false when a word is neither, or a number does not read.</summary>
    public static bool TryParse(string? arg, out MigrateArg m)
    {
        m = default;
        var (kind, bytes, micros, gen) = (MoveKind.Local, 0, 0L, Unknown);
        foreach (var word in (arg ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = word.IndexOf('=');
            var value = eq < 0 ? "" : word[(eq + 1)..];
            switch (eq < 0 ? word : word[..eq])
            {
                case "handoff" when eq < 0: kind = MoveKind.HandOffIn; break;
                case "handoff-out" when eq < 0: kind = MoveKind.HandOffOut; break;
                case "bytes" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b): bytes = b; break;
                case "us" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var u): micros = u; break;
                case "gen" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var g): gen = g; break;
                default: return false;
            }
        }
        m = new MigrateArg(kind, bytes, micros, gen);
        return true;
    }
}
