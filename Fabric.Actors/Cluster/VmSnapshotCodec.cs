using System.Collections.Immutable;
using System.Runtime.Serialization;
using Akka.Actor;
using Fabric.Actors.Drivers;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Migration;
using Google.Protobuf;

namespace Fabric.Actors.Cluster;

/// <summary>
/// The bytes of a <see cref="VmSnapshot"/> — what a VM leaves in the store for the node that runs it next — in the
/// Protobuf wire format written by hand (<see cref="Proto"/>), like the wire messages (<see cref="FabricSerializer"/>).
/// The snapshot is framed, so that a cut or altered buffer is refused instead of read as a shorter snapshot (a
/// Protobuf message cut at a field boundary is still a valid message):
/// <code>
/// frame            1 version uint32 (= 1), 2 body bytes (VmSnapshot), 3 crc fixed32 (CRC-32, zlib's, of the body)
/// VmSnapshot       1 vm_id int32, 2 generation int32, 3 clean bool, 4 started bool, 5 stopped bool,
///                  6 gic bytes (docs/vm-state-format.md, carried as is), 7 vcpus VcpuContext*, 8 devices DeviceContext*,
///                  9 scheduler SchedulerContext, 10 notifiers NotifierBinding*, 11 fold_id int64, 12 front_door WireMessage*,
///                  13 saved_at int64 (UTC ticks)
/// VcpuContext      1 vpe int32, 2 booted, 3 in_wfi, 4 preempted, 5 busy, 6 paused bool, 7 handling uint32 (INTID, absent: none),
///                  8 deferred uint32 (INTID, absent: none), 9 deferred_is_result bool, 10 disabled uint32* (INTIDs),
///                  11 random fixed64, 12 ipis int64, 13 stopped bool
/// DeviceContext    1 started bool, 2 stopped bool, 3 budget int64, 4 serviced Serviced*, 5 held HeldSends (absent: not holding)
/// Serviced         1 spi uint32, 2 count int32
/// SchedulerContext 1 preempted int32*, 2 stopped bool, 3 held HeldSends (absent: not holding)
/// HeldSends        1 sends HeldSend*
/// HeldSend         1 port int32 (VmPort), 2 index int32, then exactly one of: 3 set_irq (FabricSerializer's SetIrq),
///                  4 register_notifier { 1 spi uint32 }, 5 ppi_op { 1 id uint32 (INTID), 2 operation int32, 3 value int32 },
///                  6 wake {}, 7 preempt {}, 8 resume {}
/// NotifierBinding  1 spi uint32, 2 device int32
/// WireMessage      1 manifest string, 2 bytes (FabricSerializer's)
/// </code>
/// A <c>RegisterNotifier</c>'s device is not carried (an actor reference means nothing on another node): it is read as
/// <see cref="ActorRefs.Nobody"/>, and the receiver binds it to the device that holds the send. INTIDs are their 32-bit
/// encoding (<see cref="IntId.Encode"/>). Every failure to read — a cut, altered or foreign buffer, a newer version —
/// throws <see cref="SerializationException"/>; nothing is returned unless the whole snapshot was read.
/// </summary>
public static class VmSnapshotCodec
{
    /// <summary>The frame's version this build writes and the only one it reads.</summary>
    public const uint Version = 1;

    public static byte[] Encode(VmSnapshot snapshot)
    {
        var body = Proto.Write(o => WriteSnapshot(o, snapshot), bufferSize: 4096);
        return Proto.Write(o =>
        {
            o.UInt32Field(1, Version);
            o.BytesField(2, body);
            o.Fixed32Field(3, Crc32.Compute(body));
        }, bufferSize: 4096);
    }

