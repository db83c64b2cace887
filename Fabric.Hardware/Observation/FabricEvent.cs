using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Observation;

/// <summary>The event kinds of DESIGN.md §5, as they appear in the log's <c>ev</c> field, and Fabric's two extensions:
/// <c>migrate</c>, a VM moved to fresh actors (its <c>arg</c>: <see cref="MigrateArg"/>, the saved state's size and the
/// move's duration, <c>"bytes=N us=N"</c>, and which side of a handoff to another node); <c>lost</c>, a VM whose node was lost
/// (a host crash loses its guests): it is recreated empty, and what it held is gone.</summary>
public enum Ev : byte
{
    Inject, Coalesce, Pend, Unpend, Offer, Doorbell, Resident, Nonresident, Ack, Eoi, Deactivate, Track, Untrack,
    Notify, Resample, Enable, Disable, Priority, Affinity, Exit, Migrate, Lost,
}

/// <summary>
/// One observable decision (DESIGN.md §5). <see cref="Arg"/> extends the minimum schema with the one value a
/// checker needs to rebuild state from the log alone: the level of an injection, the handling mode an ack
/// used ("edge" clears Pending, "level" keeps it), the priority, target VPE, DBPM, or an offered INTID.
/// </summary>
public readonly record struct FabricEvent(long Seq, long T, Ev Ev, int Vm, int? Vpe, IntId? IntId, string? Arg = null)
{
    /// <summary>The start of a <c>lost</c> event's arg when a VmActor crashed during a move or a load and took the VM's
    /// state with it (the checker fails the run on it, I8); a node's loss writes other text.</summary>
    public const string CrashedLost = "crashed";

    /// <summary>The arg of a <c>pend</c> event that KVM's VDPEND caused (a guest's CDPEND writes none): under the seed's
    /// design such an SPI is on the AP list when it becomes pending (I3).</summary>
    public const string ByVdpend = "vdpend";
    /// <summary>The arg of a <c>resident</c> event whose load a kick caused (KVM kicks a vCPU in WFI for a PPI that can
    /// signal, and the restore for one that was pending): the WFI it ends owes no doorbell (I7).</summary>
    public const string ByKick = "kick";
    /// <summary>The arg of a <c>resident</c> event whose load a doorbell's wake caused (perhaps a doorbell of an earlier
    /// WFI, whose wake a kick overtook): the WFI it ends owes no doorbell either, as a spurious wake may end a WFI.</summary>
    public const string ByDoorbell = "doorbell";
    /// <summary>A <c>migrate</c> event's typed fields (<see cref="MigrateArg"/>); null for any other event, or an arg
    /// that does not read as one.</summary>
    public MigrateArg? Migration => Ev == Ev.Migrate && MigrateArg.TryParse(Arg, out var m) ? m : null;

    public static string Name(Ev ev) => Names[(int)ev];

    private static readonly string[] Names = Enum.GetNames<Ev>().Select(n => n.ToLowerInvariant()).ToArray();

    public static bool TryParseName(string name, out Ev ev)
    {
        var i = Array.IndexOf(Names, name);
        ev = (Ev)Math.Max(i, 0);
        return i >= 0;
    }
}
