using Fabric.Hardware.Protocol;
using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using CsCheck;
using Fabric.Actors.Cluster;
using Fabric.Actors.Drivers;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Migration;
using Fabric.Specs.Hardware.Migration;
using Google.Protobuf;
using Xunit;
using static Fabric.Actors.Protocols.ClusterProtocol;

namespace Fabric.Specs.Cluster;

/// <summary>What crosses nodes: every wire message through the actor system's serialization (the binding in
/// <see cref="ClusterConfig.Serialization"/> to <see cref="FabricSerializer"/>), every message declared wire or local,
/// and the VM snapshot a handoff leaves (<see cref="VmSnapshotCodec"/>), which is read whole or refused.</summary>
public class SerializationSpecs() : TestKit(ClusterConfig.Serialization.WithFallback(
    ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF")))
{
    /// <summary>One case per wire message type at least, by name (names keep the theory's data serializable).</summary>
    internal static readonly Dictionary<string, IWireMessage> Wire = new()
    {
        ["envelope of SetIrq"] = new VmEnvelope(12, new ApListProtocol.SetIrq(40, true)),
        ["envelope of Start"] = new VmEnvelope(0, DeviceProtocol.Start.Instance),
        ["envelope of Stop"] = new VmEnvelope(int.MaxValue, DeviceProtocol.Stop.Instance),
        ["envelope of Migrate"] = new VmEnvelope(-3, new MigrationProtocol.Migrate(-3)),
        ["envelope of an envelope"] = new VmEnvelope(1, new VmEnvelope(2, new ApListProtocol.SetIrq(7, false))),
        ["SetIrq raised"] = new ApListProtocol.SetIrq(uint.MaxValue, true),
        ["SetIrq lowered"] = new ApListProtocol.SetIrq(0, false),
        ["Start"] = DeviceProtocol.Start.Instance,
        ["Stop"] = DeviceProtocol.Stop.Instance,
        ["Refused"] = new IrsProtocol.Refused("CDPRI spi:5", "priority 40 is out of range (5 bits: 0..31) — é ✓"),
        ["Refused empty"] = new IrsProtocol.Refused("", ""),
        ["Migrate"] = new MigrationProtocol.Migrate(4096),
        ["Migrated"] = new MigrationProtocol.Migrated(7, [0x46, 0x56, 0x4D, 0x53, 0, 255, 1], TimeSpan.FromTicks(123_456_789), 3),
        ["Migrated empty"] = new MigrationProtocol.Migrated(0, [], TimeSpan.Zero, 0),
        ["Where"] = new Where(11),
        ["envelope of Where"] = new VmEnvelope(11, new Where(11)),
        ["Here"] = new Here(11, "akka.tcp://fabric@127.0.0.1:40123", 3),
    };

    public static TheoryData<string> WireCases => [.. Wire.Keys];

    [Theory]
    [MemberData(nameof(WireCases))]
    public void Every_wire_message_round_trips_through_the_systems_serialization(string name)
    {
        var message = Wire[name];
        Assert.Equal(message, RoundTrip(message), WireComparer.Instance);
    }

    [Fact]
    public void Every_wire_message_type_has_a_round_trip_case()
    {
        var covered = Wire.Values.Select(m => m.GetType()).ToHashSet();
        var missing = WireTypes().Where(t => !covered.Contains(t)).Select(t => t.FullName).ToList();
        Assert.True(missing.Count == 0, $"wire messages with no round-trip case (and maybe no serializer): {string.Join(", ", missing)}");
    }

    [Fact]
    public void Each_wire_message_type_has_its_own_manifest()
    {
        var manifests = Wire.Values.GroupBy(m => m.GetType()).ToDictionary(g => g.Key, g => Manifest(g.First()));
        Assert.Equal(manifests.Count, manifests.Values.Distinct().Count());
        Assert.All(manifests.Values, m => Assert.InRange(m.Length, 1, 2));
    }

    [Fact]
    public void Every_message_says_whether_it_crosses_nodes()
    {
        var actors = typeof(ILocalMessage).Assembly;
        var protocols = actors.GetTypes().Concat(typeof(IWireMessage).Assembly.GetTypes()).Where(t => t.Name.EndsWith("Protocol", StringComparison.Ordinal)
            && t.Namespace is "Fabric.Actors.Protocols" or "Fabric.Actors.Cluster" or "Fabric.Hardware.Protocol");
        var messages = protocols.SelectMany(p => p.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
            .Where(t => t is { IsInterface: false, IsEnum: false } && !t.IsDefined(typeof(CompilerGeneratedAttribute)))
            // an actor's own messages too (its timers' ticks, its replies): every record nested in an actor
            .Concat(actors.GetTypes().Where(t => typeof(ActorBase).IsAssignableFrom(t))
                .SelectMany(a => a.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic)).Where(IsRecord))
            .ToList();
        Assert.Contains(typeof(HandOff), messages);
        Assert.Contains(typeof(ApListProtocol.SetIrq), messages);
        var undeclared = messages
            .Where(t => new[] { typeof(IWireMessage), typeof(ILocalMessage), typeof(IUnitMessage) }.Count(m => m.IsAssignableFrom(t)) != 1)
            .Select(t => t.FullName).ToList();
        Assert.True(undeclared.Count == 0,
            $"messages that are not exactly one of IWireMessage, ILocalMessage and IUnitMessage: {string.Join(", ", undeclared)}");
    }

    [Fact]
    public void Wire_messages_go_to_the_fabric_serializer_and_local_messages_do_not()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new ApListProtocol.SetIrq(1, true));
        Assert.IsType<FabricSerializer>(serializer);
        Assert.Equal(7412, serializer.Identifier);
        Assert.IsNotType<FabricSerializer>(Sys.Serialization.FindSerializerFor(new ApListProtocol.VcpuExit(0)));
    }

    [Fact]
    public void A_message_with_an_unknown_manifest_is_refused_naming_it()
    {
        var e = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize([8, 1], FabricSerializer.Id, "Zq"));
        Assert.Contains("'Zq'", e.Message);
        var inner = new VmEnvelope(1, new ApListProtocol.SetIrq(1, true));
        var bytes = FabricSerializer.Encode(inner);
        var renamed = new Fabric.Actors.Cluster.Wire.VmEnvelope
        {
            VmId = 1,
            Manifest = "Zq",
            Payload = ByteString.CopyFrom(FabricSerializer.Encode(inner.Message)),
        }.ToByteArray();
        Assert.Contains("'Zq'", Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(renamed, FabricSerializer.Id, "E")).Message);
        Assert.Equal(inner, Sys.Serialization.Deserialize(bytes, FabricSerializer.Id, "E"));
    }

    [Fact]
    public void Fields_a_later_version_adds_are_skipped()
    {
        var bytes = Raw(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteUInt32(40);
            o.WriteTag(9, WireFormat.WireType.LengthDelimited);
            o.WriteString("a field from the future");
            o.WriteTag(2, WireFormat.WireType.Varint);
            o.WriteBool(true);
            o.WriteTag(10, WireFormat.WireType.Fixed64);
            o.WriteFixed64(42);
        });
        Assert.Equal(new ApListProtocol.SetIrq(40, true), Sys.Serialization.Deserialize(bytes, FabricSerializer.Id, "S"));
        Assert.Equal(DeviceProtocol.Start.Instance, Sys.Serialization.Deserialize(bytes, FabricSerializer.Id, "G"));
    }

    [Fact]
    public void Envelopes_nested_deeper_than_the_limit_are_refused()
    {
        IWireMessage message = new ApListProtocol.SetIrq(1, true);
        for (var i = 0; i < FabricSerializer.MaxEnvelopeDepth; i++) message = new VmEnvelope(i, message);
        Assert.Equal(message, RoundTrip(message));
        var deeper = new VmEnvelope(99, message);
        var e = Assert.Throws<SerializationException>(() => Sys.Serialization.Deserialize(FabricSerializer.Encode(deeper), FabricSerializer.Id, "E"));
        Assert.Contains("nested", e.Message);
    }

    [Fact]
    public void Random_injections_and_envelopes_round_trip()
    {
        var setIrq = Gen.Select(Gen.UInt, Gen.Bool, (spi, level) => new ApListProtocol.SetIrq(spi, level));
        var payload = Gen.OneOf<IWireMessage>(
            setIrq.Select(m => (IWireMessage)m),
            Gen.Const<IWireMessage>(DeviceProtocol.Start.Instance),
            Gen.Const<IWireMessage>(DeviceProtocol.Stop.Instance),
            Gen.Int.Select(vm => (IWireMessage)new MigrationProtocol.Migrate(vm)),
            Gen.Select(Gen.String, Gen.String, (op, why) => (IWireMessage)new IrsProtocol.Refused(op, why)),
            Gen.Select(Gen.Int, Gen.Byte.Array[0, 64], Gen.Long[0, long.MaxValue], Gen.Int,
                (vm, state, ticks, gen) => (IWireMessage)new MigrationProtocol.Migrated(vm, [.. state], TimeSpan.FromTicks(ticks), gen)));
        var envelope = Gen.Select(Gen.Int.Array[1, 3], payload,
            (vms, inner) => vms.Aggregate(inner, (m, vm) => new VmEnvelope(vm, m)));
        setIrq.Sample(m => Assert.Equal(m, RoundTrip(m)));
        envelope.Sample(m => Assert.Equal(m, RoundTrip(m), WireComparer.Instance));
    }

    // ---- the VM snapshot ----

    [Fact]
    public void A_snapshot_with_every_field_set_round_trips_to_the_same_fields_and_bytes()
    {
        var snapshot = Full(TestActor);
        var bytes = VmSnapshotCodec.Encode(snapshot);
        var decoded = VmSnapshotCodec.Decode(bytes);
        AssertSame(snapshot, decoded);
        Assert.Equal(bytes, VmSnapshotCodec.Encode(decoded));
        Assert.Equal(bytes, VmSnapshotCodec.Encode(Full(ActorRefs.Nobody)));   // the notifier's device is not carried
    }

    [Fact]
    public void A_running_marker_round_trips()
    {
        var marker = VmSnapshot.Running(5, 2);
        var decoded = VmSnapshotCodec.Decode(VmSnapshotCodec.Encode(marker));
        AssertSame(marker, decoded);
        Assert.False(decoded.Clean);
        Assert.Equal(SchedulerContext.Idle with { Preempted = [] }, decoded.Scheduler with { Preempted = [] });
    }

    [Fact]
    public void A_driver_holding_nothing_is_not_a_driver_that_does_not_hold()
    {
        var snapshot = VmSnapshot.Running(1, 1) with
        {
            Devices = [new DeviceContext(true, false, 10, [], null), new DeviceContext(true, false, 10, [], [])],
            Scheduler = new SchedulerContext([], false, []),
        };
        var decoded = VmSnapshotCodec.Decode(VmSnapshotCodec.Encode(snapshot));
        Assert.Null(decoded.Devices[0].Held);
        Assert.Equal(0, decoded.Devices[1].Held?.Length);
        Assert.Equal(0, decoded.Scheduler.Held?.Length);
    }

    [Fact]
    public void Random_snapshots_round_trip()
    {
        AnySnapshot.Sample(s =>
        {
            var bytes = VmSnapshotCodec.Encode(s);
            var decoded = VmSnapshotCodec.Decode(bytes);
            AssertSame(s, decoded);
            Assert.Equal(bytes, VmSnapshotCodec.Encode(decoded));
        });
    }

    [Fact]
    public void Every_cut_of_a_snapshot_is_refused()
    {
        var bytes = VmSnapshotCodec.Encode(Full(ActorRefs.Nobody));
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            var at = cut;
            Assert.Throws<SerializationException>(() => VmSnapshotCodec.Decode(bytes.AsSpan(0, at)));
        }
    }

    [Fact]
    public void Every_flipped_bit_of_a_snapshot_is_refused()
    {
        // The GIC state is opaque to the codec (a bytes field, under the CRC like every other): a short one keeps this
        // to one decode per bit of everything the codec writes itself.
        var bytes = VmSnapshotCodec.Encode(Full(ActorRefs.Nobody, gic: [.. Enumerable.Range(0, 48).Select(i => (byte)(i * 37))]));
        for (var bit = 0; bit < bytes.Length * 8; bit++)
        {
            var bad = bytes.ToArray();
            bad[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Throws<SerializationException>(() => VmSnapshotCodec.Decode(bad));
        }
    }

    [Fact]
    public void Random_bytes_are_refused_as_a_snapshot() =>
        Gen.Byte.Array[0, 600].Sample(garbage => Assert.Throws<SerializationException>(() => VmSnapshotCodec.Decode(garbage)));

    [Fact]
    public void A_snapshot_of_another_version_is_refused_naming_it()
    {
        var body = new Fabric.Actors.Cluster.Wire.VmSnapshot { VmId = 5 }.ToByteString();
        var v2 = new Fabric.Actors.Cluster.Wire.SnapshotFrame { Version = 2, Body = body, Crc = Crc32.Compute(body.Span) }.ToByteArray();
        var e = Assert.Throws<SerializationException>(() => VmSnapshotCodec.Decode(v2));
        Assert.Contains("version 2", e.Message);
    }

    [Fact]
    public void A_snapshot_body_with_fields_of_a_later_version_is_read()
    {
        var original = Fabric.Actors.Cluster.Wire.SnapshotFrame.Parser.ParseFrom(VmSnapshotCodec.Encode(VmSnapshot.Running(9, 4)));
        var grown = original.Body.Concat(Raw(o =>
        {
            o.WriteTag(40, WireFormat.WireType.LengthDelimited);
            o.WriteString("later");
        })).ToArray();
        var reframed = new Fabric.Actors.Cluster.Wire.SnapshotFrame
        {
            Version = VmSnapshotCodec.Version,
            Body = ByteString.CopyFrom(grown),
            Crc = Crc32.Compute(grown),
        }.ToByteArray();
        var decoded = VmSnapshotCodec.Decode(reframed);
        Assert.Equal((9, 4), (decoded.VmId, decoded.Generation));
    }

    [Fact]
    public void A_held_message_with_no_encoding_is_not_written()
    {
        var snapshot = VmSnapshot.Running(1, 1) with
        {
            Scheduler = new SchedulerContext([], false, [new HeldSend(VmPort.Vcpu, 0, new ApListProtocol.VcpuExit(0))]),
        };
        Assert.Contains("VcpuExit", Assert.Throws<SerializationException>(() => VmSnapshotCodec.Encode(snapshot)).Message);
    }

    // ---- helpers ----

    /// <summary>Bytes written field by field, as a build with other fields would write them.</summary>
    private static byte[] Raw(Action<CodedOutputStream> fields)
    {
        using var bytes = new MemoryStream();
        using (var output = new CodedOutputStream(bytes, leaveOpen: true)) fields(output);
        return bytes.ToArray();
    }

    private object RoundTrip(IWireMessage message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<FabricSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, Manifest(message));
    }

    private string Manifest(object message) =>
        Akka.Serialization.Serialization.ManifestFor(Sys.Serialization.FindSerializerFor(message), message);

    private static IEnumerable<Type> WireTypes() =>
        typeof(IWireMessage).Assembly.GetTypes().Where(t => typeof(IWireMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false });

    private static bool IsRecord(Type t) => t.GetMethod("<Clone>$") is not null;

    /// <summary>Value equality that looks into the byte arrays records compare by reference.</summary>
    internal sealed class WireComparer : IEqualityComparer<object>
    {
        public static readonly WireComparer Instance = new();

        public new bool Equals(object? x, object? y) => (x, y) switch
        {
            (VmEnvelope a, VmEnvelope b) => a.VmId == b.VmId && Equals(a.Message, b.Message),
            (MigrationProtocol.Migrated a, MigrationProtocol.Migrated b) =>
                a with { State = [] } == b with { State = [] } && a.State.SequenceEqual(b.State),
            _ => object.Equals(x, y),
        };

        public int GetHashCode(object obj) => 0;
    }

    /// <summary>Every field of a snapshot: three vCPUs (handling, deferred, disabled), devices holding every kind of
    /// send, not holding, and holding nothing, a scheduler holding sends, notifiers, and each front-door message.</summary>
    internal static VmSnapshot Full(IActorRef device, ImmutableArray<byte>? gic = null) => new(
        VmId: 17,
        Generation: 6,
        Clean: true,
        Started: true,
        Stopped: false,
        Gic: gic ?? [.. MigrationKit.Busy().State.Encode()],
        Vcpus:
        [
            new VcpuContext(0, Booted: true, InWfi: false, Preempted: false, Busy: true, Paused: true, Handling: IntId.Spi(5),
                Deferred: null, DeferredIsResult: false, Disabled: [IntId.Spi(7), IntId.Lpi(8192), IntId.Ppi(27)], Random: 0x0123_4567_89AB_CDEFUL,
                Ipis: 12, Stopped: false),
            new VcpuContext(1, Booted: true, InWfi: true, Preempted: true, Busy: false, Paused: true, Handling: null,
                Deferred: IntId.Ppi(27), DeferredIsResult: true, Disabled: [], Random: 0, Ipis: long.MaxValue, Stopped: false),
            new VcpuContext(2, Booted: false, InWfi: false, Preempted: false, Busy: false, Paused: false, Handling: IntId.Lpi(IntId.IdMask),
                Deferred: IntId.Spi(0), DeferredIsResult: false, Disabled: [IntId.Spi(IntId.IdMask)], Random: ulong.MaxValue, Ipis: 0, Stopped: true),
        ],
        Devices:
        [
            new DeviceContext(Started: true, Stopped: false, Budget: 1_000_000, Serviced: [new(32, 3), new(33, 0), new(63, int.MaxValue)], Held:
            [
                new HeldSend(VmPort.ApList, 0, new ApListProtocol.SetIrq(32, true)),
                new HeldSend(VmPort.ApList, 0, new ApListProtocol.RegisterNotifier(32, device)),
                new HeldSend(VmPort.ApList, 0, new ApListProtocol.SetIrq(32, false)),
                new HeldSend(VmPort.Vpe, 1, new CpuInterfaceProtocol.PpiOp(IntId.Ppi(27), PpiOperation.Pend, 1)),
                new HeldSend(VmPort.Vpe, 2, new CpuInterfaceProtocol.PpiOp(IntId.Ppi(3), PpiOperation.Priority, 31)),
                new HeldSend(VmPort.Vcpu, 2, ResidencyProtocol.Wake.Instance),
                new HeldSend(VmPort.Vcpu, 0, ResidencyProtocol.Preempt.Instance),
                new HeldSend(VmPort.Vcpu, 0, ResidencyProtocol.Resume.Instance),
            ]),
            new DeviceContext(Started: false, Stopped: true, Budget: -1, Serviced: [], Held: null),
            new DeviceContext(Started: true, Stopped: true, Budget: 0, Serviced: [new(0, 1)], Held: []),
        ],
        Scheduler: new SchedulerContext([0, 2], Stopped: true,
        [
            new HeldSend(VmPort.Vcpu, 0, ResidencyProtocol.Preempt.Instance),
            new HeldSend(VmPort.Vcpu, 2, ResidencyProtocol.Resume.Instance),
            new HeldSend(VmPort.Vcpu, 1, ResidencyProtocol.Wake.Instance),
        ]),
        Notifiers: [new(32, 1), new(33, 1), new(40, 0)],
        FoldId: 99,
        FrontDoor:
        [
            new ApListProtocol.SetIrq(40, true),
            DeviceProtocol.Start.Instance,
            new MigrationProtocol.Migrate(17),
            DeviceProtocol.Stop.Instance,
            new ApListProtocol.SetIrq(40, false),
        ]);

    private static readonly Gen<IntId> AnyIntId = Gen.OneOf(
        Gen.UInt[0, IntId.IdMask].Select(IntId.Spi), Gen.UInt[0, IntId.IdMask].Select(IntId.Lpi), Gen.UInt[0, IntId.PpiCount - 1].Select(IntId.Ppi));

    private static readonly Gen<IntId?> AnyOptionalIntId = Gen.Select(Gen.Bool, AnyIntId, (has, id) => has ? id : (IntId?)null);

    private static readonly Gen<object> AnyHeldMessage = Gen.OneOf(
        Gen.Select(Gen.UInt, Gen.Bool, (spi, level) => (object)new ApListProtocol.SetIrq(spi, level)),
        Gen.UInt.Select(spi => (object)new ApListProtocol.RegisterNotifier(spi, ActorRefs.Nobody)),
        Gen.Select(AnyIntId, Gen.Enum<PpiOperation>(), Gen.Int, (id, op, v) => (object)new CpuInterfaceProtocol.PpiOp(id, op, v)),
        Gen.Const<object>(ResidencyProtocol.Wake.Instance), Gen.Const<object>(ResidencyProtocol.Wake.ByKick), Gen.Const<object>(ResidencyProtocol.Preempt.Instance),
        Gen.Const<object>(ResidencyProtocol.Resume.Instance));

    private static readonly Gen<ImmutableArray<HeldSend>?> AnyHeld = Gen.Frequency(
        (1, Gen.Const(default(ImmutableArray<HeldSend>?))),
        (3, Gen.Select(Gen.Enum<VmPort>(), Gen.Int[0, 64], AnyHeldMessage, (p, i, m) => new HeldSend(p, i, m)).Array[0, 6]
            .Select(a => (ImmutableArray<HeldSend>?)[.. a])));

    private static readonly Gen<VcpuContext> AnyVcpu =
        Gen.Select(Gen.Int[0, 65535], Gen.Bool.Array[7], AnyOptionalIntId, AnyOptionalIntId, AnyIntId.Array[0, 4], Gen.ULong, Gen.Long,
            Gen.Enum<ResidencyProtocol.Woken>(),
            (vpe, f, handling, deferred, disabled, random, ipis, woken) =>
                new VcpuContext(vpe, f[0], f[1], f[2], f[3], f[4], handling, deferred, f[5], [.. disabled], random, ipis, f[6], woken));

    private static readonly Gen<DeviceContext> AnyDevice =
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Long, Gen.Select(Gen.UInt, Gen.Int, (s, n) => new KeyValuePair<uint, int>(s, n)).Array[0, 5], AnyHeld,
            (started, stopped, budget, serviced, held) => new DeviceContext(started, stopped, budget, [.. serviced], held));

    private static readonly Gen<IWireMessage> AnyFrontDoor = Gen.OneOf(
        Gen.Select(Gen.UInt, Gen.Bool, (spi, level) => (IWireMessage)new ApListProtocol.SetIrq(spi, level)),
        Gen.Int.Select(vm => (IWireMessage)new MigrationProtocol.Migrate(vm)),
        Gen.Const<IWireMessage>(DeviceProtocol.Start.Instance), Gen.Const<IWireMessage>(DeviceProtocol.Stop.Instance));

    private static readonly Gen<VmSnapshot> AnySnapshot =
        Gen.Select(Gen.Int, Gen.Int, Gen.Bool.Array[3], Gen.Byte.Array[0, 200], AnyVcpu.Array[0, 4], AnyDevice.Array[0, 3],
            Gen.Select(Gen.Int[0, 64].Array[0, 4], Gen.Bool, AnyHeld, (p, s, h) => new SchedulerContext([.. p], s, h)),
            Gen.Select(Gen.Select(Gen.UInt, Gen.Int, (s, d) => new NotifierBinding(s, d)).Array[0, 4], Gen.Long, AnyFrontDoor.Array[0, 4]))
        .Select((vm, gen, flags, gic, vcpus, devices, scheduler, rest) => new VmSnapshot(vm, gen, flags[0], flags[1], flags[2], [.. gic],
            [.. vcpus], [.. devices], scheduler, [.. rest.Item1], rest.Item2, [.. rest.Item3.Cast<object>()]));

    /// <summary>Field by field (records compare their arrays by reference); a held RegisterNotifier's device is not
    /// carried: it is read as Nobody.</summary>
    internal static void AssertSame(VmSnapshot expected, VmSnapshot actual)
    {
        Assert.Equal((expected.VmId, expected.Generation, expected.Clean, expected.Started, expected.Stopped, expected.FoldId),
            (actual.VmId, actual.Generation, actual.Clean, actual.Started, actual.Stopped, actual.FoldId));
        Assert.Equal(expected.Gic.ToArray(), actual.Gic.ToArray());
        Assert.Equal(expected.Vcpus.Length, actual.Vcpus.Length);
        foreach (var (e, a) in expected.Vcpus.Zip(actual.Vcpus))
        {
            Assert.Equal(e with { Disabled = [] }, a with { Disabled = [] });
            Assert.Equal(e.Disabled.ToArray(), a.Disabled.ToArray());
        }
        Assert.Equal(expected.Devices.Length, actual.Devices.Length);
        foreach (var (e, a) in expected.Devices.Zip(actual.Devices))
        {
            Assert.Equal(e with { Serviced = [], Held = null }, a with { Serviced = [], Held = null });
            Assert.Equal(e.Serviced.ToArray(), a.Serviced.ToArray());
            AssertSameHeld(e.Held, a.Held);
        }
        Assert.Equal(expected.Scheduler.Preempted.ToArray(), actual.Scheduler.Preempted.ToArray());
        Assert.Equal(expected.Scheduler.Stopped, actual.Scheduler.Stopped);
        AssertSameHeld(expected.Scheduler.Held, actual.Scheduler.Held);
        Assert.Equal(expected.Notifiers.ToArray(), actual.Notifiers.ToArray());
        Assert.Equal(expected.FrontDoor.ToArray(), actual.FrontDoor.ToArray());
    }

    private static void AssertSameHeld(ImmutableArray<HeldSend>? expected, ImmutableArray<HeldSend>? actual)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is not { } e || actual is not { } a) return;
        Assert.Equal(e.Length, a.Length);
        foreach (var (x, y) in e.Zip(a))
        {
            Assert.Equal((x.Port, x.Index), (y.Port, y.Index));
            if (x.Message is ApListProtocol.RegisterNotifier r)
                Assert.Equal(r with { Device = ActorRefs.Nobody }, y.Message);
            else
                Assert.Equal(x.Message, y.Message);
        }
    }
}
