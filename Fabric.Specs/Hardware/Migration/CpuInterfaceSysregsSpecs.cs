using CsCheck;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Migration;
using Xunit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>The CPU-interface registers KVM saves per vCPU (S5 GRP_CPU_SYSREGS): their encodings, and how they map onto
/// the virtual CPU interface.</summary>
public class CpuInterfaceSysregsSpecs
{
    [Theory]
    [InlineData(CpuSysreg.IccIcsr, "ICC_ICSR_EL1", 3, 0, 12, 10, 4)]
    [InlineData(CpuSysreg.IccPpiEnabler1, "ICC_PPI_ENABLER1_EL1", 3, 0, 12, 10, 7)]
    [InlineData(CpuSysreg.IccPpiSactiver0, "ICC_PPI_SACTIVER0_EL1", 3, 0, 12, 13, 2)]
    [InlineData(CpuSysreg.IccPpiSpendr1, "ICC_PPI_SPENDR1_EL1", 3, 0, 12, 13, 7)]
    [InlineData(CpuSysreg.IccPpiPriorityr7, "ICC_PPI_PRIORITYR7_EL1", 3, 0, 12, 14, 7)]
    [InlineData(CpuSysreg.IccPpiPriorityr8, "ICC_PPI_PRIORITYR8_EL1", 3, 0, 12, 15, 0)]
    [InlineData(CpuSysreg.IccApr, "ICC_APR_EL1", 3, 1, 12, 0, 0)]
    [InlineData(CpuSysreg.IccCr0, "ICC_CR0_EL1", 3, 1, 12, 0, 1)]
    [InlineData(CpuSysreg.IccPcr, "ICC_PCR_EL1", 3, 1, 12, 0, 2)]
    public void Registers_carry_their_Linux_names_and_encodings(CpuSysreg id, string name, int op0, int op1, int crn, int crm, int op2)
    {
        var info = CpuInterfaceSysregs.Info(id);
        Assert.Equal(name, info.Name);
        Assert.Equal((op0, op1, crn, crm, op2), (info.Op0, info.Op1, info.CRn, info.CRm, info.Op2));
        Assert.Equal((ushort)((op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2), info.Instr);
    }

    [Fact]
    public void There_are_the_26_registers_KVM_lists_in_its_order()
    {
        Assert.Equal(26, CpuInterfaceSysregs.Count);
        Assert.Equal(Enum.GetValues<CpuSysreg>(), CpuInterfaceSysregs.All.Select(r => r.Id));
        Assert.Equal(0xC654, CpuInterfaceSysregs.Info(CpuSysreg.IccIcsr).Instr);
    }

    [Fact]
    public void Each_register_reads_the_model_state_it_names()
    {
        var c = new VirtualCpuInterface(0) { Apr = 0b1010_0000, Pcr = Priority.Of(9), Enabled = false };
        c.Ppis[3] = IstEntry.Zero.WithEnabled(true).WithPending(true).WithPriority(Priority.Of(7));
        c.Ppis[70] = IstEntry.Zero.WithActive(true).WithPriority(Priority.Of(31));
        Assert.Equal(1UL << 3, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPpiEnabler0));
        Assert.Equal(1UL << 3, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPpiSpendr0));
        Assert.Equal(1UL << 6, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPpiSactiver1));
        Assert.Equal(7UL << 24, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPpiPriorityr0));   // PPI 3 = Priority3 at [28:24]
        Assert.Equal(31UL << 48, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPpiPriorityr8));  // PPI 70 = Priority6 of register 8
        Assert.Equal(0b1010_0000UL, CpuInterfaceSysregs.Read(c, CpuSysreg.IccApr));
        Assert.Equal(9UL, CpuInterfaceSysregs.Read(c, CpuSysreg.IccPcr));
        Assert.Equal(0UL, CpuInterfaceSysregs.Read(c, CpuSysreg.IccCr0));
    }

    [Fact]
    public void SACTIVER_and_SPENDR_are_raw_writes_of_the_state_not_set_only()
    {
        var c = new VirtualCpuInterface(0);
        c.Ppis[5] = IstEntry.Zero.WithPending(true).WithActive(true);
        Assert.Null(CpuInterfaceSysregs.Write(c, CpuSysreg.IccPpiSpendr0, 1UL << 9));
        Assert.Null(CpuInterfaceSysregs.Write(c, CpuSysreg.IccPpiSactiver0, 0));
        Assert.False(c.Ppis[5].Pending);
        Assert.False(c.Ppis[5].Active);
        Assert.True(c.Ppis[9].Pending);
    }

    [Fact]
    public void Writing_any_valid_value_then_reading_gives_it_back()
    {
        Gen.Select(Gen.Enum<CpuSysreg>(), Gen.ULong).Sample((r, raw) =>
        {
            var mask = r switch
            {
                CpuSysreg.IccIcsr => Icsr.DefinedMask,
                >= CpuSysreg.IccPpiPriorityr0 and <= CpuSysreg.IccPpiPriorityr15 => CpuInterfaceSysregs.PriorityrMask,
                CpuSysreg.IccApr => CpuInterfaceSysregs.AprMask,
                CpuSysreg.IccCr0 => CpuInterfaceSysregs.Cr0En.Mask,
                CpuSysreg.IccPcr => CpuInterfaceSysregs.PcrPriority.Mask,
                _ => ulong.MaxValue,
            };
            var c = new VirtualCpuInterface(0);
            return CpuInterfaceSysregs.Write(c, r, raw & mask) is null && CpuInterfaceSysregs.Read(c, r) == (raw & mask)
                && (raw == (raw & mask) || CpuInterfaceSysregs.Write(c, r, raw) is not null);
        });
    }
}
