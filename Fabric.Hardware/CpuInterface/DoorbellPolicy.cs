namespace Fabric.Hardware.CpuInterface;

/// <summary>
/// How the IRS compares a pending interrupt's priority with a VPE's DBPM (SEMANTICS.md §3.4: the exact
/// comparison is UNVERIFIED). KVM requests DBPM = effective mask − 1 "since the priority needs to be higher
/// than the mask to signal", which only covers every signalling priority when the comparison is inclusive.
/// </summary>
public enum DbpmComparison
{
    /// <summary>priority &lt;= DBPM. Fabric's default: a doorbell for every interrupt that would signal.</summary>
    Inclusive,
    /// <summary>priority &lt; DBPM. Loses the doorbell of an interrupt at exactly the mask − 1 (a stuck WFI).</summary>
    Strict,
}
