using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Cluster;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Migration;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// A VM as a sharded entity. It starts from the store: the snapshot its previous node handed off is restored (KVM's
/// order, pending interrupts replayed, then the vCPUs run and the drivers deliver what they held); nothing means a new
/// VM, which boots; the marker of a VM that was running means its node was lost — the VM is reported lost and
/// recreated empty. While it runs it leaves that marker. When its shard moves it saves itself and stops.
/// Messages that reach it while it loads wait in its stash.
/// </summary>
public sealed partial class VmActor
{
    private bool _loading;
    /// <summary>A restored VM waits, built but not running, until its running marker is stored: otherwise a crash of this
    /// node in between would let its next incarnation restore the same clean snapshot again, going back in time.</summary>
    private Action? _runWhenMarked;
    private const long MarkerTag = -1;

    private void Load()
    {
        _loading = true;
        _store!.Tell(new VmStoreProtocol.Get(_vmId));
    }

    private void Loading(object message)
    {
        switch (message)
        {
            case VmStoreProtocol.Found { Snapshot: null }:
                Loaded(() => Build());
                break;
            case VmStoreProtocol.Found f:
                Start(f.Snapshot!);
                break;
            case VmStoreProtocol.Stored { Tag: MarkerTag } when _runWhenMarked is { } run:
                _runWhenMarked = null;
                _loading = false;
                run();
                Stash.UnstashAll();
                break;
            case VmStoreProtocol.StoreFailed { Tag: MarkerTag } when _runWhenMarked is not null:
                Context.GetLogger().Warning("vm-{0}: its running marker was not stored; retrying before it runs", _vmId);
                Timers.StartSingleTimer("mark", Marker(MarkerTag), TimeSpan.FromMilliseconds(100));
                break;
            case VmStoreProtocol.Put p:
                _store!.Tell(p);
                break;
            case VmStoreProtocol.StoreFailed f:
                // A majority did not answer (the cluster is changing): ask again; what arrives meanwhile waits.
                Context.GetLogger().Warning("vm-{0}: reading its snapshot failed ({1}); retrying", _vmId, f.Reason);
                Timers.StartSingleTimer("load", new VmStoreProtocol.Get(_vmId), TimeSpan.FromMilliseconds(100));
                break;
            case VmStoreProtocol.Get g:
                _store!.Tell(g);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    private void Loaded(Action start)
    {
        _loading = false;
        start();
        Mark();
        Stash.UnstashAll();
    }

    /// <summary>What the store held: a clean handoff is restored; a running marker means the node that ran the VM was
    /// lost (its guest with it), so the VM is reported lost and built anew — started again if it had been.</summary>
    private void Start(byte[] bytes)
    {
        VmSnapshot snapshot;
        try { snapshot = VmSnapshotCodec.Decode(bytes); }
        catch (Exception e) when (e is InvalidDataException or System.Runtime.Serialization.SerializationException)
        {
            Loaded(() => Lost($"its snapshot does not decode: {e.Message}", running: false));
            return;
        }
        if (!snapshot.Clean) { Loaded(() => Lost("the node that ran it was lost", snapshot.Started && !snapshot.Stopped)); return; }
        var restored = Restore(snapshot, out var run);
        if (restored is { } refused)
        {
            Loaded(() =>
            {
                Lost(refused, snapshot.Started && !snapshot.Stopped);
                foreach (var m in snapshot.FrontDoor) OnReceive(m);
            });
            return;
        }
        _runWhenMarked = run;
        _store!.Tell(Marker(MarkerTag));
    }

    /// <summary>A lost VM is built anew, and its devices start again if they were running when it was lost.</summary>
    private void Lost(string why, bool running)
    {
        Context.GetLogger().Warning("vm-{0}: lost ({1}); recreated empty", _vmId, why);
        _log.Log(Ev.Lost, _vmId, null, null, why);
        Build();
        if (running) Self.Tell(DeviceProtocol.Start.Instance);
    }

    /// <summary>The marker a running VM leaves: its generation and whether its devices run. Fire and forget: if it is
    /// not written, a later loss is read as a new VM — still recreated empty, only not reported.</summary>
    private void Mark(bool stopped = false)
    {
        if (_store is null) return;
        _store.Tell(Marker(0, stopped));
    }

    private VmStoreProtocol.Put Marker(long tag, bool stopped = false) =>
        new(_vmId, VmSnapshotCodec.Encode(VmSnapshot.Running(_vmId, _topology.Generation) with { Started = _life.Started, Stopped = _life.Stopped || stopped }), tag);

    /// <summary>The destination's half of a handoff: restore the interrupt state in KVM's order and rebuild the units and
    /// drivers around what they carried; <paramref name="run"/> then runs it (once its running marker is stored). Null,
    /// or why it cannot be restored (nothing has been built then).</summary>
    private string? Restore(VmSnapshot s, out Action run)
    {
        run = () => { };
        var clock = Stopwatch.StartNew();
        if (s.Vcpus.Length != _spec.Vcpus || s.Devices.Length != _spec.Devices.Count)
            return $"the snapshot has {s.Vcpus.Length} vCPUs and {s.Devices.Length} devices, the VM {_spec.Vcpus} and {_spec.Devices.Count}";
        if (!VmStateFormat.TryDecode(s.Gic.AsSpan(), out var state, out var error)) return $"its interrupt state does not decode: {error}";
        var first = VmRestore.RestoreAndRun(state, _spec.Policies, _spec.VcpuIds);
        if (!first.Ok) return $"the restore was refused: {first.Status}";
        var vm = first.Vm!;
        var t = _topology;
        t.Generation = s.Generation + 1;
        SpawnDrivers(s.Scheduler.ToState(), [.. s.Devices.Select(d => d.ToState())]);
        var apList = new ApListState(vm.ApList) { FoldId = s.FoldId };
        foreach (var n in s.Notifiers) apList.Notifiers[n.Spi] = t.Devices[n.Device];
        Spawn(new VirtualIrsState(vm.Irs), apList, [.. vm.Cpus.Select(c => new VpeState(c))], [.. s.Vcpus.Select(c => c.ToState(_spec))]);
        RingDoorbells(first);
        (_life.Started, _life.Stopped) = (s.Started, s.Stopped);
        run = () =>
        {
            if (_life.Started && !_life.Stopped) { _life.StartedAt = Context.System.Scheduler.MonotonicClock; ScheduleMoves(TimeSpan.Zero); }
            // The blackout: from the source's stop to this run (when the snapshot says when that was).
            var blackout = s.SavedAtUtcTicks > 0 ? TimeSpan.FromTicks(Math.Max(0, DateTime.UtcNow.Ticks - s.SavedAtUtcTicks)) : clock.Elapsed;
            _log.Log(Ev.Migrate, _vmId, null, null, FormattableString.Invariant($"bytes={s.Gic.Length} us={(long)blackout.TotalMicroseconds} gen={t.Generation} handoff"));
            RunAgain();
            foreach (var m in s.FrontDoor) OnReceive(m);
        };
        return null;
    }

    /// <summary>The source's half of a handoff: every unit and driver frozen, the VM is saved in the store (the interrupt
    /// state in the documented byte format, and the rest of the VM) — with what waited at its front door — and stops.</summary>
    private void SaveForHandOff(Move move)
    {
        var (vpes, cdias) = move.TakenVpes();
        var saved = VmSave.Save(move.Virs!.Irs, [.. vpes.Select(v => v.Cpu)], move.ApList!.List, vpesWithCdiaInFlight: cdias);
        if (!saved.Ok)
        {
            // Cannot happen once quiesced; if it does the VM cannot move, and its next incarnation reports it lost.
            Context.GetLogger().Error("vm-{0}: handoff save refused, the VM is lost: {1}", _vmId, saved.Status);
            Context.Stop(Self);
            return;
        }
        var frontDoor = Stash.ClearStash().Select(e => e.Message).OfType<IWireMessage>().Cast<object>();
        var snapshot = new VmSnapshot(_vmId, _topology.Generation, Clean: true, _life.Started, _life.Stopped,
            [.. VmStateFormat.Encode(saved.State!)],
            [.. move.Vcpus.Select(v => VcpuContext.Of(v!))],
            [.. move.Devices.Select(d => DeviceContext.Of(d!))],
            SchedulerContext.Of(move.Scheduler!),
            [.. move.ApList.Notifiers.Select(n => new NotifierBinding(n.Key, _topology.Devices.IndexOf((IActorRef)n.Value))).OrderBy(n => n.Spi)],
            move.ApList.FoldId,
            [.. frontDoor],
            move.StartedAtUtcTicks);
        move.Saving = true;
        move.SaveTag = _topology.Generation + 1L;
        move.Saved = VmSnapshotCodec.Encode(snapshot);
        _store!.Tell(new VmStoreProtocol.Put(_vmId, move.Saved, move.SaveTag));
    }

    private void HandedOff(object reply)
    {
        if (reply is VmStoreProtocol.StoreFailed f)
            Context.GetLogger().Error("vm-{0}: its handoff snapshot was not stored ({1}); the VM is lost", _vmId, f.Reason);
        else
            _log.Log(Ev.Migrate, _vmId, null, null, FormattableString.Invariant($"handoff-out gen={_topology.Generation}"));
        Context.Stop(Self);
    }
}
