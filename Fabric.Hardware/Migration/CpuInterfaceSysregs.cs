using System.Collections.Immutable;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Migration;

/// <summary>The CPU-interface system registers KVM saves and restores per vCPU through KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, in
/// the order the KVM documentation lists them (S5) — the order of <see cref="VpeState.Sysregs"/>.</summary>
public enum CpuSysreg
{
    IccIcsr,
    IccPpiEnabler0, IccPpiEnabler1,
    IccPpiSactiver0, IccPpiSactiver1,
    IccPpiSpendr0, IccPpiSpendr1,
    IccPpiPriorityr0, IccPpiPriorityr1, IccPpiPriorityr2, IccPpiPriorityr3,
    IccPpiPriorityr4, IccPpiPriorityr5, IccPpiPriorityr6, IccPpiPriorityr7,
    IccPpiPriorityr8, IccPpiPriorityr9, IccPpiPriorityr10, IccPpiPriorityr11,
    IccPpiPriorityr12, IccPpiPriorityr13, IccPpiPriorityr14, IccPpiPriorityr15,
    IccApr, IccCr0, IccPcr,
}

/// <summary>One CPU-interface system register as data: its name and A64 encoding (Linux arch/arm64/tools/sysreg), from
/// which KVM's attribute <c>instr</c> field is derived.</summary>
public sealed record CpuSysregInfo(CpuSysreg Id, string Name, int Op0, int Op1, int CRn, int CRm, int Op2)
{
    /// <summary>The <c>instr</c> field of a GRP_CPU_SYSREGS attribute: Op0[15:14] Op1[13:11] CRn[10:7] CRm[6:3] Op2[2:0] (S5).</summary>
    public ushort Instr => (ushort)((Op0 << 14) | (Op1 << 11) | (CRn << 7) | (CRm << 3) | Op2);

    public override string ToString() => $"{Name} (S{Op0}_{Op1}_C{CRn}_C{CRm}_{Op2})";
}

/// <summary>
/// How each saved CPU-interface register maps onto <see cref="VirtualCpuInterface"/> (SEMANTICS.md §4; S5
/// GRP_CPU_SYSREGS): GET reads it from the model, SET writes it with KVM's userspace rules — SACTIVER and SPENDR are
/// raw writes of the state (CACTIVER/CPENDR are not offered), every other register takes its value as is. A value with
/// bits the register does not define, or that the model does not hold, is refused (KVM: -EINVAL) and changes nothing.
/// <para>Simplifications: ICC_PPI_HMR is read-only and fixed by the architecture, so not state (as in KVM). ICC_CR0_EL1's
/// LINK/IPPT/PID are not modelled: only EN is saved, and a restore with any of them set is refused.</para>
/// </summary>
public static class CpuInterfaceSysregs
{
    public static readonly Field Cr0En = new("EN", 0, 1);
    public static readonly Field PcrPriority = new("PRIORITY", 0, 5);
    /// <summary>ICC_APR_EL1.P0..P31: one active bit per priority; bits [63:32] RES0.</summary>
    public const ulong AprMask = 0xFFFF_FFFFUL;
    /// <summary>ICC_PPI_PRIORITYRx_EL1: Priority0..7 at [8k+4:8k]; bits [8k+7:8k+5] RES0.</summary>
    public const ulong PriorityrMask = 0x1F1F_1F1F_1F1F_1F1FUL;
    public const int PpisPerPriorityr = 8;
    public const int PpisPerBank = 64;

    /// <summary>The registers in <see cref="CpuSysreg"/> order (encodings: Linux arch/arm64/tools/sysreg).</summary>
    public static readonly ImmutableArray<CpuSysregInfo> All = Build();

    public static int Count => All.Length;

    public static CpuSysregInfo Info(CpuSysreg r) =>
        Enum.IsDefined(r) ? All[(int)r] : throw new ArgumentOutOfRangeException(nameof(r), $"{(int)r} names no saved CPU-interface register");

