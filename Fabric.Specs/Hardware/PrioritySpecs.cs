using CsCheck;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>A 5-bit priority, 0 highest; an IRS may implement fewer bits and ignores the low-order ones (SEMANTICS.md §1).</summary>
public class PrioritySpecs
{
    [Theory]
    [InlineData(-1)]
    [InlineData(32)]
    [InlineData(255)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public void A_value_outside_0_to_31_is_refused_with_the_range(int value)
    {
        Assert.False(Priority.TryCreate(value, out _, out var error));
        Assert.Contains("0..31", error);
        Assert.Throws<ArgumentOutOfRangeException>(() => Priority.Of(value));
    }

    [Fact]
    public void Every_value_0_to_31_is_a_priority() =>
        Assert.All(Enumerable.Range(0, 32), v =>
        {
            Assert.True(Priority.TryCreate(v, out var p, out _));
            Assert.Equal(v, p.Value);
            Assert.Equal(p, Priority.Of(v));
        });

    [Fact]
    public void Zero_is_highest_31_lowest_and_idle_running_priority_is_32()
    {
        Assert.Equal(0, Priority.Highest.Value);
        Assert.Equal(31, Priority.Lowest.Value);
        Assert.Equal(32, Priority.Idle);
    }

    [Theory]
    [InlineData(7, 3, 4)]
    [InlineData(31, 3, 28)]
    [InlineData(3, 3, 0)]
    [InlineData(12, 2, 8)]
    [InlineData(31, 1, 16)]
    [InlineData(15, 1, 0)]
    [InlineData(5, 4, 4)]
    [InlineData(31, 5, 31)]
    [InlineData(0, 3, 0)]
    public void An_irs_with_fewer_bits_ignores_the_low_order_bits(int value, int implementedBits, int stored) =>
        Assert.Equal(stored, Priority.Of(value).Implemented(implementedBits).Value);

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(-1)]
    public void Implemented_bits_outside_1_to_5_are_refused(int implementedBits) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Priority.Of(7).Implemented(implementedBits));

    [Fact]
    public void Masking_clears_exactly_the_unimplemented_bits_and_never_raises_a_priority_number() =>
        Gen.Select(Gen.Int[0, 31], Gen.Int[1, 5]).Sample((v, bits) =>
        {
            var stored = Priority.Of(v).Implemented(bits).Value;
            var unimplemented = (1 << (5 - bits)) - 1;
            Assert.Equal(v & ~unimplemented, stored);
            Assert.True(stored <= v);
            Assert.Equal(stored, Priority.Of(stored).Implemented(bits).Value);
        });

    [Theory]
    [InlineData(3, 4, true)]
    [InlineData(0, 31, true)]
    [InlineData(4, 3, false)]
    [InlineData(4, 4, false)]
    [InlineData(31, 0, false)]
    public void Higher_means_strictly_lower_number(int a, int b, bool higher)
    {
        Assert.Equal(higher, Priority.Of(a).IsHigherThan(Priority.Of(b)));
        Assert.Equal(a < b, Priority.Of(a).CompareTo(Priority.Of(b)) < 0);
    }
}
