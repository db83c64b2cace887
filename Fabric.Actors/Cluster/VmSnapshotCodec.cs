using Fabric.Hardware.Protocol;
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
/// The bytes of a <see cref="VmSnapshot"/> — what a VM leaves in the store for the node that runs it next — in
/// Protobuf, its schema in <c>Cluster/Schemas/vm_snapshot.proto</c> (compiled to <see cref="Wire"/> at build time),
/// like the wire messages (<see cref="FabricSerializer"/>). The snapshot is framed (<c>SnapshotFrame</c>: a version,
/// the body, the CRC-32 of the body), so that a cut or altered buffer is refused instead of read as a shorter snapshot.
/// A <c>RegisterNotifier</c>'s device is not carried (an actor reference means nothing on another node): it is read as
/// <see cref="ActorRefs.Nobody"/>, and the receiver binds it to the device that holds the send. Every failure to read —
/// a cut, altered or foreign buffer, a newer version, a value this build does not define — throws
/// <see cref="SerializationException"/>; nothing is returned unless the whole snapshot was read.
/// </summary>
public static class VmSnapshotCodec
{
    /// <summary>The frame's version this build writes and the only one it reads.</summary>
    public const uint Version = 1;

    public static byte[] Encode(VmSnapshot snapshot)
    {
        var body = ToSchema(snapshot).ToByteArray();
        return new Wire.SnapshotFrame
        {
            Version = Version,
            Body = UnsafeByteOperations.UnsafeWrap(body),
            Crc = Crc32.Compute(body),
        }.ToByteArray();
    }

