using Fabric.Hardware.Protocol;
using VpeState = Fabric.Hardware.Protocol.VpeState;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Drivers;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Migration;
using Fabric.Hardware.Observation;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// One move of a VM (<see cref="MigrationProtocol"/>), as the VMM drives it: a child of the VM's <see cref="VmActor"/>,
/// one per move, whose phases are its behaviours. It holds the drivers and stops the vCPUs, waits until no message is in
/// flight between the units (IRS_SAVE_VMR.Q), takes each unit's state from its owner (a freeze), then either moves the
/// VM through the byte format (<see cref="VmMove"/>) and has its VmActor build fresh units around the result, or — a
/// handoff — freezes the drivers too and hands the saved VM up to be stored. It ends by telling its VmActor
/// (<see cref="MoveEnded"/>, <see cref="HandOffTaken"/>), which runs the VM again or lets it go.
/// <para>In <see cref="Mode.Recover"/> it finishes what a crashed saga left: the drivers were told to hold and the vCPUs
/// to stop when that saga began, and the units may be frozen already; it waits until the drivers hold (that saga may not
/// have lived to see it) and nothing is in flight (a frozen unit answers as a quiet one), freezes the units and has them rebuilt around the state they hold, so a crash of a move
/// loses nothing.</para>
/// </summary>
public sealed class VmMoveActor : UntypedActor
{
    public enum Mode { Move, HandOff, Recover }

    /// <summary>Rounds of the quiescence check before a move gives up (something in the VM never stops talking).</summary>
    public const int MaxQuiesceRounds = 10_000;

    private readonly VmTopology _t;
    private readonly VmSpec _spec;
    private readonly EventLog _log;
    private readonly IActorRef _requester;
    private readonly Mode _mode;
    /// <summary>When the move began, on the actor system's scheduler clock (virtual time in a deterministic run).</summary>
    private TimeSpan _startedAt;
    private readonly long _startedAtUtcTicks = DateTime.UtcNow.Ticks;
    private int _awaiting;
    private long _round, _total, _previousTotal = -1;
    private VirtualIrsState? _virs;
    private ApListState? _apList;
    private readonly VpeState?[] _vpes;
    private readonly VcpuState?[] _vcpus;
    private SchedulerState? _scheduler;
    private readonly DeviceState?[] _devices;

    private VmMoveActor(VmTopology topology, VmSpec spec, EventLog log, IActorRef requester, Mode mode)
    {
        _t = topology;
        _spec = spec;
        _log = log;
        _requester = requester;
        _mode = mode;
        _vpes = new VpeState?[spec.Vcpus];
        _vcpus = new VcpuState?[spec.Vcpus];
        _devices = new DeviceState?[topology.Devices.Count];
    }

    public static Props Props(VmTopology topology, VmSpec spec, EventLog log, IActorRef requester, Mode mode) =>
        DirectProps.Of((topology, spec, log, requester, mode), static a => new VmMoveActor(a.topology, a.spec, a.log, a.requester, a.mode));

    private IActorRef[] Units => _t.UnitActors();
    /// <summary>The states a freeze collects, one <see cref="Frozen"/> each (a PE hands over its VPE's and its vCPU's): a
    /// VPE and a vCPU per vCPU, the IRS slice and the AP list.</summary>
    private int StateCount => 2 * _spec.Vcpus + 2;

    /// <summary>Detach the injectors (they hold what they would send) and stop every vCPU, then wait until each has.
    /// <para>A recovery waits for the injectors again: its crashed predecessor told them to hold, but may have crashed
    /// before they had, and an injector still sending while the units are frozen and retired would send to a unit that
    /// is gone. It does not stop the vCPUs again: its predecessor's stop reached each PE before anything it sends (the
    /// predecessor sent it when it began), and a second stop that reached a frozen PE would be handed to its successor
    /// after the VM was told to run, and stop it for good.</para></summary>
    protected override void PreStart()
    {
        _startedAt = Context.System.Scheduler.MonotonicClock;
        _awaiting = _t.Devices.Count + 1 + (_mode == Mode.Recover ? 0 : _t.Vcpus.Length);
        _t.Devices.ForEach(d => d.Tell(Hold.Instance));
        _t.Scheduler.Tell(Hold.Instance);
        if (_mode != Mode.Recover)
            foreach (var v in _t.Vcpus) v.Tell(VcpuProtocol.StopVcpu.Instance);
        Become(Stopping);
    }

