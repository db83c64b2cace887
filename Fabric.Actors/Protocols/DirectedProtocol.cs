using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Hardware.Interrupts;

namespace Fabric.Actors.Protocols;

/// <summary>
/// The messages of a directed scenario (DESIGN.md §6.4): a step drives a device or a vCPU, and an expectation reads the
/// state its owner holds. Each read is answered to its sender (the host's step runner), never asked for on a hot path.
/// </summary>
public static class DirectedProtocol
{
    // A step's writes and the vCPU's steps are unit messages: DeviceProtocol.Attach / Write and VcpuProtocol.SetVcpu /
    // TrapExit / HandleAll (Fabric.Hardware.Protocol).

    /// <summary>To the IRS slice (an SPI or LPI) or a VPE (its PPI): the interrupt's state as its owner holds it.</summary>
    public sealed record ReadEntry(IntId Id) : ILocalMessage;
    /// <summary><paramref name="Error"/> when there is no such interrupt.</summary>
    public sealed record EntryRead(IntId Id, IstEntry Entry, string? Error) : ILocalMessage;

    /// <summary>To a VPE: its CPU interface and residency.</summary>
    public sealed record ReadCpu : ILocalMessage
    {
        public static readonly ReadCpu Instance = new();
    }
    public sealed record CpuRead(int Vpe, bool Resident, bool DoorbellRequested, int Dbpm, bool DbFired, int RunningPriority, uint Apr, int Pcr) : ILocalMessage;

    /// <summary>To the AP list: the SPIs it tracks, in list order.</summary>
    public sealed record ReadApList : ILocalMessage
    {
        public static readonly ReadApList Instance = new();
    }
    public sealed record ApListRead(IReadOnlyList<uint> Spis) : ILocalMessage;

    /// <summary>To a driver of a VM (a device, the host scheduler): the quiescence question the VM's units answer
    /// (<see cref="MigrationProtocol.Quiesce"/>), so that a directed run can tell that nothing is in flight anywhere.</summary>
    public static void AnswerQuiesce(MigrationProtocol.Quiesce q, long processed, IActorRef to) =>
        to.Tell(new MigrationProtocol.Quiet(q.Round, processed));
}
