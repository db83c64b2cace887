namespace Fabric.Hardware.Protocol;

/// <summary>The guest's random stream (SplitMix64): seeded, and its whole state one number, so that a vCPU's context —
/// this included — moves with its VM to another node and carries on the same schedule.</summary>
public sealed class GuestRandom(ulong state)
{
    public ulong State { get; private set; } = state;

    private ulong NextUInt64()
    {
        var z = State += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in 0..<paramref name="maxExclusive"/>-1.</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }
}