    private static ImmutableArray<CpuSysregInfo> Build()
    {
        var b = ImmutableArray.CreateBuilder<CpuSysregInfo>();
        b.Add(new(CpuSysreg.IccIcsr, "ICC_ICSR_EL1", 3, 0, 12, 10, 4));
        b.Add(new(CpuSysreg.IccPpiEnabler0, "ICC_PPI_ENABLER0_EL1", 3, 0, 12, 10, 6));
        b.Add(new(CpuSysreg.IccPpiEnabler1, "ICC_PPI_ENABLER1_EL1", 3, 0, 12, 10, 7));
        b.Add(new(CpuSysreg.IccPpiSactiver0, "ICC_PPI_SACTIVER0_EL1", 3, 0, 12, 13, 2));
        b.Add(new(CpuSysreg.IccPpiSactiver1, "ICC_PPI_SACTIVER1_EL1", 3, 0, 12, 13, 3));
        b.Add(new(CpuSysreg.IccPpiSpendr0, "ICC_PPI_SPENDR0_EL1", 3, 0, 12, 13, 6));
        b.Add(new(CpuSysreg.IccPpiSpendr1, "ICC_PPI_SPENDR1_EL1", 3, 0, 12, 13, 7));
        for (var n = 0; n < 16; n++)
            b.Add(new(CpuSysreg.IccPpiPriorityr0 + n, $"ICC_PPI_PRIORITYR{n}_EL1", 3, 0, 12, 14 + n / 8, n % 8));
        b.Add(new(CpuSysreg.IccApr, "ICC_APR_EL1", 3, 1, 12, 0, 0));
        b.Add(new(CpuSysreg.IccCr0, "ICC_CR0_EL1", 3, 1, 12, 0, 1));
        b.Add(new(CpuSysreg.IccPcr, "ICC_PCR_EL1", 3, 1, 12, 0, 2));
        return b.ToImmutable();
    }

    /// <summary>Every register's value, in <see cref="CpuSysreg"/> order: a vCPU's GRP_CPU_SYSREGS save.</summary>
    public static ImmutableArray<ulong> ReadAll(VirtualCpuInterface c) => [.. All.Select(r => Read(c, r.Id))];

    /// <summary>GET: the register as the model holds it.</summary>
    public static ulong Read(VirtualCpuInterface c, CpuSysreg r) => r switch
    {
        CpuSysreg.IccIcsr => c.Icsr.Raw,
        CpuSysreg.IccPpiEnabler0 or CpuSysreg.IccPpiEnabler1 => Bank(c, r - CpuSysreg.IccPpiEnabler0, e => e.Enabled),
        CpuSysreg.IccPpiSactiver0 or CpuSysreg.IccPpiSactiver1 => Bank(c, r - CpuSysreg.IccPpiSactiver0, e => e.Active),
        CpuSysreg.IccPpiSpendr0 or CpuSysreg.IccPpiSpendr1 => Bank(c, r - CpuSysreg.IccPpiSpendr0, e => e.Pending),
        >= CpuSysreg.IccPpiPriorityr0 and <= CpuSysreg.IccPpiPriorityr15 => Priorities(c, r - CpuSysreg.IccPpiPriorityr0),
        CpuSysreg.IccApr => c.Apr,
        CpuSysreg.IccCr0 => Cr0En.Set(0, c.Enabled),
        CpuSysreg.IccPcr => PcrPriority.Deposit(0, c.Pcr.Value),
        _ => throw new ArgumentOutOfRangeException(nameof(r), $"{(int)r} names no saved CPU-interface register"),
    };

