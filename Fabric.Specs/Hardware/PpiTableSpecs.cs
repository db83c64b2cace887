using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Migration;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>A CPU interface's PPI table: 128 ISTE-shaped entries that read and write as an array would, whose banks of 32
/// cost memory only once the guest programs a PPI in them.</summary>
public class PpiTableSpecs
{
    private static readonly IstEntry Programmed = IstEntry.Zero.WithEnabled(true).WithPriority(Priority.Of(4));

    [Fact]
    public void A_fresh_CPU_interfaces_PPIs_allocate_no_bank_and_all_read_as_zero()
    {
        var ppis = new VirtualCpuInterface(0).Ppis;
        Assert.Equal(0, ppis.BanksAllocated);
        Assert.Equal(IntId.PpiCount, ppis.Count);
        Assert.Equal(Enumerable.Repeat(IstEntry.Zero, IntId.PpiCount), ppis);
        Assert.Equal(0, ppis.BanksAllocated);   // reading allocates nothing
    }

    [Fact]
    public void Writing_PPI_27_allocates_exactly_one_bank_and_every_other_PPI_still_reads_zero()
    {
        var ppis = new PpiTable();
        ppis[27] = Programmed;
        Assert.Equal(1, ppis.BanksAllocated);
        Assert.Equal(Programmed, ppis[27]);
        Assert.Equal(Programmed, ppis[IntId.Ppi(27)]);
        Assert.All(Enumerable.Range(0, IntId.PpiCount).Where(p => p != 27), p => Assert.Equal(IstEntry.Zero, ppis[p]));
    }

    [Fact]
    public void Enumeration_yields_every_PPI_in_order_whichever_banks_hold_storage()
    {
        var ppis = new PpiTable();
        ppis[3] = Programmed;
        ppis[100] = Programmed.WithPending(true);
        var all = ppis.ToArray();
        Assert.Equal(IntId.PpiCount, all.Length);
        Assert.Equal(Enumerable.Range(0, IntId.PpiCount).Select(p => ppis[p]), all);
        Assert.Equal(new[] { 3, 100 }, Enumerable.Range(0, IntId.PpiCount).Where(p => all[p] != IstEntry.Zero));
        Assert.Equal(2, ppis.BanksAllocated);
    }

    [Fact]
    public void Writing_zero_into_an_unallocated_bank_allocates_nothing()
    {
        var ppis = new PpiTable();
        for (var p = 0; p < IntId.PpiCount; p++) ppis[p] = IstEntry.Zero;
        Assert.Equal(0, ppis.BanksAllocated);
    }

    [Fact]
    public void Restoring_the_registers_of_a_CPU_interface_whose_guest_programmed_no_PPI_allocates_no_bank()
    {
        var c = new VirtualCpuInterface(0);
        foreach (var r in Enum.GetValues<CpuSysreg>()) Assert.Null(CpuInterfaceSysregs.Write(c, r, 0));
        Assert.Equal(0, c.Ppis.BanksAllocated);
    }

    [Fact]
    public void A_bank_stays_allocated_when_its_PPIs_return_to_zero_and_reads_as_zero()
    {
        var ppis = new PpiTable();
        ppis[40] = Programmed;
        ppis[40] = IstEntry.Zero;
        Assert.Equal(1, ppis.BanksAllocated);
        Assert.Equal(IstEntry.Zero, ppis[40]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(128)]
    [InlineData(1000)]
    public void A_PPI_outside_0_to_127_is_refused_by_name_and_changes_nothing(int ppi)
    {
        var ppis = new PpiTable();
        var read = Assert.Throws<ArgumentOutOfRangeException>(() => ppis[ppi]);
        var write = Assert.Throws<ArgumentOutOfRangeException>(() => ppis[ppi] = Programmed);
        Assert.Contains($"ppi:{ppi} is out of range", read.Message);
        Assert.Contains($"ppi:{ppi} is out of range", write.Message);
        Assert.Equal(0, ppis.BanksAllocated);
    }

    [Fact]
    public void An_INTID_that_is_not_a_PPI_is_refused_by_name()
    {
        var ppis = new PpiTable();
        Assert.Contains("spi:5 is not a PPI", Assert.Throws<ArgumentException>(() => ppis[IntId.Spi(5)]).Message);
        Assert.Contains("lpi:3 is not a PPI", Assert.Throws<ArgumentException>(() => ppis[IntId.Lpi(3)] = Programmed).Message);
        Assert.Equal(0, ppis.BanksAllocated);
    }

    [Fact]
    public void A_bank_that_was_never_written_scans_as_empty()
    {
        var ppis = new PpiTable();
        ppis[33] = Programmed;
        Assert.True(ppis.Bank(0).IsEmpty);
        Assert.Equal(PpiTable.BankSize, ppis.Bank(1).Length);
        Assert.Equal(Programmed, ppis.Bank(1)[1]);
        Assert.Contains("bank 4", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = ppis.Bank(PpiTable.BankCount); }).Message);
    }
}
