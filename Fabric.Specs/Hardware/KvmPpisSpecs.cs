using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The PPIs KVM exposes (SEMANTICS.md §0.1): 64, the architected numbers, and only SW_PPI drivable from userspace.</summary>
public sealed class KvmPpisSpecs
{
    [Theory]
    [InlineData(3u, "SW_PPI")]
    [InlineData(23u, "PMUIRQ")]
    [InlineData(26u, "CNTHP")]
    [InlineData(27u, "CNTV")]
    [InlineData(28u, "CNTHV")]
    [InlineData(30u, "CNTP")]
    public void The_architected_PPI_numbers_are_the_kernels(uint ppi, string name) => Assert.Equal(name, KvmPpis.Name(ppi));

    [Fact]
    public void Only_SW_PPI_is_drivable_from_userspace_any_other_is_EINVAL()
    {
        Assert.Null(KvmPpis.UserspaceRefusal(IntId.Ppi(3)));
        foreach (var ppi in new uint[] { 0, 23, 27, 30, 63 })
            Assert.StartsWith("EINVAL", KvmPpis.UserspaceRefusal(IntId.Ppi(ppi)));
        Assert.Contains("CNTV", KvmPpis.UserspaceRefusal(IntId.Ppi(27)));
    }

    [Fact]
    public void The_timers_and_the_PMU_are_the_kernels_level_sources_SW_PPI_is_not()
    {
        Assert.All(new uint[] { 23, 26, 27, 28, 30 }, p => Assert.True(KvmPpis.IsKernelLevelSource(p)));
        Assert.False(KvmPpis.IsKernelLevelSource(3));
    }

    [Fact]
    public void KVM_exposes_64_PPIs()
    {
        Assert.Null(KvmPpis.ExposureRefusal(IntId.Ppi(63)));
        Assert.Contains("64 PPIs", KvmPpis.ExposureRefusal(IntId.Ppi(64)));
    }
}
