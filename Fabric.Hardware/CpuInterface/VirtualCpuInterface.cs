using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.CpuInterface;

/// <summary>How a CDIA was resolved by the CPU interface.</summary>
public enum AckSource { None, Ppi, Irs }

/// <summary>The CPU interface's choice for a CDIA: nothing, a local PPI, or the IRS's offered interrupt.</summary>
public readonly record struct AckChoice(AckSource Source, Hppi Interrupt)
{
    public static AckChoice None => new(AckSource.None, default);
}

/// <summary>A VPE's doorbell request (IRS_VPE_DBR / ICH_CONTEXTR_EL2.{DB,DBPM}) and whether it is still armed.</summary>
public readonly record struct DoorbellRequest(bool Armed, Priority Dbpm)
{
    public static DoorbellRequest None => default;
}

/// <summary>
/// One VPE's virtual CPU interface and its IRS-side VPE state: residency, the HPPI the IRS has forwarded,
/// APR/running priority, ICC_PCR_EL1, ICC_CR0_EL1.EN, the 128 PPIs (held as ISTE-shaped state so the same
/// state machine applies), the doorbell request, and KVM's per-vCPU <c>db_fired</c>. Mutable: owned by one VPE.
/// The rules are the static functions of <see cref="CpuInterfaceRules"/>.
/// </summary>
public sealed class VirtualCpuInterface
{
    public VirtualCpuInterface(int vpeId)
    {
        VpeId = vpeId;
    }

    public int VpeId { get; }
    /// <summary>ICC_APR_EL1: bit n set = a priority-n interrupt is active (acknowledged, not yet priority-dropped).</summary>
    public uint Apr { get; set; }
    /// <summary>ICC_PCR_EL1: interrupts of priority &lt;= PCR may signal. Resets to 0 (QEMU gic_icc_pcr_el1_reset;
    /// SEMANTICS.md §0.1): only priority 0 passes until the guest programs it (<see cref="CpuInterfaceRules.GuestEnable"/>).</summary>
    public Priority Pcr { get; set; } = Priority.Of(0);
    /// <summary>ICC_CR0_EL1.EN. Resets to 0 (QEMU gic_icc_cr0_el1_reset keeps only LINK and LINK_IDLE): the CPU interface
    /// signals nothing and KVM's effective mask is 0 until the guest's boot sets it.</summary>
    public bool Enabled { get; set; }
    /// <summary>The guest's SCTLR_EL1.NMI: when set, a priority-0 interrupt (Superpriority) is an NMI, which CDIA does not
    /// acknowledge — only CDNMIA does (QEMU gic_hppi_is_nmi, gicr_cdia_read). KVM resets SCTLR_EL1 with NMI clear and a
    /// guest that does not use NMIs leaves it so [INFERRED]: Fabric's guest boots with it clear, so priority 0 is
    /// acknowledged by CDIA like any other.</summary>
    public bool Nmi { get; set; }
    /// <summary>The 128 PPIs; a bank of them costs memory only once the guest programs one (<see cref="PpiTable"/>).</summary>
    public PpiTable Ppis { get; } = new();
    /// <summary>The IRS interrupt currently forwarded to this VPE (the stream's "set HPPI"), or none.</summary>
    public Hppi? Offered { get; set; }
    /// <summary>ICH_CONTEXTR_EL2.V names this VPE on some PE.</summary>
    public bool Resident { get; set; }
    public DoorbellRequest Doorbell { get; set; }
    /// <summary>KVM's vcpu->arch.vgic_cpu.vgic_v5.db_fired: set by the doorbell handler, cleared before going non-resident.</summary>
    public bool DbFired { get; set; }
    /// <summary>KVM's vgic->enabled (the guest's IRS_CR0.IRSEN) as this vCPU was last loaded with it: KVM reloads every vCPU
    /// when it changes (KVM_REQ_RELOAD_GICv5, S4). False at reset, until the guest's boot enables its IRS.</summary>
    public bool IrsEnabled { get; set; }
    /// <summary>ICC_ICSR_EL1: the result of the guest's last GIC CDRCFG (SEMANTICS.md §1); part of the vCPU's saved state
    /// (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, §4).</summary>
    public Icsr Icsr { get; set; }

    public int RunningPriority => CpuInterfaceRules.RunningPriority(Apr);
}

