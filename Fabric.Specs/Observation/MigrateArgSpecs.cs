using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;
using Xunit;

namespace Fabric.Specs.Observation;

/// <summary>The <c>migrate</c> event's typed fields: written and read by one pair of functions, as the logs have always
/// spelled them, so an older log reads the same.</summary>
public class MigrateArgSpecs
{
    public static TheoryData<string, MigrateArg> Written => new()
    {
        { "bytes=812 us=1500", MigrateArg.Local(812, 1500) },
        { "bytes=900 us=5 gen=3 handoff", MigrateArg.Arrived(900, 5, 3) },
        { "handoff-out gen=2", MigrateArg.Departed(2) },
    };

    [Theory]
    [MemberData(nameof(Written))]
    public void Each_side_of_a_move_is_written_as_logs_spell_it_and_reads_back_the_same(string text, MigrateArg fields)
    {
        Assert.Equal(text, fields.Format());
        Assert.True(MigrateArg.TryParse(text, out var read));
        Assert.Equal(fields, read);
        Assert.Equal(fields, new FabricEvent(1, 1, Ev.Migrate, 0, null, null, text).Migration);
    }

    [Fact]
    public void An_older_arrival_without_a_generation_reads_as_an_arrival_of_unknown_generation()
    {
        Assert.True(MigrateArg.TryParse("bytes=812 us=5100000 handoff", out var m));
        Assert.Equal(new MigrateArg(MoveKind.HandOffIn, 812, 5_100_000, MigrateArg.Unknown), m);
    }

    [Theory]
    [InlineData("moved to node 2")]
    [InlineData("bytes=x us=1")]
    [InlineData("handoff=1")]
    public void Free_text_is_not_a_move(string text)
    {
        Assert.False(MigrateArg.TryParse(text, out _));
        Assert.Null(new FabricEvent(1, 1, Ev.Migrate, 0, null, null, text).Migration);
    }

    [Fact]
    public void Only_a_migrate_event_has_move_fields()
    {
        Assert.Null(new FabricEvent(1, 1, Ev.Inject, 0, null, IntId.Spi(1), "bytes=1 us=1").Migration);
    }
}
