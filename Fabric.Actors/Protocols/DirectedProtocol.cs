using Akka.Actor;
using Fabric.Hardware.Interrupts;

namespace Fabric.Actors.Protocols;

/// <summary>
/// The messages of a directed scenario (DESIGN.md §6.4): a step drives a device or a vCPU, and an expectation reads the
/// state its owner holds. Each read is answered to its sender (the host's step runner), never asked for on a hot path.
/// </summary>
public static class DirectedProtocol
{
    /// <summary>To a device of a directed VM: register its notifiers (KVM_IRQFD) and inject nothing by itself; it writes
    /// only when a step says so (<see cref="Write"/>), and a resampler still answers its notifications.</summary>
    public sealed record Attach : ILocalMessage
    {
        public static readonly Attach Instance = new();
    }

    /// <summary>To a device: one write of its eventfd for <paramref name="Id"/> (an edge, or an assertion of a resampled
    /// level line); refused when the device does not drive that INTID.</summary>
    public sealed record Write(IntId Id) : ILocalMessage;

    /// <summary>What a step makes of a vCPU: block in WFI (a put with a doorbell request), be preempted (a put without one),
    /// or run (a load).</summary>
    public enum VcpuRun { Wfi, Preempt, Run }

    /// <summary>To a vCPU: <see cref="VcpuRun"/>; refused when the vCPU is not running and the step needs it to be.</summary>
    public sealed record SetVcpu(VcpuRun State) : ILocalMessage;

    /// <summary>To a vCPU: a trap exit to KVM (the fold point under fold tracking); refused when it is not running.</summary>
    public sealed record TrapExit : ILocalMessage
    {
        public static readonly TrapExit Instance = new();
    }

    /// <summary>To a vCPU: run the guest's handler loop (CDIA, handler, CDEOI, CDDI) until CDIA returns nothing.</summary>
    public sealed record HandleAll : ILocalMessage
    {
        public static readonly HandleAll Instance = new();
    }

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