/// <summary>
/// The rules of the virtual CPU interface (SEMANTICS.md §1, §2, §3.4), one function per event, over
/// <see cref="VirtualCpuInterface"/>.
/// </summary>
public static class CpuInterfaceRules
{
    /// <summary>Running priority = index of the lowest set APR bit; 32 (idle) when none — S12.</summary>
    public static int RunningPriority(uint apr) => apr == 0 ? Priority.Idle : System.Numerics.BitOperations.TrailingZeroCount(apr);

    /// <summary>KVM's effective priority mask: EN ? min(running priority, PCR + 1) : 0 — S3 vgic_v5_get_effective_priority_mask.</summary>
    public static int EffectiveMask(VirtualCpuInterface c) => c.Enabled ? Math.Min(c.RunningPriority, c.Pcr.Value + 1) : 0;

    /// <summary>The signal rule (D_MSQKF, S12 gic_hppi): priority &lt; running priority, &lt;= PCR, and EN set.
    /// Equal to "priority &lt; effective mask".</summary>
    public static bool Signals(VirtualCpuInterface c, Priority p) => p.Value < EffectiveMask(c);

    /// <summary>The best PPI candidate: pending, enabled, not active; lowest priority value, then lowest ID.</summary>
    public static Hppi? BestPpi(VirtualCpuInterface c)
    {
        Hppi? best = null;
        for (var b = 0; b < PpiTable.BankCount; b++)
        {
            var bank = c.Ppis.Bank(b);   // empty when the guest never wrote a PPI of it: none is a candidate
            for (var i = 0; i < bank.Length; i++)
            {
                var e = bank[i];
                if (!InterruptStateMachine.IsCandidate(e)) continue;
                var h = new Hppi(IntId.Ppi((uint)(b * PpiTable.BankSize + i)), e.Priority);
                best = Hppi.Best(best, h);
            }
        }
        return best;
    }

    /// <summary>The HPPI of this CPU interface: the better of its PPIs and the IRS's offer.</summary>
    public static Hppi? HighestPending(VirtualCpuInterface c) => Hppi.Best(BestPpi(c), c.Offered);

    /// <summary>Whether the virtual IRQ line is asserted: a resident VPE whose HPPI passes the signal rule.</summary>
    public static bool IrqAsserted(VirtualCpuInterface c) => c.Resident && HighestPending(c) is { } h && Signals(c, h.Priority);

    /// <summary>The guest's bring-up of its CPU interface (Linux gicv5_cpu_enable_interrupts): ICC_PCR_EL1 :=
    /// <paramref name="pcr"/> and ICC_CR0_EL1.EN := 1. Until then the interface keeps its reset values (PCR 0, EN 0) and
    /// signals nothing. Returns <paramref name="c"/>.</summary>
    public static VirtualCpuInterface GuestEnable(VirtualCpuInterface c, Priority pcr)
    {
        c.Pcr = pcr;
        c.Enabled = true;
        return c;
    }

    /// <summary>An HPPI is an NMI when it has Superpriority (priority 0) and the guest set SCTLR_EL1.NMI — S12
    /// gic_hppi_is_nmi.</summary>
    public static bool IsNmi(VirtualCpuInterface c, Hppi h) => h.Priority.Value == 0 && c.Nmi;

    /// <summary>CDIA (or, with <paramref name="cdnmia"/>, CDNMIA), CPU side: choose what to acknowledge (the HPPI, if it
    /// passes the signal rule) — S12 gicr_cdia_read. CDIA acknowledges only a non-NMI and CDNMIA only an NMI
    /// (<see cref="IsNmi"/>); otherwise nothing is acknowledged. A PPI is activated here at once; an IRS interrupt must
    /// be activated by its IRS (which may refuse a stale offer), then <see cref="CompleteAck"/> records it in the APR.</summary>
    public static AckChoice ChooseAck(VirtualCpuInterface c, bool cdnmia = false)
    {
        if (!c.Resident) return AckChoice.None;
        if (HighestPending(c) is not { } h || !Signals(c, h.Priority)) return AckChoice.None;
        if (IsNmi(c, h) != cdnmia) return AckChoice.None;
        if (!h.Id.IsPpi) return new AckChoice(AckSource.Irs, h);
        var t = InterruptStateMachine.Activate(c.Ppis[h.Id]);
        c.Ppis[h.Id] = t.Entry;
        CompleteAck(c, h.Priority);
        return new AckChoice(AckSource.Ppi, h);
    }

    /// <summary>An acknowledge sets APR bit [priority] — S12 gicv5_activate.</summary>
    public static void CompleteAck(VirtualCpuInterface c, Priority p) => c.Apr |= 1u << p.Value;

