using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Migration;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>A VM's live migration (<see cref="MigrationProtocol"/>): within this node, and the first half of a handoff
/// to another node.</summary>
public sealed partial class VmActor
{
    // ---- A move ---------------------------------------------------------------------------------------------

    /// <summary>One move in progress: who asked, the acknowledgements awaited, the quiescence rounds, what was frozen.
    /// A handoff also freezes the drivers and ends with the VM saved in the store, not restored here.</summary>
    private sealed class Move(IActorRef requester, int awaiting, bool handOff)
    {
        public readonly IActorRef Requester = requester;
        public readonly bool HandOff = handOff;
        public bool DriversFrozen, Saving;
        /// <summary>The snapshot's write (its tag, and how many times it was tried): only its answer ends the handoff.</summary>
        public long SaveTag;
        public int SaveTries;
        public byte[]? Saved;
        public SchedulerState? Scheduler;
        public DeviceState?[] Devices = [];
        /// <summary>When the move began, on the actor system's scheduler clock (virtual time in a deterministic run).</summary>
        public TimeSpan StartedAt;
        public readonly long StartedAtUtcTicks = DateTime.UtcNow.Ticks;
        public int Awaiting = awaiting;
        public long Round, Total, PreviousTotal = -1;
        public VirtualIrsState? Virs;
        public ApListState? ApList;
        public VpeState?[] Vpes = [];
        public VcpuState?[] Vcpus = [];

        /// <summary>The frozen VPEs, in order, and those whose CDIA was between the CPU interface and the IRS (what
        /// <see cref="VmSave"/> refuses to save over).</summary>
        public (VpeState[] Vpes, int[] CdiasInFlight) TakenVpes()
        {
            var vpes = Vpes.Select(v => v!).ToArray();
            return (vpes, [.. vpes.Where(v => v.Acking is not null).Select(v => v.Cpu.VpeId)]);
        }
    }

    private IEnumerable<IActorRef> Units => _topology.Vpes.Concat(_topology.Vcpus).Append(_topology.Virs).Append(_topology.ApList);
    private int UnitCount => 2 * _spec.Vcpus + 2;

    /// <summary>Detach the injectors (they hold what they would send) and stop every vCPU.</summary>
    private void BeginMove(IActorRef requester, bool handOff)
    {
        var t = _topology;
        _move = new Move(requester, t.Devices.Count + 1 + t.Vcpus.Length, handOff)
        {
            StartedAt = Context.System.Scheduler.MonotonicClock,
            Vpes = new VpeState?[_spec.Vcpus],
            Vcpus = new VcpuState?[_spec.Vcpus],
            Devices = new DeviceState?[t.Devices.Count],
        };
        t.Devices.ForEach(d => d.Tell(Hold.Instance));
        t.Scheduler.Tell(Hold.Instance);
        foreach (var v in t.Vcpus) v.Tell(StopVcpu.Instance);
    }

