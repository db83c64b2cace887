namespace Fabric.Hardware.Interrupts;

/// <summary>
/// A 5-bit interrupt priority, 0 highest (SEMANTICS.md §1: 32 levels architected at the CPU interface).
/// An IRS may implement fewer bits (<c>IRS_IDR1.PRI_BITS</c> = N-1); unimplemented low-order bits are ignored.
/// </summary>
public readonly record struct Priority : IComparable<Priority>
{
    public const int Bits = 5;
    public const int Levels = 1 << Bits;
    /// <summary>Running priority when no interrupt is active (APR empty): lower than every real priority.</summary>
    public const int Idle = Levels;

    public byte Value { get; }

    private Priority(byte value) => Value = value;

    public static Priority Highest => new(0);
    public static Priority Lowest => new(Levels - 1);

    public static Priority Of(int value) =>
        TryCreate(value, out var p, out var error) ? p : throw new ArgumentOutOfRangeException(nameof(value), error);

    public static bool TryCreate(int value, out Priority priority, out string error)
    {
        priority = default;
        if (value is < 0 or >= Levels) { error = $"priority {value} is out of range 0..{Levels - 1}"; return false; }
        priority = new Priority((byte)value);
        error = "";
        return true;
    }

    /// <summary>The value an IRS with <paramref name="implementedBits"/> priority bits stores: low-order bits ignored.</summary>
    public Priority Implemented(int implementedBits)
    {
        if (implementedBits is < 1 or > Bits) throw new ArgumentOutOfRangeException(nameof(implementedBits), $"an IRS implements 1..{Bits} priority bits, not {implementedBits}");
        var drop = Bits - implementedBits;
        return new Priority((byte)(Value >> drop << drop));
    }

    /// <summary>True when this priority is strictly higher (numerically lower) than <paramref name="other"/>.</summary>
    public bool IsHigherThan(Priority other) => Value < other.Value;

    public int CompareTo(Priority other) => Value.CompareTo(other.Value);
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Handling mode, ISTE.HM (SEMANTICS.md §1): Edge 0, Level 1.</summary>
public enum HandlingMode : byte
{
    Edge = 0,
    Level = 1,
}
