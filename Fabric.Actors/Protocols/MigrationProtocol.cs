using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Protocols;

/// <summary>
/// Live migration of one VM (SEMANTICS.md §4), as a VMM drives it: detach the injectors (the irqfds and the host
/// scheduler hold what they would send), stop the vCPUs (each exits to userspace: a put without a doorbell), let the
/// VM's IRS slice quiesce (IRS_SAVE_VMR.Q: every message between the VM's actors delivered), take each unit from its
/// owner, save it to the byte format, restore it into fresh actors in KVM's order, run the vCPUs again and re-attach
/// the injectors, which deliver what they held. Only the VM's own <c>VmActor</c> drives it: nothing global.
/// </summary>
public static class MigrationProtocol
{
    /// <summary>Marks the messages of this protocol, which a unit answers without counting them as traffic.</summary>
    public interface IControl;

    /// <summary>The VMM asks VM <paramref name="VmId"/> to move now (to its VmActor).</summary>
    public sealed record Migrate(int VmId) : IControl, IWireMessage;

    /// <summary>The VM moved: the state it carried (docs/vm-state-format.md), how long it was stopped, and the units' new
    /// generation.</summary>
    public sealed record Migrated(int VmId, System.Collections.Immutable.ImmutableArray<byte> State, TimeSpan Blackout, int Generation) : IControl, IWireMessage;

    /// <summary>To a driver (irqfd, host scheduler): hold every message for the VM until <see cref="Release"/>;
    /// answered with <see cref="Held"/> once nothing more will be sent.</summary>
    public sealed record Hold : IControl, ILocalMessage
    {
        public static readonly Hold Instance = new();
    }
    public sealed record Held : IControl, ILocalMessage
    {
        public static readonly Held Instance = new();
    }

    /// <summary>To a driver: the VM runs again (at the addresses its topology now holds): send what was held, in order.</summary>
    public sealed record Release : IControl, ILocalMessage
    {
        public static readonly Release Instance = new();
    }

    // The vCPU's StopVcpu / Stopped / RunVcpu are the guest unit's messages: VcpuProtocol (Fabric.Hardware.Protocol).

    /// <summary>Round <paramref name="Round"/> of the quiescence check: every unit answers <see cref="Quiet"/> with how
    /// many messages it has processed. Two rounds in a row with the same total mean that no message was in flight
    /// between the VM's units (a unit only sends while processing one, and each round is asked after the previous
    /// one's answers, so a message sent before an answer is queued before the next round's question).</summary>
    public sealed record Quiesce(long Round) : IControl, ILocalMessage;
    public sealed record Quiet(long Round, long Processed) : IControl, ILocalMessage;

    /// <summary>To a quiet unit: hand over the state it owns (<see cref="Frozen"/>) and process nothing more; anything
    /// that still reaches it is kept and forwarded to its successor on <see cref="Retire"/>.</summary>
    public sealed record Freeze : IControl, ILocalMessage
    {
        public static readonly Freeze Instance = new();
    }
    public sealed record Frozen(object Unit) : IControl, ILocalMessage;

    /// <summary>To a frozen unit: forward what reached it since the freeze to <paramref name="Successor"/>, then stop.</summary>
    public sealed record Retire(Akka.Actor.IActorRef Successor) : IControl, ILocalMessage;

    // ---- Between a VM's move saga and its VmActor, and up to the cluster entity that hands it off ----------------

    /// <summary>From the move saga to its VmActor: build the next generation of units around <paramref name="Units"/>
    /// (by the VmActor's one build path) and retire the frozen ones; <paramref name="FirstRun"/>: the restore's first run,
    /// whose doorbells and kicks the new units owe (null when the units are rebuilt around the state they had).</summary>
    public sealed record Rebuild(VmUnits Units, Fabric.Hardware.Migration.RunOutcome? FirstRun) : IControl, ILocalMessage;

    /// <summary>From the move saga to its VmActor: the move is over (done, refused or abandoned): run the VM again, then
    /// give whoever asked for the move <paramref name="Answer"/> (<see cref="Migrated"/> or a refusal; null: nobody asked),
    /// so that an answered move is one whose VM runs.</summary>
    public sealed record MoveEnded(object? Answer) : IControl, ILocalMessage;

    /// <summary>A handoff's saved VM: from the move saga to its VmActor (which adds its front door and whether its
    /// devices run), then from the VmActor to its cluster entity, which stores it and stops.</summary>
    public sealed record HandOffTaken(Vm.VmSnapshot Snapshot) : IControl, ILocalMessage;

    /// <summary>A handoff whose save the hardware refused: the VM cannot move, and its next incarnation reports it lost.</summary>
    public sealed record HandOffFailed(string Reason) : IControl, ILocalMessage;

    /// <summary>Test hook: a VM's move saga throws (its VmActor forwards this to the saga of the move in progress), to
    /// prove that the VM is restored from its units' state.</summary>
    public sealed record CrashMove : IControl, ILocalMessage
    {
        public static readonly CrashMove Instance = new();
    }
}
