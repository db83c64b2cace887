using System.Globalization;

namespace Fabric.Hardware.Interrupts;

/// <summary>INTID TYPE field, bits [31:29] (SEMANTICS.md §1; Linux arm-gic-v5.h GICV5_HWIRQ_TYPE_*).</summary>
public enum IntIdType : byte
{
    Ppi = 1,
    Lpi = 2,
    Spi = 3,
}

/// <summary>
/// A GICv5 interrupt identifier: <c>TYPE[31:29]</c>, <c>ID[23:0]</c>. Each type has its own ID space
/// (PPI 1 is not SPI 1). Written <c>spi:5</c>, <c>lpi:8192</c>, <c>ppi:3</c>.
/// </summary>
public readonly record struct IntId : IComparable<IntId>
{
    public const int IdBits = 24;
    public const uint IdMask = (1u << IdBits) - 1;
    /// <summary>128 PPIs per PE: two 64-bit register banks (SEMANTICS.md §1).</summary>
    public const int PpiCount = 128;

    public IntIdType Type { get; }
    public uint Id { get; }

    private IntId(IntIdType type, uint id)
    {
        Type = type;
        Id = id;
    }

    public static IntId Spi(uint id) => Create(IntIdType.Spi, id);
    public static IntId Lpi(uint id) => Create(IntIdType.Lpi, id);
    public static IntId Ppi(uint id) => Create(IntIdType.Ppi, id);

    public static IntId Create(IntIdType type, uint id)
    {
        var error = Validate(type, id);
        if (error is not null) throw new ArgumentOutOfRangeException(nameof(id), error);
        return new IntId(type, id);
    }

    /// <summary>Why (type, id) is not an INTID, or null when it is.</summary>
    public static string? Validate(IntIdType type, uint id)
    {
        if (!Enum.IsDefined(type)) return $"INTID type {(int)type} is reserved (1 PPI, 2 LPI, 3 SPI)";
        if (id > IdMask) return $"INTID {Prefix(type)}:{id} does not fit ID[23:0]";
        if (type == IntIdType.Ppi && id >= PpiCount) return $"INTID ppi:{id} is out of range (a PE has {PpiCount} PPIs)";
        return null;
    }

    /// <summary>The 32-bit encoding: TYPE[31:29] | ID[23:0].</summary>
    public uint Encode() => ((uint)Type << 29) | Id;

    public static IntId Decode(uint raw)
    {
        if ((raw & 0x1F00_0000u) != 0) throw new ArgumentOutOfRangeException(nameof(raw), $"INTID 0x{raw:X8} has RES0 bits [28:24] set");
        return Create((IntIdType)(raw >> 29), raw & IdMask);
    }

    public bool IsSpi => Type == IntIdType.Spi;
    public bool IsLpi => Type == IntIdType.Lpi;
    public bool IsPpi => Type == IntIdType.Ppi;

    public override string ToString() => $"{Prefix(Type)}:{Id.ToString(CultureInfo.InvariantCulture)}";

    public int CompareTo(IntId other) => Encode().CompareTo(other.Encode());

    internal static string Prefix(IntIdType type) => type switch
    {
        IntIdType.Ppi => "ppi",
        IntIdType.Lpi => "lpi",
        IntIdType.Spi => "spi",
        _ => "type" + (int)type,
    };

    public static IntId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    /// <summary>Parses <c>spi:5</c>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out IntId id, out string error)
    {
        id = default;
        if (!TrySplit(text, out var type, out var rest, out error)) return false;
        if (!TryNumber(rest, text!, out var n, out error)) return false;
        var why = Validate(type, n);
        if (why is not null) { error = why; return false; }
        id = new IntId(type, n);
        error = "";
        return true;
    }

    internal static bool TrySplit(string? text, out IntIdType type, out string rest, out string error)
    {
        type = default;
        rest = "";
        if (string.IsNullOrWhiteSpace(text)) { error = "an INTID is empty (expected e.g. spi:5, lpi:8192, ppi:3)"; return false; }
        var colon = text.IndexOf(':');
        if (colon <= 0) { error = $"'{text}' is not an INTID (expected TYPE:ID, e.g. spi:5)"; return false; }
        switch (text[..colon].Trim().ToLowerInvariant())
        {
            case "spi": type = IntIdType.Spi; break;
            case "lpi": type = IntIdType.Lpi; break;
            case "ppi": type = IntIdType.Ppi; break;
            default: error = $"'{text}' has unknown INTID type '{text[..colon]}' (expected spi, lpi or ppi)"; return false;
        }
        rest = text[(colon + 1)..].Trim();
        error = "";
        return true;
    }

    internal static bool TryNumber(string digits, string whole, out uint n, out string error)
    {
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit) ||
            !uint.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out n))
        {
            n = 0;
            error = $"'{whole}' has no valid ID number ('{digits}')";
            return false;
        }
        error = "";
        return true;
    }
}

/// <summary>An inclusive range of INTIDs of one type, written <c>spi:0-31</c> (or a single <c>spi:5</c>).</summary>
public readonly record struct IntIdRange(IntIdType Type, uint First, uint Last)
{
    public int Count => (int)(Last - First + 1);

    public IEnumerable<IntId> All()
    {
        for (var i = First; i <= Last; i++) yield return IntId.Create(Type, i);
    }

    public bool Contains(IntId id) => id.Type == Type && id.Id >= First && id.Id <= Last;

    public override string ToString() => First == Last ? $"{IntId.Prefix(Type)}:{First}" : $"{IntId.Prefix(Type)}:{First}-{Last}";

    public static IntIdRange Parse(string text) =>
        TryParse(text, out var r, out var error) ? r : throw new FormatException(error);

    public static bool TryParse(string? text, out IntIdRange range, out string error)
    {
        range = default;
        if (!IntId.TrySplit(text, out var type, out var rest, out error)) return false;
        var dash = rest.IndexOf('-');
        var lo = dash < 0 ? rest : rest[..dash].Trim();
        var hi = dash < 0 ? rest : rest[(dash + 1)..].Trim();
        if (!IntId.TryNumber(lo, text!, out var first, out error)) return false;
        if (!IntId.TryNumber(hi, text!, out var last, out error)) return false;
        if (last < first) { error = $"'{text}' is an empty range ({last} < {first})"; return false; }
        var why = IntId.Validate(type, first) ?? IntId.Validate(type, last);
        if (why is not null) { error = why; return false; }
        range = new IntIdRange(type, first, last);
        error = "";
        return true;
    }
}
