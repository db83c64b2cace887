using Fabric.Hardware.Protocol;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Fabric.Actors.Protocols;
using Google.Protobuf;

namespace Fabric.Actors.Cluster;

/// <summary>
/// The binary form of every message that may cross nodes (<see cref="IWireMessage"/>, bound to this serializer by
/// <see cref="ClusterConfig.Serialization"/>): Protobuf, one short manifest per message type, each message's schema in
/// <c>Cluster/Schemas/fabric_wire.proto</c> (compiled to <see cref="Wire"/> at build time; the manifest table is
/// there). Readers skip fields they do not know, so a field may be added; a field number is never reused.
/// Identifier <see cref="Id"/> = 7412: Akka.NET reserves 0..100 for its own serializers; 7412 is Fabric's, and must
/// not change while a cluster has nodes that still run an older build.
/// </summary>
public sealed class FabricSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Fabric's serializer identifier, written with every serialized message (see the class comment).</summary>
    public const int Id = 7412;

    /// <summary>How many envelopes deep a payload may nest: one is what the fabric sends; the limit stops a crafted
    /// buffer of envelopes in envelopes from exhausting the stack.</summary>
    public const int MaxEnvelopeDepth = 8;

    public override int Identifier => Id;

    public override string Manifest(object o) => ManifestOf(o);

    public override byte[] ToBinary(object obj) => Encode(obj);

    public override object FromBinary(byte[] bytes, string manifest) => Decode(manifest, UnsafeByteOperations.UnsafeWrap(bytes), depth: 0);

    /// <summary>The manifest of a wire message (the table in the class comment).</summary>
    internal static string ManifestOf(object message) => message switch
    {
        ClusterProtocol.VmEnvelope => "E",
        ApListProtocol.SetIrq => "S",
        DeviceProtocol.Start => "G",
        DeviceProtocol.Stop => "H",
        IrsProtocol.Refused => "R",
        MigrationProtocol.Migrate => "M",
        MigrationProtocol.Migrated => "D",
        ClusterProtocol.Where => "W",
        ClusterProtocol.Here => "A",
        _ => throw Unsupported(message),
    };

    /// <summary>A wire message's bytes (without its manifest).</summary>
    internal static byte[] Encode(object message) => Schema(message).ToByteArray();

    /// <summary>A wire message as its schema's message (fabric_wire.proto), every field set.</summary>
    internal static IMessage Schema(object message) => message switch
    {
        ClusterProtocol.VmEnvelope e => new Wire.VmEnvelope
        {
            VmId = e.VmId,
            Manifest = ManifestOf(e.Message),
            Payload = UnsafeByteOperations.UnsafeWrap(Encode(e.Message)),
        },
        ApListProtocol.SetIrq s => SetIrq(s),
        DeviceProtocol.Start or DeviceProtocol.Stop => new Wire.Empty(),
        IrsProtocol.Refused r => new Wire.Refused { Operation = r.Operation ?? "", Reason = r.Reason ?? "" },
        MigrationProtocol.Migrate m => new Wire.OfVm { VmId = m.VmId },
        MigrationProtocol.Migrated m => new Wire.Migrated
        {
            VmId = m.VmId,
            State = m.State.IsDefault ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(m.State.AsMemory()),
            Blackout = m.Blackout.Ticks,
            Generation = m.Generation,
        },
        ClusterProtocol.Where w => new Wire.OfVm { VmId = w.VmId },
        ClusterProtocol.Here h => new Wire.Here { VmId = h.VmId, Node = h.Node ?? "", Generation = h.Generation },
        _ => throw Unsupported(message),
    };

    internal static Wire.SetIrq SetIrq(ApListProtocol.SetIrq s) => new() { Spi = s.Spi, Level = s.Level };

    internal static ApListProtocol.SetIrq SetIrq(Wire.SetIrq s) => new(s.Spi, s.Level);

    /// <summary>The wire message that <paramref name="manifest"/> names, read from <paramref name="bytes"/>. Malformed
    /// bytes and unknown manifests throw <see cref="SerializationException"/>.</summary>
    internal static IWireMessage Decode(string manifest, ByteString bytes, int depth)
    {
        try
        {
            return manifest switch
            {
                "E" => ReadEnvelope(Wire.VmEnvelope.Parser.ParseFrom(bytes), depth),
                "S" => SetIrq(Wire.SetIrq.Parser.ParseFrom(bytes)),
                "G" => Empty(bytes, DeviceProtocol.Start.Instance),
                "H" => Empty(bytes, DeviceProtocol.Stop.Instance),
                "R" => Refused(Wire.Refused.Parser.ParseFrom(bytes)),
                "M" => new MigrationProtocol.Migrate(Wire.OfVm.Parser.ParseFrom(bytes).VmId),
                "D" => Migrated(Wire.Migrated.Parser.ParseFrom(bytes)),
                "W" => new ClusterProtocol.Where(Wire.OfVm.Parser.ParseFrom(bytes).VmId),
                "A" => Here(Wire.Here.Parser.ParseFrom(bytes)),
                _ => throw new SerializationException(
                    $"FabricSerializer: unknown manifest '{manifest}' (this build reads E, S, G, H, R, M, D, W, A: a message from a newer build?)"),
            };
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException or ArgumentException)
        {
            throw new SerializationException($"FabricSerializer: malformed '{manifest}' message: {e.Message}", e);
        }
    }

    private static ClusterProtocol.VmEnvelope ReadEnvelope(Wire.VmEnvelope envelope, int depth)
    {
        if (depth >= MaxEnvelopeDepth)
            throw new InvalidDataException($"envelopes nested more than {MaxEnvelopeDepth} deep");
        if (!envelope.HasManifest) throw new InvalidDataException($"the envelope for VM {envelope.VmId} has no payload manifest");
        return new ClusterProtocol.VmEnvelope(envelope.VmId, Decode(envelope.Manifest, envelope.Payload, depth + 1));
    }

    private static IrsProtocol.Refused Refused(Wire.Refused r) => new(r.Operation, r.Reason);

    private static MigrationProtocol.Migrated Migrated(Wire.Migrated m) =>
        new(m.VmId, [.. m.State.Span], TimeSpan.FromTicks(m.Blackout), m.Generation);

    private static ClusterProtocol.Here Here(Wire.Here h) => new(h.VmId, h.Node, h.Generation);

    /// <summary>A singleton: no fields of its own (any a later version adds are skipped), but the bytes must parse.</summary>
    private static T Empty<T>(ByteString bytes, T instance)
    {
        Wire.Empty.Parser.ParseFrom(bytes);
        return instance;
    }

    private static SerializationException Unsupported(object? message) =>
        new($"FabricSerializer: {message?.GetType().FullName ?? "null"} is not a wire message it knows (add it to the manifest table)");
}