    /// <summary>Nothing is expected before <see cref="PreStart"/> chooses the first phase.</summary>
    protected override void OnReceive(object message) => Common(message);

    private void Stopping(object message)
    {
        if (message is Held or VcpuProtocol.Stopped) { if (--_awaiting == 0) NextRound(); }
        else Common(message);
    }

    private void Quiescing(object message)
    {
        if (message is not Quiet q) { Common(message); return; }
        if (q.Round != _round) return;
        _total += q.Processed;
        if (--_awaiting > 0) return;
        if (_total == _previousTotal) FreezeUnits();
        else if (_round >= MaxQuiesceRounds) Abandon($"still busy after {MaxQuiesceRounds} quiescence rounds");
        else { _previousTotal = _total; NextRound(); }
    }

    private void FreezingUnits(object message)
    {
        if (message is not Frozen f) { Common(message); return; }
        Keep(f.Unit, Sender);
        if (--_awaiting > 0) return;
        if (_mode == Mode.HandOff) FreezeDrivers();
        else Finish();
    }

    private void FreezingDrivers(object message)
    {
        if (message is not Frozen f) { Common(message); return; }
        Keep(f.Unit, Sender);
        if (--_awaiting == 0) SaveForHandOff();
    }

    private void Common(object message)
    {
        switch (message)
        {
            case CrashMove:
                throw new InvalidOperationException($"vm-{_t.VmId}/{Self.Path.Name}: crash requested");
            case IrsProtocol.Refused r:
                Context.GetLogger().Warning("vm-{0}: operation refused during a move: {1}: {2}", _t.VmId, r.Operation, r.Reason);
                break;
            default:
                Unhandled(message);   // an answer of a phase already over (a late Quiet of an earlier round)
                break;
        }
    }

    /// <summary>IRS_SAVE_VMR.Q: ask every unit how much it has processed; two equal totals in a row mean nothing is in flight.</summary>
    private void NextRound()
    {
        _round++;
        _total = 0;
        var units = Units;
        _awaiting = units.Length;
        foreach (var u in units) u.Tell(new Quiesce(_round));
        Become(Quiescing);
    }

    private void FreezeUnits()
    {
        _awaiting = StateCount;
        foreach (var u in Units) u.Tell(Freeze.Instance);
        Become(FreezingUnits);
    }

    /// <summary>A handoff takes the drivers' progress too: they move to the other node with their VM.</summary>
    private void FreezeDrivers()
    {
        _awaiting = _t.Devices.Count + 1;
        _t.Devices.ForEach(d => d.Tell(Freeze.Instance));
        _t.Scheduler.Tell(Freeze.Instance);
        Become(FreezingDrivers);
    }

    private void Keep(object unit, IActorRef from)
    {
        switch (unit)
        {
            case SchedulerState s: _scheduler = s; break;
            case DeviceState s: _devices[_t.Devices.IndexOf(from)] = s; break;
            case VirtualIrsState s: _virs = s; break;
            case ApListState s: _apList = s; break;
            case VpeState s: _vpes[s.Cpu.VpeId] = s; break;
            case VcpuState s: _vcpus[s.Vpe] = s; break;
            default: throw new InvalidOperationException($"unknown unit {unit.GetType().Name}");
        }
    }

    /// <summary>The frozen VPEs, in order, and those whose CDIA was between the CPU interface and the IRS (what
    /// <see cref="VmSave"/> refuses to save over).</summary>
    private (VpeState[] Vpes, int[] CdiasInFlight) TakenVpes()
    {
        var vpes = _vpes.Select(v => v!).ToArray();
        return (vpes, [.. vpes.Where(v => v.Acking is not null).Select(v => v.Cpu.VpeId)]);
    }

