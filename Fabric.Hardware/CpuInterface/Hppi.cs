using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.CpuInterface;

/// <summary>A highest-priority pending interrupt as the IRS forwards it to a (v)PE's CPU interface.</summary>
public readonly record struct Hppi(IntId Id, Priority Priority)
{
    /// <summary>The HPPI choice order (S12 gic_hppi, irs_recalc_hppi): lower priority value wins; at equal priority a
    /// PPI beats an IRS interrupt (IMPDEF, QEMU's choice); then the lower INTID encoding (IMPDEF; Fabric's choice, so
    /// that every run is deterministic).</summary>
    public bool Beats(Hppi other)
    {
        if (Priority != other.Priority) return Priority.IsHigherThan(other.Priority);
        if (Id.IsPpi != other.Id.IsPpi) return Id.IsPpi;
        return Id.Encode() < other.Id.Encode();
    }

    public static Hppi? Best(Hppi? a, Hppi? b) =>
        a is null ? b : b is null ? a : a.Value.Beats(b.Value) ? a : b;

    /// <summary>The sort key that orders candidates as <see cref="Beats"/> does among IRS interrupts (lowest first).</summary>
    public ulong Key => ((ulong)Priority.Value << 32) | Id.Encode();

    public static Hppi FromKey(ulong key) => new(IntId.Decode((uint)key), Priority.Of((int)(key >> 32)));

    public override string ToString() => $"{Id}@{Priority}";
}