    public static VmSnapshot Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var frame = Wire.SnapshotFrame.Parser.ParseFrom(bytes);
            if (!frame.HasVersion) throw Refused($"{bytes.Length} bytes with no version field: not a VM snapshot");
            if (frame.Version != Version) throw Refused($"version {frame.Version}; this build reads version {Version}");
            if (!frame.HasBody || !frame.HasCrc) throw Refused($"{bytes.Length} bytes with no {(frame.HasBody ? "CRC" : "body")}: the buffer was cut");
            var computed = Crc32.Compute(frame.Body.Span);
            if (computed != frame.Crc) throw Refused($"CRC-32 mismatch: stored 0x{frame.Crc:X8}, computed 0x{computed:X8} (the bytes were altered)");
            return FromSchema(Wire.VmSnapshot.Parser.ParseFrom(frame.Body));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException or ArgumentException)
        {
            throw Refused(e.Message, e);
        }
    }

    private static SerializationException Refused(string why, Exception? inner = null) =>
        new($"VM snapshot refused: {why}", inner);

    private static ImmutableArray<T> OrEmpty<T>(ImmutableArray<T> items) => items.IsDefault ? [] : items;

    // ---- writing: the record to its schema's message, every field set ----

    private static Wire.VmSnapshot ToSchema(VmSnapshot s)
    {
        var m = new Wire.VmSnapshot
        {
            VmId = s.VmId,
            Generation = s.Generation,
            Clean = s.Clean,
            Started = s.Started,
            Stopped = s.Stopped,
            Gic = UnsafeByteOperations.UnsafeWrap(OrEmpty(s.Gic).AsMemory()),
            Scheduler = ToSchema(s.Scheduler),
            FoldId = s.FoldId,
            SavedAt = s.SavedAtUtcTicks,
        };
        m.Vcpus.AddRange(OrEmpty(s.Vcpus).Select(ToSchema));
        m.Devices.AddRange(OrEmpty(s.Devices).Select(ToSchema));
        m.Notifiers.AddRange(OrEmpty(s.Notifiers).Select(n => new Wire.NotifierBinding { Spi = n.Spi, Device = n.Device }));
        m.FrontDoor.AddRange(OrEmpty(s.FrontDoor).Select(f => new Wire.WireMessage
        {
            Manifest = FabricSerializer.ManifestOf(f),
            Bytes = UnsafeByteOperations.UnsafeWrap(FabricSerializer.Encode(f)),
        }));
        return m;
    }

    private static Wire.VcpuContext ToSchema(VcpuContext v)
    {
        var m = new Wire.VcpuContext
        {
            Vpe = v.Vpe,
            Booted = v.Booted,
            InWfi = v.InWfi,
            Preempted = v.Preempted,
            Busy = v.Busy,
            Paused = v.Paused,
            DeferredIsResult = v.DeferredIsResult,
            Random = v.Random,
            Ipis = v.Ipis,
            Stopped = v.Stopped,
        };
        if (v.Woken != ResidencyProtocol.Woken.No) m.Woken = (int)v.Woken;   // absent unless set: an older snapshot reads and writes the same
        if (v.Handling is { } handling) m.Handling = handling.Encode();
        if (v.Deferred is { } deferred) m.Deferred = deferred.Encode();
        m.Disabled.AddRange(OrEmpty(v.Disabled).Select(id => id.Encode()));
        return m;
    }

    private static Wire.DeviceContext ToSchema(DeviceContext d)
    {
        var m = new Wire.DeviceContext { Started = d.Started, Stopped = d.Stopped, Budget = d.Budget, Held = ToSchema(d.Held) };
        m.Serviced.AddRange(OrEmpty(d.Serviced).Select(kv => new Wire.Serviced { Spi = kv.Key, Count = kv.Value }));
        return m;
    }

    private static Wire.SchedulerContext ToSchema(SchedulerContext s)
    {
        var m = new Wire.SchedulerContext { Stopped = s.Stopped, Held = ToSchema(s.Held) };
        m.Preempted.AddRange(OrEmpty(s.Preempted));
        return m;
    }

    /// <summary>Null (the field absent) when the driver is not holding; an empty list when it holds nothing.</summary>
    private static Wire.HeldSends? ToSchema(ImmutableArray<HeldSend>? held)
    {
        if (held is not { } sends) return null;
        var m = new Wire.HeldSends();
        m.Sends.AddRange(OrEmpty(sends).Select(ToSchema));
        return m;
    }

    private static Wire.HeldSend ToSchema(HeldSend h)
    {
        var m = new Wire.HeldSend { Port = (int)h.Port, Index = h.Index };
        switch (h.Message)
        {
            case ApListProtocol.SetIrq s: m.SetIrq = FabricSerializer.SetIrq(s); break;
            case ApListProtocol.RegisterNotifier r: m.RegisterNotifier = new Wire.RegisterNotifier { Spi = r.Spi }; break;
            case CpuInterfaceProtocol.PpiOp p: m.PpiOp = new Wire.PpiOp { Id = p.Id.Encode(), Operation = (int)p.Operation, Value = p.Value }; break;
            case ResidencyProtocol.Wake { Kicked: true }: m.WakeByKick = new Wire.Empty(); break;
            case ResidencyProtocol.Wake: m.Wake = new Wire.Empty(); break;
            case ResidencyProtocol.Preempt: m.Preempt = new Wire.Empty(); break;
            case ResidencyProtocol.Resume: m.Resume = new Wire.Empty(); break;
            default:
                throw new SerializationException(
                    $"VM snapshot: a held {h.Message?.GetType().FullName ?? "null"} has no encoding (held sends are SetIrq, RegisterNotifier, PpiOp, Wake, Preempt, Resume)");
        }
        return m;
    }

    // ---- reading: the schema's message to the record; what this build does not define is refused ----

    private static VmSnapshot FromSchema(Wire.VmSnapshot m) => new(
        m.VmId, m.Generation, m.Clean, m.Started, m.Stopped, [.. m.Gic.Span],
        [.. m.Vcpus.Select(FromSchema)],
        [.. m.Devices.Select(FromSchema)],
        m.Scheduler is { } s ? FromSchema(s) : SchedulerContext.Idle,
        [.. m.Notifiers.Select(n => new NotifierBinding(n.Spi, n.Device))],
        m.FoldId,
        [.. m.FrontDoor.Select(FromSchema)],
        m.SavedAt);

    private static VcpuContext FromSchema(Wire.VcpuContext m) => new(
        m.Vpe, m.Booted, m.InWfi, m.Preempted, m.Busy, m.Paused,
        m.HasHandling ? IntId.Decode(m.Handling) : null,
        m.HasDeferred ? IntId.Decode(m.Deferred) : null,
        m.DeferredIsResult, [.. m.Disabled.Select(IntId.Decode)], m.Random, m.Ipis, m.Stopped, Defined<ResidencyProtocol.Woken>(m.Woken, $"vCPU {m.Vpe}'s wake"));

    private static DeviceContext FromSchema(Wire.DeviceContext m) =>
        new(m.Started, m.Stopped, m.Budget, [.. m.Serviced.Select(s => new KeyValuePair<uint, int>(s.Spi, s.Count))], FromSchema(m.Held));

    private static SchedulerContext FromSchema(Wire.SchedulerContext m) => new([.. m.Preempted], m.Stopped, FromSchema(m.Held));

    private static ImmutableArray<HeldSend>? FromSchema(Wire.HeldSends? m) =>
        m is null ? null : [.. m.Sends.Select((send, position) => FromSchema(send, position))];

    private static HeldSend FromSchema(Wire.HeldSend m, int position) => new(Defined<VmPort>(m.Port, "held send port"), m.Index, m.MessageCase switch
    {
        Wire.HeldSend.MessageOneofCase.SetIrq => FabricSerializer.SetIrq(m.SetIrq),
        Wire.HeldSend.MessageOneofCase.RegisterNotifier => new ApListProtocol.RegisterNotifier(m.RegisterNotifier.Spi, ActorRefs.Nobody),
        Wire.HeldSend.MessageOneofCase.PpiOp => new CpuInterfaceProtocol.PpiOp(
            m.PpiOp.HasId ? IntId.Decode(m.PpiOp.Id) : throw new InvalidDataException("a held PpiOp has no INTID"),
            Defined<PpiOperation>(m.PpiOp.Operation, "PPI operation"), m.PpiOp.Value),
        Wire.HeldSend.MessageOneofCase.Wake => ResidencyProtocol.Wake.Instance,
        Wire.HeldSend.MessageOneofCase.WakeByKick => ResidencyProtocol.Wake.ByKick,
        Wire.HeldSend.MessageOneofCase.Preempt => ResidencyProtocol.Preempt.Instance,
        Wire.HeldSend.MessageOneofCase.Resume => ResidencyProtocol.Resume.Instance,
        _ => throw new InvalidDataException($"held send {position} carries no message this build knows"),
    });

    /// <summary>An enum carried as its number, refused when this build does not define it.</summary>
    private static TEnum Defined<TEnum>(int raw, string what) where TEnum : struct, Enum
    {
        var value = (TEnum)Enum.ToObject(typeof(TEnum), raw);
        return Enum.IsDefined(value) ? value : throw new InvalidDataException($"{what} {raw} is not a {typeof(TEnum).Name}");
    }

    private static IWireMessage FromSchema(Wire.WireMessage m)
    {
        if (!m.HasManifest) throw new InvalidDataException("a front-door message has no manifest");
        try
        {
            return FabricSerializer.Decode(m.Manifest, m.Bytes, depth: 0);
        }
        catch (SerializationException e)
        {
            throw new InvalidDataException($"a front-door message: {e.Message}", e);
        }
    }
}
