using CsCheck;
using Fabric.Hardware.Irs;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

public class IstConfigSpecs
{
    internal static readonly Gen<IstConfig> AnyValidConfig =
        Gen.Select(Gen.Int[0, IstConfig.MaxIdBits], Gen.Enum<IstL2Size>(), Gen.Enum<IsteSize>(), Gen.Enum<IstStructure>())
            .Select((bits, l2, sz, st) => new IstConfig(bits, l2, sz, st));

    [Theory]
    [InlineData(16, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.Linear, 0x0000_0010UL)]
    [InlineData(14, IstL2Size.Size16K, IsteSize.Bytes8, IstStructure.TwoLevel, 0x0001_00AEUL)]
    [InlineData(24, IstL2Size.Size64K, IsteSize.Bytes16, IstStructure.TwoLevel, 0x0001_0158UL)]
    [InlineData(0, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.Linear, 0UL)]
    public void Cfgr_holds_lpi_id_bits_4_0_l2sz_6_5_istsz_8_7_structure_16(int bits, IstL2Size l2, IsteSize sz, IstStructure st, ulong raw)
    {
        var config = new IstConfig(bits, l2, sz, st);
        Assert.Equal(raw, config.Encode());
        Assert.Equal(config, IstConfig.Decode(raw));
    }

    [Theory]
    [InlineData(0x0000_0060UL, "L2SZ 3 is reserved")]
    [InlineData(0x0000_0180UL, "ISTSZ 3 is reserved")]
    [InlineData(0x0000_0019UL, "LPI_ID_BITS 25")]
    [InlineData(0x0000_0200UL, "RES0")]
    [InlineData(0x0002_0000UL, "RES0")]
    [InlineData(0x1_0000_0000UL, "RES0")]
    public void Decoding_refuses_reserved_values_and_res0_bits_with_the_reason(ulong raw, string reason)
    {
        Assert.False(IstConfig.TryDecode(raw, out _, out var error));
        Assert.Contains(reason, error);
        Assert.Throws<ArgumentOutOfRangeException>(() => IstConfig.Decode(raw));
    }

    [Theory]
    [InlineData(25, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.Linear)]
    [InlineData(-1, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.Linear)]
    [InlineData(8, (IstL2Size)3, IsteSize.Bytes4, IstStructure.Linear)]
    [InlineData(8, IstL2Size.Size4K, (IsteSize)3, IstStructure.Linear)]
    [InlineData(8, IstL2Size.Size4K, IsteSize.Bytes4, (IstStructure)2)]
    public void An_invalid_config_is_refused_never_encoded(int bits, IstL2Size l2, IsteSize sz, IstStructure st)
    {
        var config = new IstConfig(bits, l2, sz, st);
        Assert.NotNull(config.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => config.Encode());
    }

    [Fact]
    public void Encoding_round_trips_for_every_valid_config() =>
        AnyValidConfig.Sample(config => Assert.Equal(config, IstConfig.Decode(config.Encode())));

    [Fact]
    public void Decoding_any_raw_value_either_round_trips_or_gives_a_reason() =>
        Gen.ULong[0, 0x3_FFFF].Sample(raw =>
        {
            if (IstConfig.TryDecode(raw, out var config, out var error)) Assert.Equal(raw, config.Encode());
            else Assert.NotEmpty(error);
        });

    [Theory]
    [InlineData(IstL2Size.Size4K, IsteSize.Bytes4, 4, 4096, 1024)]
    [InlineData(IstL2Size.Size4K, IsteSize.Bytes16, 16, 4096, 256)]
    [InlineData(IstL2Size.Size16K, IsteSize.Bytes8, 8, 16384, 2048)]
    [InlineData(IstL2Size.Size64K, IsteSize.Bytes4, 4, 65536, 16384)]
    public void An_l2_table_holds_its_size_divided_by_the_iste_size(IstL2Size l2, IsteSize sz, int isteBytes, int l2Bytes, int entries)
    {
        var config = new IstConfig(12, l2, sz, IstStructure.TwoLevel);
        Assert.Equal((isteBytes, l2Bytes, entries), (config.IsteSizeBytes, config.L2SizeBytes, config.EntriesPerL2));
        Assert.Equal(4096, config.EntryCount);
    }
}