    /// <summary>Save, carry and restore (<see cref="VmMove"/>), then have the VM run in fresh units; if the hardware
    /// refuses — or this saga recovers a crashed one — in fresh units around the state it had, which is untouched.</summary>
    private void Finish()
    {
        var (vpes, cdias) = TakenVpes();
        var vcpus = _vcpus.Select(v => v!).ToArray();
        var asIs = new VmUnits(_virs!, _apList!, vpes, vcpus);
        var generation = _t.Generation + 1;
        if (_mode == Mode.Recover)
        {
            Context.Parent.Tell(new Rebuild(asIs, null));
            End(generation, [], "the move's saga crashed; the VM runs on where it was");
            return;
        }
        var outcome = VmMove.Move(_virs!.Irs, [.. vpes.Select(v => v.Cpu)], _apList!.List, _spec.Policies, cdias);
        if (!outcome.Ok)
        {
            Context.GetLogger().Error("vm-{0}: migration refused, the VM runs on where it was: {1}", _t.VmId, outcome.Status);
            Context.Parent.Tell(new Rebuild(asIs, null));
            End(generation, [], outcome.Status.ToString());
            return;
        }
        var units = VmUnits.Restored(outcome.Vm, _apList.FoldId, vcpus);
        foreach (var (spi, device) in _apList.Notifiers) units.ApList.Notifiers[spi] = device;
        Context.Parent.Tell(new Rebuild(units, outcome.Run));
        End(generation, [.. outcome.Bytes!], null);
    }

    private void Abandon(string why)
    {
        if (_mode != Mode.Move)
        {
            // The shard is leaving (the VM must go), or a crashed move must end in units that are not frozen. Freeze what
            // there is; anything still on its way to a unit reaches it frozen and is kept for its successor, and whatever
            // a handoff's save cannot take makes the next incarnation report the VM lost.
            Context.GetLogger().Error("vm-{0}: {1} after {2}", _t.VmId, _mode == Mode.HandOff ? "handing off" : "recovering", why);
            FreezeUnits();
            return;
        }
        Context.GetLogger().Error("vm-{0}: migration abandoned, the VM runs on where it was: {1}", _t.VmId, why);
        End(_t.Generation, [], why);
    }

    /// <summary>The end of a move here: logged; the VmActor runs the VM again and answers whoever asked.</summary>
    private void End(int generation, System.Collections.Immutable.ImmutableArray<byte> state, string? refused)
    {
        var blackout = Context.System.Scheduler.MonotonicClock - _startedAt;
        var asked = !_requester.IsNobody() && !_requester.Equals(Context.Parent);
        if (refused is null) _log.Log(Ev.Migrate, _t.VmId, null, null, MigrateArg.Local(state.Length, (long)blackout.TotalMicroseconds).Format());
        object? answer = !asked ? null : refused is null ? new Migrated(_t.VmId, state, blackout, generation) : new IrsProtocol.Refused("migrate", refused);
        Context.Parent.Tell(new MoveEnded(answer));
        Context.Stop(Self);
    }

    /// <summary>The source's half of a handoff: every unit and driver frozen, the VM is saved (the interrupt state in the
    /// documented byte format, and the rest of the VM) and handed up; the VmActor adds what waited at its front door.</summary>
    private void SaveForHandOff()
    {
        var (vpes, cdias) = TakenVpes();
        var saved = VmSave.Save(_virs!.Irs, [.. vpes.Select(v => v.Cpu)], _apList!.List, vpesWithCdiaInFlight: cdias);
        if (!saved.Ok)
        {
            // Cannot happen once quiesced; if it does the VM cannot move, and its next incarnation reports it lost.
            Context.GetLogger().Error("vm-{0}: handoff save refused, the VM is lost: {1}", _t.VmId, saved.Status);
            Context.Parent.Tell(new HandOffFailed(saved.Status.ToString()));
        }
        else
        {
            var snapshot = new VmSnapshot(_t.VmId, _t.Generation, Clean: true, Started: false, Stopped: false,
                [.. VmStateFormat.Encode(saved.State!)],
                [.. _vcpus.Select(v => VcpuContext.Of(v!))],
                [.. _devices.Select(d => DeviceContext.Of(d!))],
                SchedulerContext.Of(_scheduler!),
                [.. _apList.Notifiers.Select(n => new NotifierBinding(n.Key, _t.Devices.IndexOf((IActorRef)n.Value))).OrderBy(n => n.Spi)],
                _apList.FoldId,
                [],
                _startedAtUtcTicks);
            Context.Parent.Tell(new HandOffTaken(snapshot));
        }
        Context.Stop(Self);
    }
}