    /// <summary>Why <paramref name="value"/> cannot be restored into <paramref name="r"/>, or null.</summary>
    public static string? Problem(CpuSysreg r, ulong value)
    {
        if (!Enum.IsDefined(r)) return $"{(int)r} names no saved CPU-interface register";
        var name = Info(r).Name;
        return r switch
        {
            CpuSysreg.IccIcsr when (value & ~Icsr.DefinedMask) != 0 => $"{name} 0x{value:X} has RES0 bits set (0x{value & ~Icsr.DefinedMask:X})",
            >= CpuSysreg.IccPpiPriorityr0 and <= CpuSysreg.IccPpiPriorityr15 when (value & ~PriorityrMask) != 0 =>
                $"{name} 0x{value:X} has RES0 bits set: each PPI's priority is 5 bits at [8k+4:8k]",
            CpuSysreg.IccApr when (value & ~AprMask) != 0 => $"{name} 0x{value:X} has RES0 bits [63:32] set",
            CpuSysreg.IccCr0 when (value & ~Cr0En.Mask) != 0 => $"{name} 0x{value:X}: only EN is modelled (LINK, IPPT, PID must be 0)",
            CpuSysreg.IccPcr when (value & ~PcrPriority.Mask) != 0 => $"{name} 0x{value:X} has RES0 bits [63:5] set",
            _ => null,
        };
    }

    /// <summary>SET with KVM's userspace rules (S5): refused, changing nothing, when <see cref="Problem"/> says why.</summary>
    public static string? Write(VirtualCpuInterface c, CpuSysreg r, ulong value)
    {
        var problem = Problem(r, value);
        if (problem is not null) return problem;
        switch (r)
        {
            case CpuSysreg.IccIcsr: c.Icsr = new Icsr(value); break;
            case CpuSysreg.IccPpiEnabler0 or CpuSysreg.IccPpiEnabler1:
                SetBank(c, r - CpuSysreg.IccPpiEnabler0, value, (e, on) => e.WithEnabled(on)); break;
            case CpuSysreg.IccPpiSactiver0 or CpuSysreg.IccPpiSactiver1:
                SetBank(c, r - CpuSysreg.IccPpiSactiver0, value, (e, on) => e.WithActive(on)); break;
            case CpuSysreg.IccPpiSpendr0 or CpuSysreg.IccPpiSpendr1:
                SetBank(c, r - CpuSysreg.IccPpiSpendr0, value, (e, on) => e.WithPending(on)); break;
            case >= CpuSysreg.IccPpiPriorityr0 and <= CpuSysreg.IccPpiPriorityr15:
                SetPriorities(c, r - CpuSysreg.IccPpiPriorityr0, value); break;
            case CpuSysreg.IccApr: c.Apr = (uint)value; break;
            case CpuSysreg.IccCr0: c.Enabled = Cr0En.Flag(value); break;
            case CpuSysreg.IccPcr: c.Pcr = Priority.Of((int)PcrPriority.Extract(value)); break;
        }
        return null;
    }

    /// <summary>A 64-PPI bank register: bit i is PPI 64*bank+i's flag (ICC_PPI_{ENABLER,ACTIVER,PENDR}x_EL1).</summary>
    private static ulong Bank(VirtualCpuInterface c, int bank, Func<IstEntry, bool> flag)
    {
        ulong v = 0;
        for (var i = 0; i < PpisPerBank; i++)
            if (flag(c.Ppis[bank * PpisPerBank + i])) v |= 1UL << i;
        return v;
    }

    private static void SetBank(VirtualCpuInterface c, int bank, ulong value, Func<IstEntry, bool, IstEntry> with)
    {
        for (var i = 0; i < PpisPerBank; i++)
            c.Ppis[bank * PpisPerBank + i] = with(c.Ppis[bank * PpisPerBank + i], ((value >> i) & 1) != 0);
    }

    /// <summary>ICC_PPI_PRIORITYRn_EL1: PPI 8n+k's priority at [8k+4:8k].</summary>
    private static ulong Priorities(VirtualCpuInterface c, int n)
    {
        ulong v = 0;
        for (var k = 0; k < PpisPerPriorityr; k++) v |= (ulong)c.Ppis[n * PpisPerPriorityr + k].Priority.Value << (8 * k);
        return v;
    }

    private static void SetPriorities(VirtualCpuInterface c, int n, ulong value)
    {
        for (var k = 0; k < PpisPerPriorityr; k++)
        {
            var ppi = n * PpisPerPriorityr + k;
            c.Ppis[ppi] = c.Ppis[ppi].WithPriority(Priority.Of((int)((value >> (8 * k)) & 0x1F)));
        }
    }
}