    /// <summary>CDEOI: priority drop clears the lowest set APR bit. No INTID operand, no effect on P/A — S12 gic_cdeoi_write.
    /// Returns the dropped priority, or null when nothing was active.</summary>
    public static int? PriorityDrop(VirtualCpuInterface c)
    {
        if (c.Apr == 0) return null;
        var bit = System.Numerics.BitOperations.TrailingZeroCount(c.Apr);
        c.Apr &= c.Apr - 1;
        return bit;
    }

    /// <summary>A PPI event applied through the shared interrupt state machine; a non-PPI is refused by the PPI table
    /// (<see cref="PpiTable"/>), before the rule runs.</summary>
    public static Transition ApplyPpi(VirtualCpuInterface c, IntId id, Func<IstEntry, Transition> rule)
    {
        var t = rule(c.Ppis[id]);
        c.Ppis[id] = t.Entry;
        return t;
    }

    /// <summary>vgic_v5_load / make_resident: ICH_CONTEXTR_EL2.V := 1; a resident VPE needs no doorbell — S2, S3.</summary>
    public static void MakeResident(VirtualCpuInterface c)
    {
        c.Resident = true;
        c.Doorbell = DoorbellRequest.None;
    }

    /// <summary>The DBPM KVM requests at a WFI put: effective mask − 1; null — no request — when the guest's IRS is
    /// disabled (IRS_CR0.IRSEN = 0: nothing is routed to the VPE) or the mask is 0 (nothing could signal). The merged
    /// vgic_v5_put requests a doorbell only in WFI, with the IRS enabled and an effective mask != 0 (SEMANTICS.md §0.1).</summary>
    public static Priority? DoorbellPriorityMask(VirtualCpuInterface c)
    {
        if (!c.IrsEnabled) return null;
        var m = EffectiveMask(c);
        return m == 0 ? null : Priority.Of(m - 1);
    }

    /// <summary>make_non_resident, in KVM's order: db_fired := false, then resident := false, then the context write,
    /// optionally with a doorbell request (DB, DBPM) — S2 "Make as non-resident before actually making non-resident".</summary>
    public static void MakeNonResident(VirtualCpuInterface c, Priority? dbpm)
    {
        c.DbFired = false;
        c.Resident = false;
        c.Doorbell = dbpm is { } m ? new DoorbellRequest(true, m) : DoorbellRequest.None;
    }

    /// <summary>A PPI wakes a blocked vCPU through KVM, not through the IRS: vgic_v5_ppi_queue_irq_unlock kicks the vCPU,
    /// and kvm_vgic_vcpu_pending_irq() = db_fired || vgic_v5_has_pending_ppi() finds it runnable (SEMANTICS.md §0.1).
    /// True when this VPE is not resident and a pending, enabled, inactive PPI would signal: the kick wakes its vCPU if
    /// it is blocked in WFI, and changes nothing for one that is preempted (runnable anyway).</summary>
    public static bool PpiKicks(VirtualCpuInterface c) =>
        !c.Resident && BestPpi(c) is { } p && Signals(c, p.Priority);

    /// <summary>Whether an interrupt of priority <paramref name="p"/> passes DBPM under the named comparison.</summary>
    public static bool PassesDbpm(Priority p, Priority dbpm, DbpmComparison cmp) =>
        cmp == DbpmComparison.Inclusive ? p.Value <= dbpm.Value : p.Value < dbpm.Value;

    /// <summary>The doorbell rule (SEMANTICS.md §3.4, INFERRED): the IRS raises a non-resident VPE's doorbell when an
    /// interrupt it could take is pending and passes DBPM; at most once per non-resident period (the request is
    /// consumed). Raising sets KVM's db_fired (the handler). Evaluated whenever the VPE's HPPI changes and at the
    /// moment the VPE goes non-resident (an interrupt already pending then must not be forgotten). Fabric's model:
    /// the request is one-shot, as KVM re-requests on every WFI put. Only IRS-routed interrupts (SPIs, LPIs: the
    /// IRS's offer) ring it: PPIs never do — they are the CPU interface's own, and KVM kicks the vCPU for them
    /// (<see cref="PpiKicks"/>; SEMANTICS.md §0.1).</summary>
    public static bool TryRaiseDoorbell(VirtualCpuInterface c, DbpmComparison cmp)
    {
        if (c.Resident || !c.Doorbell.Armed) return false;
        if (c.Offered is not { } h || !PassesDbpm(h.Priority, c.Doorbell.Dbpm, cmp)) return false;
        c.Doorbell = c.Doorbell with { Armed = false };
        c.DbFired = true;
        return true;
    }
}
