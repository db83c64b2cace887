using Fabric.Hardware.Protocol;
using System.Collections.Immutable;
using Fabric.Actors.Drivers;
using Fabric.Hardware.Interrupts;

namespace Fabric.Actors.Vm;

/// <summary>
/// Everything a VM hands to the node that runs it next (a shard handoff): its interrupt state in the documented byte
/// format (<see cref="Gic"/>, docs/vm-state-format.md: the IRS, ISTs, CPU interfaces, AP list and KVM's bookkeeping),
/// and what the rest of the VM and its host side hold — each vCPU's guest context, each device's and the scheduler's
/// progress and held sends, the notifier registrations, and the front-door messages that waited during the save.
/// <see cref="Clean"/>: written by a handoff (the VM stopped cleanly); false for the marker a running VM leaves, which a
/// new incarnation that finds it reads as "the node that ran me was lost". <see cref="SavedAtUtcTicks"/>: when the source
/// stopped the VM (UTC), so the destination can tell the whole blackout of the move (exact in one process, as good as the
/// nodes' clocks across machines).
/// </summary>
public sealed record VmSnapshot(
    int VmId,
    int Generation,
    bool Clean,
    bool Started,
    bool Stopped,
    ImmutableArray<byte> Gic,
    ImmutableArray<VcpuContext> Vcpus,
    ImmutableArray<DeviceContext> Devices,
    SchedulerContext Scheduler,
    ImmutableArray<NotifierBinding> Notifiers,
    long FoldId,
    ImmutableArray<object> FrontDoor,
    long SavedAtUtcTicks = 0)
{
    /// <summary>The marker a running VM leaves in the store: no state, not clean.</summary>
    public static VmSnapshot Running(int vmId, int generation) =>
        new(vmId, generation, Clean: false, Started: false, Stopped: false, [], [], [], SchedulerContext.Idle, [], 0, []);
}

/// <summary>An SPI's notifier subscriber: the VM's device at <paramref name="Device"/> (its index in the VM's spec).</summary>
public readonly record struct NotifierBinding(uint Spi, int Device);

/// <summary>A send a driver held while its VM moved: to the AP list, a VPE or a vCPU (<paramref name="Index"/>), one of
/// <c>SetIrq</c>, <c>RegisterNotifier</c> (for the device that holds it), <c>PpiOp</c>, <c>Wake</c>, <c>Preempt</c>,
/// <c>Resume</c>.</summary>
public readonly record struct HeldSend(VmPort Port, int Index, object Message);

/// <summary>A vCPU thread's guest context (<see cref="VcpuState"/>), its random stream included.</summary>
public sealed record VcpuContext(int Vpe, bool Booted, bool InWfi, bool Preempted, bool Busy, bool Paused, IntId? Handling,
    IntId? Deferred, bool DeferredIsResult, ImmutableArray<IntId> Disabled, ulong Random, long Ipis, bool Stopped, ResidencyProtocol.Woken Woken = ResidencyProtocol.Woken.No)
{
    public static VcpuContext Of(VcpuState s) =>
        new(s.Vpe, s.Booted, s.InWfi, s.Preempted, s.Busy, s.Paused, s.Handling, s.Deferred, s.DeferredIsResult, [.. s.Disabled], s.Rng.State, s.Ipis, s.Stopped, s.Woken);

    public VcpuState ToState(VmSpec spec)
    {
        var s = new VcpuState(Vpe, spec)
        {
            Booted = Booted, InWfi = InWfi, Preempted = Preempted, Busy = Busy, Paused = Paused, Handling = Handling,
            Deferred = Deferred, DeferredIsResult = DeferredIsResult, Rng = new GuestRandom(Random), Ipis = Ipis, Stopped = Stopped,
            Woken = Woken,
        };
        s.Disabled.AddRange(Disabled);
        return s;
    }
}

/// <summary>A device's progress (<see cref="DeviceState"/>): started, stopped, its budget, each line's services, what it held.</summary>
public sealed record DeviceContext(bool Started, bool Stopped, long Budget, ImmutableArray<KeyValuePair<uint, int>> Serviced, ImmutableArray<HeldSend>? Held)
{
    public static DeviceContext Of(DeviceState s) =>
        new(s.Started, s.Stopped, s.Budget, [.. s.Serviced.OrderBy(kv => kv.Key)], Sends(s.Held));

    public DeviceState ToState()
    {
        var s = new DeviceState(Budget) { Started = Started, Stopped = Stopped };
        foreach (var (spi, n) in Serviced) s.Serviced[spi] = n;
        s.Held.Restore(Held?.Select(h => (h.Port, h.Index, h.Message)));
        return s;
    }

    internal static ImmutableArray<HeldSend>? Sends(HeldMessages held) =>
        held.Items is { } items ? [.. items.Select(i => new HeldSend(i.Port, i.Index, i.Message))] : null;
}

/// <summary>The host scheduler's state (<see cref="SchedulerState"/>): the vCPUs it preempted, whether it still preempts, what it held.</summary>
public sealed record SchedulerContext(ImmutableArray<int> Preempted, bool Stopped, ImmutableArray<HeldSend>? Held)
{
    public static readonly SchedulerContext Idle = new([], false, null);

    public static SchedulerContext Of(SchedulerState s) => new([.. s.Preempted.Order()], s.Stopped, DeviceContext.Sends(s.Held));

    public SchedulerState ToState()
    {
        var s = new SchedulerState { Stopped = Stopped };
        s.Preempted.UnionWith(Preempted);
        s.Held.Restore(Held?.Select(h => (h.Port, h.Index, h.Message)));
        return s;
    }
}
