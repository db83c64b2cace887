using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Migration;
using Fabric.Hardware.Observation;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Cluster;

/// <summary>
/// A VM as a sharded entity: the shell around its <see cref="VmActor"/> (its child <c>vm</c>) that keeps the VM in the
/// cluster's store. It starts from what the store holds: the snapshot its previous node handed off is restored (KVM's
/// order, pending interrupts replayed; <see cref="VmArrival"/>), nothing means a new VM, which boots; the marker
/// of a VM that was running means its node was lost — the VM is reported lost and recreated empty. While the VM runs the
/// shell leaves that marker (and updates it when the VM starts or stops); when its shard moves it has the VM save itself
/// (a handoff move), stores the snapshot and stops. What reaches it while it loads waits in its stash; afterwards
/// everything goes to the VM, its front door.
/// </summary>
public sealed class VmEntityActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>Writes of a handoff's snapshot before the VM is given up as lost.</summary>
    public const int MaxSaveTries = 5;

    private const long MarkerTag = -1;

    private readonly int _vmId;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _store;
    private readonly EntityLife _life;
    private IActorRef _vm = ActorRefs.Nobody;
    /// <summary>A restored VM waits, not yet built, until its running marker is stored: otherwise a crash of this node in
    /// between would let its next incarnation restore the same clean snapshot again, going back in time.</summary>
    private VmArrival? _waitingForMarker;
    /// <summary>The handoff's snapshot being written (its tag, how many times tried).</summary>
    private byte[]? _saved;
    private long _saveTag;
    private int _saveTries;

    /// <summary>What the shell keeps across its own restarts: the phase it is in, whether the VM's devices were started
    /// or stopped (what its marker says), and the generation the VM started in.</summary>
    private sealed class EntityLife
    {
        public bool Running, Started, Stopped;
        public int Generation;
    }

    private VmEntityActor(int vmId, VmSpec spec, EventLog log, IActorRef store, EntityLife life)
    {
        _vmId = vmId;
        _spec = spec;
        _log = log;
        _store = store;
        _life = life;
    }

    /// <summary>VM <paramref name="vmId"/> as a sharded entity that keeps its snapshots in <paramref name="store"/>.</summary>
    public static Props Props(int vmId, VmSpec spec, EventLog log, IActorRef store) =>
        DirectProps.Of((vmId, spec, log, store, life: new EntityLife()), static a => new VmEntityActor(a.vmId, a.spec, a.log, a.store, a.life));

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _store.Tell(new VmStoreProtocol.Get(_vmId));
        Become(Loading);
    }

    /// <summary>A crash of the shell while the VM runs keeps the VM (its child) and its marker: it carries on. While it
    /// loads or hands off, what it held (the snapshot, the write in progress) is gone: the VM is reported lost.</summary>
    protected override void PreRestart(Exception reason, object message)
    {
        if (!_life.Running) base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        if (_life.Running && Context.Child("vm") is { } vm && !vm.IsNobody())
        {
            Context.GetLogger().Warning("vm-{0}: its entity restarted after {1}; the VM carries on", _vmId, reason.Message);
            _vm = Context.Watch(vm);
            Become(Running);   // a restart resets the behaviour: the front door must keep forwarding (a Start after it included)
            return;
        }
        Context.GetLogger().Error("vm-{0}: its entity crashed while loading or handing off ({1}): the VM is lost", _vmId, reason.Message);
        _log.Log(Ev.Lost, _vmId, null, null, $"{FabricEvent.CrashedLost}: {reason.Message}");
        Context.Stop(Self);
    }

    private void Loading(object message)
    {
        switch (message)
        {
            case VmStoreProtocol.Found { Snapshot: null }:
                Run(null);
                break;
            case VmStoreProtocol.Found f:
                Load(f.Snapshot!);
                break;
            case VmStoreProtocol.Stored { Tag: MarkerTag } when _waitingForMarker is { } h:
                _waitingForMarker = null;
                Run(h);
                foreach (var m in h.Snapshot.FrontDoor) Running(m);
                break;
            case VmStoreProtocol.StoreFailed { Tag: MarkerTag } when _waitingForMarker is not null:
                Context.GetLogger().Warning("vm-{0}: its running marker was not stored; retrying before it runs", _vmId);
                Timers.StartSingleTimer("mark", Marker(MarkerTag), TimeSpan.FromMilliseconds(100));
                break;
            case VmStoreProtocol.Put p:
                _store.Tell(p);
                break;
            case VmStoreProtocol.StoreFailed f:
                // A majority did not answer (the cluster is changing): ask again; what arrives meanwhile waits.
                Context.GetLogger().Warning("vm-{0}: reading its snapshot failed ({1}); retrying", _vmId, f.Reason);
                Timers.StartSingleTimer("load", new VmStoreProtocol.Get(_vmId), TimeSpan.FromMilliseconds(100));
                break;
            case VmStoreProtocol.Get g:
                _store.Tell(g);
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vmId}/entity: crash requested");
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>What the store held: a clean handoff is restored (the VM runs once its running marker is stored); a
    /// running marker means the node that ran the VM was lost (its guest with it), so the VM is reported lost and built
    /// anew — started again if it had been.</summary>
    private void Load(byte[] bytes)
    {
        var clock = DateTime.UtcNow.Ticks;
        VmSnapshot snapshot;
        try { snapshot = VmSnapshotCodec.Decode(bytes); }
        catch (Exception e) when (e is InvalidDataException or System.Runtime.Serialization.SerializationException)
        {
            Lost($"its snapshot does not decode: {e.Message}", running: false);
            return;
        }
        if (!snapshot.Clean) { Lost("the node that ran it was lost", snapshot.Started && !snapshot.Stopped); return; }
        if (Restore(snapshot) is { } refused)
        {
            Lost(refused, snapshot.Started && !snapshot.Stopped);
            foreach (var m in snapshot.FrontDoor) Running(m);
            return;
        }
        _waitingForMarker = new VmArrival(snapshot, _restored!, clock);
        (_life.Started, _life.Stopped, _life.Generation) = (snapshot.Started, snapshot.Stopped, snapshot.Generation + 1);
        _store.Tell(Marker(MarkerTag));
    }

    private RunOutcome? _restored;

    /// <summary>The hardware's restore of a handed-off VM's interrupt state, in KVM's order (nothing is built yet): null,
    /// or why it cannot be restored.</summary>
    private string? Restore(VmSnapshot s)
    {
        if (s.Vcpus.Length != _spec.Vcpus || s.Devices.Length != _spec.Devices.Count)
            return $"the snapshot has {s.Vcpus.Length} vCPUs and {s.Devices.Length} devices, the VM {_spec.Vcpus} and {_spec.Devices.Count}";
        if (!VmStateFormat.TryDecode(s.Gic.AsSpan(), out var state, out var error)) return $"its interrupt state does not decode: {error}";
        var first = VmRestore.RestoreAndRun(state, _spec.Policies, _spec.VcpuIds);
        if (!first.Ok) return $"the restore was refused: {first.Status}";
        _restored = first;
        return null;
    }

    /// <summary>A lost VM is built anew, and its devices start again if they were running when it was lost.</summary>
    private void Lost(string why, bool running)
    {
        Context.GetLogger().Warning("vm-{0}: lost ({1}); recreated empty", _vmId, why);
        _log.Log(Ev.Lost, _vmId, null, null, why);
        (_life.Started, _life.Stopped, _life.Generation) = (false, false, 0);
        Run(null);
        if (running) Running(DeviceProtocol.Start.Instance);
    }

    /// <summary>The VM runs: its VmActor is made (new, or around what was handed over), its marker written, and what
    /// waited here goes to it.</summary>
    private void Run(VmArrival? arrival)
    {
        _vm = Context.Watch(Context.ActorOf(VmActor.EntityProps(_vmId, _spec, _log, arrival), "vm"));
        _life.Running = true;
        if (arrival is null) Mark();
        Become(Running);
        Stash.UnstashAll();
    }

    private void Running(object message)
    {
        switch (message)
        {
            case DeviceProtocol.Start:
                if (!_life.Started && !_life.Stopped) { _life.Started = true; Mark(); }
                _vm.Forward(message);
                break;
            case DeviceProtocol.Stop:
                if (!_life.Stopped) { _life.Stopped = true; Mark(); }
                _vm.Forward(message);
                break;
            case ClusterProtocol.HandOff:
                _life.Running = false;
                _vm.Tell(message);
                Become(HandingOff);
                break;
            case VmStoreProtocol.Stored:
                break;   // the running marker was written
            case VmStoreProtocol.StoreFailed f:
                Context.GetLogger().Warning("vm-{0}: its running marker was not written ({1}): a loss of its node would read as a new VM", _vmId, f.Reason);
                break;
            case Terminated t when t.ActorRef.Equals(_vm):
                Context.Stop(Self);   // the VM was lost (a crash reported as such): its next incarnation starts from the store
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vmId}/entity: crash requested");
            default:
                _vm.Forward(message);
                break;
        }
    }

    /// <summary>The VM saves itself (a handoff move); what arrives meanwhile goes to it, to wait at its front door and
    /// travel in its snapshot.</summary>
    private void HandingOff(object message)
    {
        switch (message)
        {
            case HandOffTaken h:
                _saved = VmSnapshotCodec.Encode(h.Snapshot);
                _saveTag = h.Snapshot.Generation + 1L;
                _store.Tell(new VmStoreProtocol.Put(_vmId, _saved, _saveTag));
                Become(Saving);
                break;
            case Terminated t when t.ActorRef.Equals(_vm):
                Context.Stop(Self);   // the save was refused or the saga crashed: the VM is lost
                break;
            case VmStoreProtocol.Stored or VmStoreProtocol.StoreFailed:
                break;   // a running marker's answer: nothing waits for it
            default:
                _vm.Forward(message);
                break;
        }
    }

    private void Saving(object message)
    {
        switch (message)
        {
            case VmStoreProtocol.Stored s when s.Tag == _saveTag:
                _log.Log(Ev.Migrate, _vmId, null, null, MigrateArg.Departed((int)_saveTag - 1).Format());
                Context.Stop(Self);
                break;
            case VmStoreProtocol.StoreFailed f when f.Tag == _saveTag:
                if (++_saveTries < MaxSaveTries) { _store.Tell(new VmStoreProtocol.Put(_vmId, _saved!, _saveTag)); return; }
                Context.GetLogger().Error("vm-{0}: its handoff snapshot was not stored ({1}); the VM is lost", _vmId, f.Reason);
                Context.Stop(Self);
                break;
            default:
                break;   // the VM is saved: nothing more reaches it (the shard buffers what comes until this entity stops)
        }
    }

    /// <summary>The marker a running VM leaves: its generation and whether its devices run. Fire and forget: if it is
    /// not written, a later loss is read as a new VM — still recreated empty, only not reported.</summary>
    private void Mark() => _store.Tell(Marker(0));

    private VmStoreProtocol.Put Marker(long tag) =>
        new(_vmId, VmSnapshotCodec.Encode(VmSnapshot.Running(_vmId, _life.Generation) with { Started = _life.Started, Stopped = _life.Stopped }), tag);

    /// <summary>Nothing arrives before <see cref="PreStart"/> chooses the first phase.</summary>
    protected override void OnReceive(object message) => Unhandled(message);
}
