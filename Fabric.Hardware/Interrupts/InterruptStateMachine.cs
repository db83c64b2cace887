namespace Fabric.Hardware.Interrupts;

/// <summary>What one transition of an interrupt did, so that callers can count and log it.</summary>
[Flags]
public enum IstEffect
{
    None = 0,
    /// <summary>Pending went 0 -> 1 (I -> P, A -> AP).</summary>
    Pended = 1 << 0,
    /// <summary>Set-pending found it already pending: the new event merged into the one there.</summary>
    Coalesced = 1 << 1,
    /// <summary>Pending went 1 -> 0 without an acknowledge (VDPEND(0), CDPEND(0), a level line falling).</summary>
    Unpended = 1 << 2,
    /// <summary>Acknowledged: Active set (and Pending cleared for Edge).</summary>
    Activated = 1 << 3,
    /// <summary>Active went 1 -> 0 (CDDI).</summary>
    Deactivated = 1 << 4,
    Enabled = 1 << 5,
    Disabled = 1 << 6,
    Reprioritised = 1 << 7,
    Retargeted = 1 << 8,
    HandlingModeChanged = 1 << 9,
}

/// <summary>A new ISTE and what changed.</summary>
public readonly record struct Transition(IstEntry Entry, IstEffect Effects)
{
    public bool Has(IstEffect e) => (Effects & e) != 0;
}

/// <summary>
/// The per-interrupt state machine (SEMANTICS.md §2) over the architected ISTE, one function per
/// architectural event, as QEMU's gicv5_set_pending / gicv5_activate / gicv5_deactivate. States:
/// I (!P,!A), P, A, AP. Pure: no I/O, no allocation.
/// </summary>
public static class InterruptStateMachine
{
    /// <summary>VDPEND(PENDING) by the hypervisor, or the guest's CDPEND: P := pending (I->P, A->AP; or P->I, AP->A).
    /// Setting an already pending interrupt coalesces. — SEMANTICS.md §2, S2 encoding.</summary>
    public static Transition SetPending(IstEntry e, bool pending)
    {
        if (pending)
            return e.Pending ? new(e, IstEffect.Coalesced) : new(e.WithPending(true), IstEffect.Pended);
        return e.Pending ? new(e.WithPending(false), IstEffect.Unpended) : new(e, IstEffect.None);
    }

    /// <summary>CDEN / CDDIS: E := on. P and A are untouched; a disabled interrupt may become and stay pending (S12, S13).</summary>
    public static Transition SetEnabled(IstEntry e, bool on) =>
        e.Enabled == on ? new(e, IstEffect.None) : new(e.WithEnabled(on), on ? IstEffect.Enabled : IstEffect.Disabled);

    /// <summary>CDPRI: Priority := p, keeping only the bits the IRS implements (S12).</summary>
    public static Transition SetPriority(IstEntry e, Priority p, int implementedBits = Priority.Bits)
    {
        var stored = p.Implemented(implementedBits);
        return e.Priority == stored ? new(e, IstEffect.None) : new(e.WithPriority(stored), IstEffect.Reprioritised);
    }

    /// <summary>CDAFF: IAFFID (and IRM) := target. IRM=1 (1-of-N) is refused by the caller: KVM and QEMU
    /// implement targeted routing only (DPS=1) — SEMANTICS.md §1.</summary>
    public static Transition SetAffinity(IstEntry e, ushort iaffid) =>
        e.Iaffid == iaffid ? new(e, IstEffect.None) : new(e.WithIaffid(iaffid), IstEffect.Retargeted);

    /// <summary>CDHM (LPIs), or a trigger-mode event for SPIs: HM := mode (S12).</summary>
    public static Transition SetHandlingMode(IstEntry e, HandlingMode hm) =>
        e.HandlingMode == hm ? new(e, IstEffect.None) : new(e.WithHandlingMode(hm), IstEffect.HandlingModeChanged);

    /// <summary>Whether CDIA may acknowledge this interrupt at all: pending, enabled and not active (S12 gicr_cdia_read).</summary>
    public static bool IsCandidate(IstEntry e) => e.Pending && e.Enabled && !e.Active;

    /// <summary>CDIA activates: A := 1; Edge clears Pending (P->A), Level keeps it (P->AP) — S12 gicv5_activate.
    /// Refused (no change) when the entry is not a candidate, which is how an offer that went stale is resolved.</summary>
    public static Transition Activate(IstEntry e)
    {
        if (!IsCandidate(e)) return new(e, IstEffect.None);
        var next = e.WithActive(true);
        if (e.HandlingMode == HandlingMode.Edge) next = next.WithPending(false);
        return new(next, IstEffect.Activated);
    }

    /// <summary>CDDI: A := 0 (A->I, AP->P) — S12 gic_cddi_write. Deactivating an inactive interrupt does nothing.</summary>
    public static Transition Deactivate(IstEntry e) =>
        e.Active ? new(e.WithActive(false), IstEffect.Deactivated) : new(e, IstEffect.None);

    /// <summary>An SPI input sample with trigger mode <paramref name="tm"/> — S12 spi_sample (R_HHKMN, R_QBXXV):
    /// a rising (or high, re-sampled) input sets P and HM := TM; a low input clears P when TM is Level and is ignored when Edge.</summary>
    public static Transition SampleSpiLine(IstEntry e, bool high, HandlingMode tm)
    {
        if (high)
        {
            var hm = SetHandlingMode(e, tm);
            var p = SetPending(hm.Entry, true);
            return new(p.Entry, hm.Effects | p.Effects);
        }
        return tm == HandlingMode.Level ? SetPending(e, false) : new(e, IstEffect.None);
    }
}
