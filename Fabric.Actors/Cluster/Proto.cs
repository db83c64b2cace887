using System.Collections.Immutable;
using Google.Protobuf;

namespace Fabric.Actors.Cluster;

/// <summary>
/// The Protobuf wire format, written by hand (no .proto file, no generated code) over Google.Protobuf's
/// <see cref="CodedOutputStream"/> and <see cref="CodedInputStream"/>: what <see cref="FabricSerializer"/> and
/// <see cref="VmSnapshotCodec"/> share. A message is a run of fields, each a tag (field number and wire type) and its
/// value; a nested message is a length-delimited field holding that message's bytes. A reader loops over the tags
/// (<see cref="Key"/>), reads the fields it knows and skips the others (<see cref="CodedInputStream.SkipLastField"/>),
/// so a later version may add fields that this one ignores, and a field this one no longer writes reads as its default.
/// Unlike generated proto3 code, every field is written, defaults included, in field-number order: one value, one byte
/// string. An optional field (<c>IntId?</c>, a nullable list) is written only when it has a value.
/// </summary>
internal static class Proto
{
    /// <summary>The bytes of one message, whose fields <paramref name="fields"/> writes.</summary>
    public static byte[] Write(Action<CodedOutputStream> fields, int bufferSize = 64)
    {
        using var bytes = new MemoryStream();
        using (var output = new CodedOutputStream(bytes, bufferSize, leaveOpen: true)) fields(output);  // Dispose flushes
        return bytes.ToArray();
    }

    /// <summary>A tag's field number and wire type, to switch on: <c>case (1, WireFormat.WireType.Varint):</c>. A known
    /// number with an unexpected wire type is not that field: the reader skips it, as generated code does.</summary>
    public static (int Field, WireFormat.WireType Type) Key(uint tag) =>
        (WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag));

    public static void Int32Field(this CodedOutputStream o, int field, int value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt32(value);
    }

    public static void UInt32Field(this CodedOutputStream o, int field, uint value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteUInt32(value);
    }

    public static void Int64Field(this CodedOutputStream o, int field, long value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt64(value);
    }

    public static void BoolField(this CodedOutputStream o, int field, bool value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteBool(value);
    }

    /// <summary>A 32-bit value written as four bytes (a CRC: uniformly spread, where a varint would take five).</summary>
    public static void Fixed32Field(this CodedOutputStream o, int field, uint value)
    {
        o.WriteTag(field, WireFormat.WireType.Fixed32);
        o.WriteFixed32(value);
    }

    /// <summary>A 64-bit value written as eight bytes (a random stream's state, where a varint would take ten).</summary>
    public static void Fixed64Field(this CodedOutputStream o, int field, ulong value)
    {
        o.WriteTag(field, WireFormat.WireType.Fixed64);
        o.WriteFixed64(value);
    }

    /// <summary>A UTF-8 string; null is written as "" (a record's string is never null).</summary>
    public static void StringField(this CodedOutputStream o, int field, string? value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteString(value ?? "");
    }

    public static void BytesField(this CodedOutputStream o, int field, ReadOnlyMemory<byte> value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(UnsafeByteOperations.UnsafeWrap(value));
    }

    /// <summary>A nested message: a length-delimited field holding the bytes <paramref name="fields"/> writes.</summary>
    public static void MessageField(this CodedOutputStream o, int field, Action<CodedOutputStream> fields) =>
        o.BytesField(field, Write(fields));

    /// <summary>A nested message's fields (the value of a length-delimited field), to read with their own tag loop.</summary>
    public static CodedInputStream ReadMessage(this CodedInputStream input) => input.ReadBytes().CreateCodedInput();

    public static ImmutableArray<byte> ReadByteArray(this CodedInputStream input) => [.. input.ReadBytes().Span];

    /// <summary>An enum written as its number, refused when this build does not define it.</summary>
    public static TEnum ReadEnum<TEnum>(this CodedInputStream input, string what) where TEnum : struct, Enum
    {
        var raw = input.ReadInt32();
        var value = (TEnum)Enum.ToObject(typeof(TEnum), raw);
        return Enum.IsDefined(value) ? value : throw new InvalidDataException($"{what} {raw} is not a {typeof(TEnum).Name}");
    }
}
