namespace Fabric.Hardware.Registers;

/// <summary>
/// A register field declared as data, as QEMU's <c>FIELD(REG, NAME, shift, length)</c>: every read,
/// write and mask of a register is derived from these instead of bit-twiddling at each use.
/// </summary>
public readonly record struct Field(string Name, int Shift, int Length)
{
    public ulong Mask => (Length >= 64 ? ulong.MaxValue : (1UL << Length) - 1) << Shift;
    public ulong Max => Length >= 64 ? ulong.MaxValue : (1UL << Length) - 1;

    public ulong Extract(ulong raw) => (raw & Mask) >> Shift;

    /// <summary>Deposits <paramref name="value"/>; a value wider than the field is refused, never truncated silently.</summary>
    public ulong Deposit(ulong raw, ulong value)
    {
        if (value > Max) throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit field {Name}[{Shift + Length - 1}:{Shift}]");
        return (raw & ~Mask) | (value << Shift);
    }

    public bool Flag(ulong raw) => Extract(raw) != 0;
    public ulong Set(ulong raw, bool on) => Deposit(raw, on ? 1UL : 0UL);
}