    public static VmSnapshot Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var input = new CodedInputStream(bytes.ToArray());
            uint? version = null, crc = null;
            ByteString? body = null;
            for (uint tag; (tag = input.ReadTag()) != 0;)
            {
                switch (Proto.Key(tag))
                {
                    case (1, WireFormat.WireType.Varint): version = input.ReadUInt32(); break;
                    case (2, WireFormat.WireType.LengthDelimited): body = input.ReadBytes(); break;
                    case (3, WireFormat.WireType.Fixed32): crc = input.ReadFixed32(); break;
                    default: input.SkipLastField(); break;
                }
            }
            if (version is null) throw Refused($"{bytes.Length} bytes with no version field: not a VM snapshot");
            if (version != Version) throw Refused($"version {version}; this build reads version {Version}");
            if (body is null || crc is null) throw Refused($"{bytes.Length} bytes with no {(body is null ? "body" : "CRC")}: the buffer was cut");
            var computed = Crc32.Compute(body.Span);
            if (computed != crc) throw Refused($"CRC-32 mismatch: stored 0x{crc:X8}, computed 0x{computed:X8} (the bytes were altered)");
            return ReadSnapshot(body.CreateCodedInput());
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException or ArgumentException)
        {
            throw Refused(e.Message, e);
        }
    }

    private static SerializationException Refused(string why, Exception? inner = null) =>
        new($"VM snapshot refused: {why}", inner);

    private static ImmutableArray<T> OrEmpty<T>(ImmutableArray<T> items) => items.IsDefault ? [] : items;

    // ---- writing: one function per message, fields in number order (the table above) ----

    private static void WriteSnapshot(CodedOutputStream o, VmSnapshot s)
    {
        o.Int32Field(1, s.VmId);
        o.Int32Field(2, s.Generation);
        o.BoolField(3, s.Clean);
        o.BoolField(4, s.Started);
        o.BoolField(5, s.Stopped);
        o.BytesField(6, OrEmpty(s.Gic).AsMemory());
        foreach (var v in OrEmpty(s.Vcpus)) o.MessageField(7, w => WriteVcpu(w, v));
        foreach (var d in OrEmpty(s.Devices)) o.MessageField(8, w => WriteDevice(w, d));
        o.MessageField(9, w => WriteScheduler(w, s.Scheduler));
        foreach (var n in OrEmpty(s.Notifiers))
            o.MessageField(10, w =>
            {
                w.UInt32Field(1, n.Spi);
                w.Int32Field(2, n.Device);
            });
        o.Int64Field(11, s.FoldId);
        foreach (var m in OrEmpty(s.FrontDoor))
            o.MessageField(12, w =>
            {
                w.StringField(1, FabricSerializer.ManifestOf(m));
                w.BytesField(2, FabricSerializer.Encode(m));
            });
        o.Int64Field(13, s.SavedAtUtcTicks);
    }

    private static void WriteVcpu(CodedOutputStream o, VcpuContext v)
    {
        o.Int32Field(1, v.Vpe);
        o.BoolField(2, v.Booted);
        o.BoolField(3, v.InWfi);
        o.BoolField(4, v.Preempted);
        o.BoolField(5, v.Busy);
        o.BoolField(6, v.Paused);
        if (v.Handling is { } handling) o.UInt32Field(7, handling.Encode());
        if (v.Deferred is { } deferred) o.UInt32Field(8, deferred.Encode());
        o.BoolField(9, v.DeferredIsResult);
        foreach (var id in OrEmpty(v.Disabled)) o.UInt32Field(10, id.Encode());
        o.Fixed64Field(11, v.Random);
        o.Int64Field(12, v.Ipis);
        o.BoolField(13, v.Stopped);
    }

    private static void WriteDevice(CodedOutputStream o, DeviceContext d)
    {
        o.BoolField(1, d.Started);
        o.BoolField(2, d.Stopped);
        o.Int64Field(3, d.Budget);
        foreach (var (spi, count) in OrEmpty(d.Serviced))
            o.MessageField(4, w =>
            {
                w.UInt32Field(1, spi);
                w.Int32Field(2, count);
            });
        if (d.Held is { } held) o.MessageField(5, w => WriteHeld(w, held));
    }

    private static void WriteScheduler(CodedOutputStream o, SchedulerContext s)
    {
        foreach (var vpe in OrEmpty(s.Preempted)) o.Int32Field(1, vpe);
        o.BoolField(2, s.Stopped);
        if (s.Held is { } held) o.MessageField(3, w => WriteHeld(w, held));
    }

    private static void WriteHeld(CodedOutputStream o, ImmutableArray<HeldSend> held)
    {
        foreach (var send in OrEmpty(held)) o.MessageField(1, w => WriteHeldSend(w, send));
    }

    private static void WriteHeldSend(CodedOutputStream o, HeldSend h)
    {
        o.Int32Field(1, (int)h.Port);
        o.Int32Field(2, h.Index);
        switch (h.Message)
        {
            case ApListProtocol.SetIrq s: o.BytesField(3, FabricSerializer.Encode(s)); break;
            case ApListProtocol.RegisterNotifier r: o.MessageField(4, w => w.UInt32Field(1, r.Spi)); break;
            case CpuInterfaceProtocol.PpiOp p:
                o.MessageField(5, w =>
                {
                    w.UInt32Field(1, p.Id.Encode());
                    w.Int32Field(2, (int)p.Operation);
                    w.Int32Field(3, p.Value);
                });
                break;
            case ResidencyProtocol.Wake: o.BytesField(6, default); break;
            case ResidencyProtocol.Preempt: o.BytesField(7, default); break;
            case ResidencyProtocol.Resume: o.BytesField(8, default); break;
            default:
                throw new SerializationException(
                    $"VM snapshot: a held {h.Message?.GetType().FullName ?? "null"} has no encoding (held sends are SetIrq, RegisterNotifier, PpiOp, Wake, Preempt, Resume)");
        }
    }

    // ---- reading: the same messages; unknown fields are skipped ----

    private static VmSnapshot ReadSnapshot(CodedInputStream input)
    {
        int vmId = 0, generation = 0;
        bool clean = false, started = false, stopped = false;
        ImmutableArray<byte> gic = [];
        var vcpus = ImmutableArray.CreateBuilder<VcpuContext>();
        var devices = ImmutableArray.CreateBuilder<DeviceContext>();
        var scheduler = SchedulerContext.Idle;
        var notifiers = ImmutableArray.CreateBuilder<NotifierBinding>();
        long foldId = 0, savedAt = 0;
        var frontDoor = ImmutableArray.CreateBuilder<object>();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vmId = input.ReadInt32(); break;
                case (2, WireFormat.WireType.Varint): generation = input.ReadInt32(); break;
                case (3, WireFormat.WireType.Varint): clean = input.ReadBool(); break;
                case (4, WireFormat.WireType.Varint): started = input.ReadBool(); break;
                case (5, WireFormat.WireType.Varint): stopped = input.ReadBool(); break;
                case (6, WireFormat.WireType.LengthDelimited): gic = input.ReadByteArray(); break;
                case (7, WireFormat.WireType.LengthDelimited): vcpus.Add(ReadVcpu(input.ReadMessage())); break;
                case (8, WireFormat.WireType.LengthDelimited): devices.Add(ReadDevice(input.ReadMessage())); break;
                case (9, WireFormat.WireType.LengthDelimited): scheduler = ReadScheduler(input.ReadMessage()); break;
                case (10, WireFormat.WireType.LengthDelimited): notifiers.Add(ReadNotifier(input.ReadMessage())); break;
                case (11, WireFormat.WireType.Varint): foldId = input.ReadInt64(); break;
                case (12, WireFormat.WireType.LengthDelimited): frontDoor.Add(ReadWireMessage(input.ReadMessage())); break;
                case (13, WireFormat.WireType.Varint): savedAt = input.ReadInt64(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new VmSnapshot(vmId, generation, clean, started, stopped, gic, vcpus.ToImmutable(), devices.ToImmutable(),
            scheduler, notifiers.ToImmutable(), foldId, frontDoor.ToImmutable(), savedAt);
    }

    private static VcpuContext ReadVcpu(CodedInputStream input)
    {
        var vpe = 0;
        bool booted = false, inWfi = false, preempted = false, busy = false, paused = false, deferredIsResult = false, stopped = false;
        IntId? handling = null, deferred = null;
        var disabled = ImmutableArray.CreateBuilder<IntId>();
        var random = 0UL;
        var ipis = 0L;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): vpe = input.ReadInt32(); break;
                case (2, WireFormat.WireType.Varint): booted = input.ReadBool(); break;
                case (3, WireFormat.WireType.Varint): inWfi = input.ReadBool(); break;
                case (4, WireFormat.WireType.Varint): preempted = input.ReadBool(); break;
                case (5, WireFormat.WireType.Varint): busy = input.ReadBool(); break;
                case (6, WireFormat.WireType.Varint): paused = input.ReadBool(); break;
                case (7, WireFormat.WireType.Varint): handling = IntId.Decode(input.ReadUInt32()); break;
                case (8, WireFormat.WireType.Varint): deferred = IntId.Decode(input.ReadUInt32()); break;
                case (9, WireFormat.WireType.Varint): deferredIsResult = input.ReadBool(); break;
                case (10, WireFormat.WireType.Varint): disabled.Add(IntId.Decode(input.ReadUInt32())); break;
                case (11, WireFormat.WireType.Fixed64): random = input.ReadFixed64(); break;
                case (12, WireFormat.WireType.Varint): ipis = input.ReadInt64(); break;
                case (13, WireFormat.WireType.Varint): stopped = input.ReadBool(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new VcpuContext(vpe, booted, inWfi, preempted, busy, paused, handling, deferred, deferredIsResult,
            disabled.ToImmutable(), random, ipis, stopped);
    }

    private static DeviceContext ReadDevice(CodedInputStream input)
    {
        bool started = false, stopped = false;
        var budget = 0L;
        var serviced = ImmutableArray.CreateBuilder<KeyValuePair<uint, int>>();
        ImmutableArray<HeldSend>? held = null;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): started = input.ReadBool(); break;
                case (2, WireFormat.WireType.Varint): stopped = input.ReadBool(); break;
                case (3, WireFormat.WireType.Varint): budget = input.ReadInt64(); break;
                case (4, WireFormat.WireType.LengthDelimited): serviced.Add(ReadServiced(input.ReadMessage())); break;
                case (5, WireFormat.WireType.LengthDelimited): held = ReadHeld(input.ReadMessage()); break;
                default: input.SkipLastField(); break;
            }
        }
        return new DeviceContext(started, stopped, budget, serviced.ToImmutable(), held);
    }

    private static KeyValuePair<uint, int> ReadServiced(CodedInputStream input)
    {
        var spi = 0u;
        var count = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): spi = input.ReadUInt32(); break;
                case (2, WireFormat.WireType.Varint): count = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new(spi, count);
    }

    private static SchedulerContext ReadScheduler(CodedInputStream input)
    {
        var preempted = ImmutableArray.CreateBuilder<int>();
        var stopped = false;
        ImmutableArray<HeldSend>? held = null;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): preempted.Add(input.ReadInt32()); break;
                case (2, WireFormat.WireType.Varint): stopped = input.ReadBool(); break;
                case (3, WireFormat.WireType.LengthDelimited): held = ReadHeld(input.ReadMessage()); break;
                default: input.SkipLastField(); break;
            }
        }
        return new SchedulerContext(preempted.ToImmutable(), stopped, held);
    }

    private static ImmutableArray<HeldSend> ReadHeld(CodedInputStream input)
    {
        var sends = ImmutableArray.CreateBuilder<HeldSend>();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.LengthDelimited): sends.Add(ReadHeldSend(input.ReadMessage(), sends.Count)); break;
                default: input.SkipLastField(); break;
            }
        }
        return sends.ToImmutable();
    }

    private static HeldSend ReadHeldSend(CodedInputStream input, int position)
    {
        var port = VmPort.ApList;
        var index = 0;
        object? message = null;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            var key = Proto.Key(tag);
            if (key.Field is >= 3 and <= 8 && key.Type == WireFormat.WireType.LengthDelimited && message is not null)
                throw new InvalidDataException($"held send {position} carries more than one message");
            switch (key)
            {
                case (1, WireFormat.WireType.Varint): port = input.ReadEnum<VmPort>("held send port"); break;
                case (2, WireFormat.WireType.Varint): index = input.ReadInt32(); break;
                case (3, WireFormat.WireType.LengthDelimited): message = FabricSerializer.ReadSetIrq(input.ReadMessage()); break;
                case (4, WireFormat.WireType.LengthDelimited): message = ReadRegisterNotifier(input.ReadMessage()); break;
                case (5, WireFormat.WireType.LengthDelimited): message = ReadPpiOp(input.ReadMessage()); break;
                case (6, WireFormat.WireType.LengthDelimited): input.ReadBytes(); message = ResidencyProtocol.Wake.Instance; break;
                case (7, WireFormat.WireType.LengthDelimited): input.ReadBytes(); message = ResidencyProtocol.Preempt.Instance; break;
                case (8, WireFormat.WireType.LengthDelimited): input.ReadBytes(); message = ResidencyProtocol.Resume.Instance; break;
                default: input.SkipLastField(); break;
            }
        }
        return new HeldSend(port, index, message ?? throw new InvalidDataException($"held send {position} carries no message this build knows"));
    }

    private static ApListProtocol.RegisterNotifier ReadRegisterNotifier(CodedInputStream input)
    {
        var spi = 0u;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): spi = input.ReadUInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new ApListProtocol.RegisterNotifier(spi, ActorRefs.Nobody);
    }

    private static CpuInterfaceProtocol.PpiOp ReadPpiOp(CodedInputStream input)
    {
        IntId? id = null;
        var operation = PpiOperation.Pend;
        var value = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): id = IntId.Decode(input.ReadUInt32()); break;
                case (2, WireFormat.WireType.Varint): operation = input.ReadEnum<PpiOperation>("PPI operation"); break;
                case (3, WireFormat.WireType.Varint): value = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new CpuInterfaceProtocol.PpiOp(id ?? throw new InvalidDataException("a held PpiOp has no INTID"), operation, value);
    }

    private static NotifierBinding ReadNotifier(CodedInputStream input)
    {
        var spi = 0u;
        var device = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.Varint): spi = input.ReadUInt32(); break;
                case (2, WireFormat.WireType.Varint): device = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new NotifierBinding(spi, device);
    }

    private static IWireMessage ReadWireMessage(CodedInputStream input)
    {
        string? manifest = null;
        var bytes = ByteString.Empty;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (Proto.Key(tag))
            {
                case (1, WireFormat.WireType.LengthDelimited): manifest = input.ReadString(); break;
                case (2, WireFormat.WireType.LengthDelimited): bytes = input.ReadBytes(); break;
                default: input.SkipLastField(); break;
            }
        }
        if (manifest is null) throw new InvalidDataException("a front-door message has no manifest");
        try
        {
            return FabricSerializer.Decode(manifest, bytes.CreateCodedInput(), depth: 0);
        }
        catch (SerializationException e)
        {
            throw new InvalidDataException($"a front-door message: {e.Message}", e);
        }
    }
}
