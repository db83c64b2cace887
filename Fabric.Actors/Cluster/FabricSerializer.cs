using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Fabric.Actors.Protocols;
using Google.Protobuf;

namespace Fabric.Actors.Cluster;

/// <summary>
/// The binary form of every message that may cross nodes (<see cref="IWireMessage"/>, bound to this serializer by
/// <see cref="ClusterConfig.Serialization"/>): the Protobuf wire format written by hand (<see cref="Proto"/>), one short
/// manifest per message type, explicit field numbers. Readers skip fields they do not know, so a field may be added;
/// a field number is never reused.
/// <code>
/// manifest  message                          fields
/// E         ClusterProtocol.VmEnvelope       1 vm_id int32, 2 manifest string, 3 payload bytes (the message's own bytes)
/// S         ApListProtocol.SetIrq            1 spi uint32, 2 level bool
/// G         DeviceProtocol.Start             (none: the singleton)
/// H         DeviceProtocol.Stop              (none: the singleton)
/// R         IrsProtocol.Refused              1 operation string, 2 reason string
/// M         MigrationProtocol.Migrate        1 vm_id int32
/// D         MigrationProtocol.Migrated       1 vm_id int32, 2 state bytes, 3 blackout int64 (ticks of 100 ns), 4 generation int32
/// W         ClusterProtocol.Where            1 vm_id int32
/// A         ClusterProtocol.Here             1 vm_id int32, 2 node string, 3 generation int32
/// </code>
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

    public override object FromBinary(byte[] bytes, string manifest) => Decode(manifest, new CodedInputStream(bytes), depth: 0);

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
    internal static byte[] Encode(object message) => message switch
    {
        ClusterProtocol.VmEnvelope e => Proto.Write(o =>
        {
            o.Int32Field(1, e.VmId);
            o.StringField(2, ManifestOf(e.Message));
            o.BytesField(3, Encode(e.Message));
        }),
        ApListProtocol.SetIrq s => Proto.Write(o =>
        {
            o.UInt32Field(1, s.Spi);
            o.BoolField(2, s.Level);
        }),
        DeviceProtocol.Start or DeviceProtocol.Stop => [],
        IrsProtocol.Refused r => Proto.Write(o =>
        {
            o.StringField(1, r.Operation);
            o.StringField(2, r.Reason);
        }, bufferSize: 256),
        MigrationProtocol.Migrate m => Proto.Write(o => o.Int32Field(1, m.VmId)),
        MigrationProtocol.Migrated m => Proto.Write(o =>
        {
            o.Int32Field(1, m.VmId);
            o.BytesField(2, m.State.IsDefault ? default : m.State.AsMemory());
            o.Int64Field(3, m.Blackout.Ticks);
            o.Int32Field(4, m.Generation);
        }, bufferSize: 4096),
        ClusterProtocol.Where w => Proto.Write(o => o.Int32Field(1, w.VmId)),
        ClusterProtocol.Here h => Proto.Write(o =>
        {
            o.Int32Field(1, h.VmId);
            o.StringField(2, h.Node);
            o.Int32Field(3, h.Generation);
        }, bufferSize: 256),
        _ => throw Unsupported(message),
    };

    /// <summary>The wire message that <paramref name="manifest"/> names, read from <paramref name="input"/>. Malformed
    /// bytes and unknown manifests throw <see cref="SerializationException"/>.</summary>
    internal static IWireMessage Decode(string manifest, CodedInputStream input, int depth)
    {
        try
        {
            return manifest switch
            {
                "E" => ReadEnvelope(input, depth),
                "S" => ReadSetIrq(input),
                "G" => Empty(input, DeviceProtocol.Start.Instance),
                "H" => Empty(input, DeviceProtocol.Stop.Instance),
                "R" => ReadRefused(input),
                "M" => new MigrationProtocol.Migrate(ReadVmId(input)),
                "D" => ReadMigrated(input),
                "W" => new ClusterProtocol.Where(ReadVmId(input)),
                "A" => ReadHere(input),
                _ => throw new SerializationException(
                    $"FabricSerializer: unknown manifest '{manifest}' (this build reads E, S, G, H, R, M, D, W, A: a message from a newer build?)"),
            };
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException or ArgumentException)
        {
            throw new SerializationException($"FabricSerializer: malformed '{manifest}' message: {e.Message}", e);
        }
    }

    private static ClusterProtocol.VmEnvelope ReadEnvelope(CodedInputStream input, int depth)
    {
        if (depth >= MaxEnvelopeDepth)
            throw new InvalidDataException($"envelopes nested more than {MaxEnvelopeDepth} deep");
        var vmId = 0;
        string? manifest = null;
        var payload = ByteString.Empty;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vmId = input.ReadInt32(); break;
                case (2, WireFormat.WireType.LengthDelimited): manifest = input.ReadString(); break;
                case (3, WireFormat.WireType.LengthDelimited): payload = input.ReadBytes(); break;
                default: input.SkipLastField(); break;
            }
        }
        if (manifest is null) throw new InvalidDataException($"the envelope for VM {vmId} has no payload manifest");
        return new ClusterProtocol.VmEnvelope(vmId, Decode(manifest, payload.CreateCodedInput(), depth + 1));
    }

    internal static ApListProtocol.SetIrq ReadSetIrq(CodedInputStream input)
    {
        var spi = 0u;
        var level = false;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): spi = input.ReadUInt32(); break;
                case (2, WireFormat.WireType.Varint): level = input.ReadBool(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new ApListProtocol.SetIrq(spi, level);
    }

    /// <summary>A singleton: no fields of its own (any a later version adds are skipped).</summary>
    private static T Empty<T>(CodedInputStream input, T instance)
    {
        for (uint tag; (tag = input.ReadTag()) != 0;) input.SkipLastField();
        return instance;
    }

    private static IrsProtocol.Refused ReadRefused(CodedInputStream input)
    {
        string operation = "", reason = "";
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.LengthDelimited): operation = input.ReadString(); break;
                case (2, WireFormat.WireType.LengthDelimited): reason = input.ReadString(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new IrsProtocol.Refused(operation, reason);
    }

    /// <summary>A message whose one field is its VM id (field 1): <see cref="MigrationProtocol.Migrate"/> and
    /// <see cref="ClusterProtocol.Where"/>.</summary>
    private static int ReadVmId(CodedInputStream input)
    {
        var vmId = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vmId = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return vmId;
    }

    private static ClusterProtocol.Here ReadHere(CodedInputStream input)
    {
        int vmId = 0, generation = 0;
        var node = "";
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vmId = input.ReadInt32(); break;
                case (2, WireFormat.WireType.LengthDelimited): node = input.ReadString(); break;
                case (3, WireFormat.WireType.Varint): generation = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new ClusterProtocol.Here(vmId, node, generation);
    }

    private static MigrationProtocol.Migrated ReadMigrated(CodedInputStream input)
    {
        int vmId = 0, generation = 0;
        System.Collections.Immutable.ImmutableArray<byte> state = [];
        var blackout = 0L;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vmId = input.ReadInt32(); break;
                case (2, WireFormat.WireType.LengthDelimited): state = input.ReadByteArray(); break;
                case (3, WireFormat.WireType.Varint): blackout = input.ReadInt64(); break;
                case (4, WireFormat.WireType.Varint): generation = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new MigrationProtocol.Migrated(vmId, state, TimeSpan.FromTicks(blackout), generation);
    }

    private static SerializationException Unsupported(object? message) =>
        new($"FabricSerializer: {message?.GetType().FullName ?? "null"} is not a wire message it knows (add it to the manifest table)");
}