    private void Moving(object message)
    {
        var move = _move!;
        switch (message)
        {
            case Held or Stopped:
                if (--move.Awaiting == 0) NextRound(move);
                break;
            case Quiet q when q.Round == move.Round:
                move.Total += q.Processed;
                if (--move.Awaiting > 0) return;
                if (move.Total == move.PreviousTotal) FreezeUnits(move);
                else if (move.Round >= MaxQuiesceRounds) Abandon(move, $"still busy after {MaxQuiesceRounds} quiescence rounds");
                else { move.PreviousTotal = move.Total; NextRound(move); }
                break;
            case Frozen f:
                Keep(move, f.Unit, Sender);
                if (--move.Awaiting > 0) return;
                if (!move.HandOff) Finish(move);
                else if (!move.DriversFrozen) FreezeDrivers(move);
                else SaveForHandOff(move);
                break;
            case Cluster.VmStoreProtocol.Stored s when move.Saving && s.Tag == move.SaveTag:
                HandedOff(message);
                break;
            case Cluster.VmStoreProtocol.StoreFailed f when move.Saving && f.Tag == move.SaveTag:
                if (++move.SaveTries < MaxSaveTries) _store!.Tell(new Cluster.VmStoreProtocol.Put(_vmId, move.Saved!, move.SaveTag));
                else HandedOff(message);
                break;
            case Cluster.VmStoreProtocol.Stored or Cluster.VmStoreProtocol.StoreFailed:
                break;   // a running marker's answer: nothing waits for it
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: operation refused: {1}: {2}", _vmId, r.Operation, r.Reason);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>IRS_SAVE_VMR.Q: ask every unit how much it has processed; two equal totals in a row mean nothing is in flight.</summary>
    private void NextRound(Move move)
    {
        move.Round++;
        move.Total = 0;
        move.Awaiting = UnitCount;
        foreach (var u in Units) u.Tell(new Quiesce(move.Round));
    }

    private void FreezeUnits(Move move)
    {
        move.Awaiting = UnitCount;
        foreach (var u in Units) u.Tell(Freeze.Instance);
    }

    /// <summary>A handoff takes the drivers' progress too: they move to the other node with their VM.</summary>
    private void FreezeDrivers(Move move)
    {
        move.DriversFrozen = true;
        move.Awaiting = _topology.Devices.Count + 1;
        _topology.Devices.ForEach(d => d.Tell(Freeze.Instance));
        _topology.Scheduler.Tell(Freeze.Instance);
    }

    private void Keep(Move move, object unit, IActorRef from)
    {
        switch (unit)
        {
            case SchedulerState s: move.Scheduler = s; break;
            case DeviceState s: move.Devices[_topology.Devices.IndexOf(from)] = s; break;
            case VirtualIrsState s: move.Virs = s; break;
            case ApListState s: move.ApList = s; break;
            case VpeState s: move.Vpes[s.Cpu.VpeId] = s; break;
            case VcpuState s: move.Vcpus[s.Vpe] = s; break;
            default: throw new InvalidOperationException($"unknown unit {unit.GetType().Name}");
        }
    }

    /// <summary>Save, carry and restore (<see cref="VmMove"/>), then run the VM in fresh units; if the hardware refuses,
    /// run it on in fresh units around the state it had, which the refusal left untouched.</summary>
    private void Finish(Move move)
    {
        var (vpes, cdias) = move.TakenVpes();
        var vcpus = move.Vcpus.Select(v => v!).ToArray();
        var outcome = VmMove.Move(move.Virs!.Irs, [.. vpes.Select(v => v.Cpu)], move.ApList!.List, _spec.Policies, cdias);
        var old = Units.ToArray();
        _topology.Generation++;
        if (!outcome.Ok)
        {
            Context.GetLogger().Error("vm-{0}: migration refused, the VM runs on where it was: {1}", _vmId, outcome.Status);
            Spawn(move.Virs, move.ApList, vpes, vcpus);
        }
        else
        {
            var vm = outcome.Vm;
            var apList = new ApListState(vm.ApList) { FoldId = move.ApList.FoldId };
            foreach (var (spi, device) in move.ApList.Notifiers) apList.Notifiers[spi] = device;
            Spawn(new VirtualIrsState(vm.Irs), apList, vm.Cpus.Select(c => new VpeState(c)).ToArray(), vcpus);
            RingDoorbells(outcome.Run!);
        }
        var fresh = Units.ToArray();
        for (var i = 0; i < old.Length; i++) old[i].Tell(new Retire(fresh[i]));
        Resume(move, outcome.Ok ? [.. outcome.Bytes!] : [], outcome.Ok ? null : outcome.Status.ToString());
    }

    /// <summary>The doorbells the restore's first run raised (its replayed VDPENDs reached a VPE that asked for one): the
    /// restore owns the units until they are handed to their actors, so it logs them, and the host's handler wakes the vCPU.
    /// A VPE restored non-resident with a PPI that can signal is kicked, as KVM kicks a vCPU for a pending PPI.</summary>
    private void RingDoorbells(RunOutcome run)
    {
        foreach (var vpe in run.Doorbells)
        {
            var cpu = run.Vm!.Cpus[vpe];
            _log.Log(Ev.Doorbell, _vmId, vpe, cpu.Offered?.Id, cpu.Doorbell.Dbpm.ToString());
            _topology.Scheduler.Tell(new ResidencyProtocol.Doorbell(vpe));
        }
        for (var vpe = 0; vpe < run.Vm!.Cpus.Length; vpe++)
            if (CpuInterfaceRules.PpiKicks(run.Vm.Cpus[vpe])) _topology.Scheduler.Tell(new ResidencyProtocol.Kick(vpe));
    }

    private void Abandon(Move move, string why)
    {
        if (move.HandOff)
        {
            // The shard is leaving: the VM must go. Freeze what there is; anything still on its way to a unit reaches
            // it frozen and is kept, and whatever the save cannot take makes the next incarnation report the VM lost.
            Context.GetLogger().Error("vm-{0}: handing off after {1}", _vmId, why);
            FreezeUnits(move);
            return;
        }
        Context.GetLogger().Error("vm-{0}: migration abandoned, the VM runs on where it was: {1}", _vmId, why);
        Resume(move, [], why);
    }

    /// <summary>Run the vCPUs again and re-attach the injectors, which deliver what they held.</summary>
    private void RunAgain()
    {
        foreach (var v in _topology.Vcpus) v.Tell(RunVcpu.Instance);
        _topology.Devices.ForEach(d => d.Tell(Release.Instance));
        _topology.Scheduler.Tell(Release.Instance);
    }

    /// <summary>The end of a move here: the VM runs again; then what waited at its front door.</summary>
    private void Resume(Move move, System.Collections.Immutable.ImmutableArray<byte> state, string? refused)
    {
        RunAgain();
        var blackout = Context.System.Scheduler.MonotonicClock - move.StartedAt;
        var asked = !move.Requester.IsNobody() && !move.Requester.Equals(Self);
        if (refused is null)
        {
            _log.Log(Ev.Migrate, _vmId, null, null, FormattableString.Invariant($"bytes={state.Length} us={(long)blackout.TotalMicroseconds}"));
            if (asked) move.Requester.Tell(new Migrated(_vmId, state, blackout, _topology.Generation));
        }
        else if (asked) move.Requester.Tell(new IrsProtocol.Refused("migrate", refused));
        _move = null;
        Stash.UnstashAll();
    }
}
