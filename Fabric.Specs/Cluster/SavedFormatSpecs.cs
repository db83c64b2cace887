using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Cluster;
using Xunit;

namespace Fabric.Specs.Cluster;

/// <summary>Bytes written by an earlier build stay readable: <c>Fixtures/</c> holds a VM snapshot and every wire message
/// case as the hand-written Protobuf codec (before the formats became .proto schemas) wrote them. This build reads them to
/// the same values and writes the same bytes again.</summary>
public class SavedFormatSpecs() : TestKit(ClusterConfig.Serialization.WithFallback(
    ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF")))
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Cluster", "Fixtures", name);

    /// <summary>The snapshot the fixture holds: every field set (<see cref="SerializationSpecs.Full"/>), with a GIC state
    /// of its own so that a change of Fabric.Hardware's VM state format does not change it.</summary>
    internal static Fabric.Actors.Vm.VmSnapshot FixtureSnapshot() =>
        SerializationSpecs.Full(ActorRefs.Nobody, gic: [.. Enumerable.Range(0, 48).Select(i => (byte)(i * 37))]);

    [Fact]
    public void A_snapshot_saved_by_the_hand_written_codec_is_read_whole_and_written_again_byte_for_byte()
    {
        var saved = File.ReadAllBytes(Fixture("vm-snapshot-v1.bin"));
        var decoded = VmSnapshotCodec.Decode(saved);
        SerializationSpecs.AssertSame(FixtureSnapshot(), decoded);
        Assert.Equal(saved, VmSnapshotCodec.Encode(decoded));
    }

    [Fact]
    public void Wire_messages_sent_by_the_hand_written_serializer_are_read_and_written_byte_for_byte()
    {
        var lines = File.ReadAllLines(Fixture("wire-messages-v1.tsv")).Where(l => l.Length > 0).ToList();
        Assert.Equal(SerializationSpecs.Wire.Count, lines.Count);
        foreach (var line in lines)
        {
            var (name, manifest, hex) = line.Split('\t') switch { [var n, var m, var h] => (n, m, h), _ => throw new InvalidDataException(line) };
            var expected = SerializationSpecs.Wire[name];
            var bytes = Convert.FromHexString(hex);
            var serializer = Sys.Serialization.FindSerializerFor(expected);
            Assert.Equal(manifest, Akka.Serialization.Serialization.ManifestFor(serializer, expected));
            Assert.Equal(expected, Sys.Serialization.Deserialize(bytes, FabricSerializer.Id, manifest), SerializationSpecs.WireComparer.Instance);
            Assert.True(bytes.AsSpan().SequenceEqual(serializer.ToBinary(expected)), $"{name}: the bytes differ from those saved");
        }
    }
}
