using CsCheck;
using Fabric.Hardware.Interrupts;
using Xunit;

namespace Fabric.Specs.Hardware;

public class IntIdSpecs
{
    [Theory]
    [InlineData("spi:5", IntIdType.Spi, 5u, 0x6000_0005u)]
    [InlineData("lpi:8192", IntIdType.Lpi, 8192u, 0x4000_2000u)]
    [InlineData("ppi:3", IntIdType.Ppi, 3u, 0x2000_0003u)]
    [InlineData("SPI:16777215", IntIdType.Spi, 0xFFFFFFu, 0x60FF_FFFFu)]
    public void Type_sits_in_bits_31_to_29_and_id_in_23_to_0(string text, IntIdType type, uint id, uint raw)
    {
        var parsed = IntId.Parse(text);
        Assert.Equal(type, parsed.Type);
        Assert.Equal(id, parsed.Id);
        Assert.Equal(raw, parsed.Encode());
        Assert.Equal(parsed, IntId.Decode(raw));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("spi", "TYPE:ID")]
    [InlineData("xpi:4", "unknown INTID type")]
    [InlineData("spi:-1", "no valid ID")]
    [InlineData("spi:abc", "no valid ID")]
    [InlineData("spi:16777216", "does not fit ID[23:0]")]
    [InlineData("ppi:128", "128 PPIs")]
    public void Malformed_or_out_of_range_ids_are_refused_with_the_reason(string text, string reason)
    {
        Assert.False(IntId.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData(0x0000_0005u)]
    [InlineData(0x8000_0005u)]
    [InlineData(0x6100_0000u)]
    public void Decoding_refuses_reserved_types_and_res0_bits(uint raw) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => IntId.Decode(raw));

    [Fact]
    public void Encoding_round_trips_for_every_valid_id() =>
        Gen.Select(Gen.OneOf(IntIdType.Spi, IntIdType.Lpi, IntIdType.Ppi), Gen.UInt[0, IntId.IdMask])
            .Where(t => IntId.Validate(t.Item1, t.Item2) is null)
            .Sample(t =>
            {
                var id = IntId.Create(t.Item1, t.Item2);
                Assert.Equal(id, IntId.Decode(id.Encode()));
                Assert.Equal(id, IntId.Parse(id.ToString()));
            });

    [Theory]
    [InlineData("spi:0-31", 0u, 31u, 32)]
    [InlineData("spi:40", 40u, 40u, 1)]
    [InlineData("lpi: 8192 - 8200", 8192u, 8200u, 9)]
    public void Ranges_parse_inclusively(string text, uint first, uint last, int count)
    {
        var r = IntIdRange.Parse(text);
        Assert.Equal((first, last, count), (r.First, r.Last, r.Count));
        Assert.Equal(count, r.All().Count());
    }

    [Theory]
    [InlineData("spi:31-0", "empty range")]
    [InlineData("ppi:100-200", "128 PPIs")]
    [InlineData("spi:0-", "no valid ID")]
    public void Bad_ranges_are_refused_with_the_reason(string text, string reason)
    {
        Assert.False(IntIdRange.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
    }
}
