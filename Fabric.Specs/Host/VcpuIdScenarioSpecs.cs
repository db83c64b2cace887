using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// The scenario key <c>vcpu.ids</c> (SEMANTICS.md §0.1, sparse vCPU ids): <c>dense</c> by default (vCPU n has id n, as
/// before), or one id per vCPU — its IAFFID — distinct and within 16 bits; anything else is refused naming
/// <c>fabric.scenario.vcpu.ids</c>. A run with sparse ids holds every invariant, the guest's boot and its run-time CDAFFs
/// writing each vCPU's id.
/// </summary>
public sealed class VcpuIdScenarioSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The healthy spec scenario (2 VMs x 2 vCPUs) with <paramref name="block"/> added.</summary>
    private string With(string block) => _dir.Write("ids.hocon", Scenarios.Healthy + "\n" + block + "\n");

    [Fact]
    public void The_ids_are_dense_unless_a_scenario_sets_them()
    {
        Assert.Null(ScenarioLoader.Load(null).Scenario.Vm.VcpuIds);
        Assert.Null(ScenarioLoader.Load(With("")).Scenario.Vm.VcpuIds);
        Assert.Null(ScenarioLoader.Load(With("fabric.scenario.vcpu.ids = dense")).Scenario.Vm.VcpuIds);
        Assert.Equal([3, 40], ScenarioLoader.Load(With("fabric.scenario.vcpu.ids = [3, 40]")).Scenario.Vm.VcpuIds!);
    }

    public static TheoryData<string, string> BadIds => new()
    {
        // what the file adds, what the error must say (after "FILE: ")
        { "fabric.scenario.vcpu.ids = sparse", "fabric.scenario.vcpu.ids: expected dense or a list [ ... ] of 2 distinct vCPU ids 0..65535, one per vCPU (vcpus-per-vm = 2), found 'sparse'" },
        { "fabric.scenario.vcpu.ids = [4]", "fabric.scenario.vcpu.ids: 1 ids for 2 vCPUs: expected dense or a list" },
        { "fabric.scenario.vcpu.ids = [0, 4, 9]", "fabric.scenario.vcpu.ids: 3 ids for 2 vCPUs" },
        { "fabric.scenario.vcpu.ids = []", "fabric.scenario.vcpu.ids: 0 ids for 2 vCPUs" },
        { "fabric.scenario.vcpu.ids = [0, -1]", "fabric.scenario.vcpu.ids[1]: expected a vCPU id 0..65535 (an IAFFID is 16 bits), found '-1'" },
        { "fabric.scenario.vcpu.ids = [0, 65536]", "fabric.scenario.vcpu.ids[1]: expected a vCPU id 0..65535 (an IAFFID is 16 bits), found '65536'" },
        { "fabric.scenario.vcpu.ids = [0, x]", "fabric.scenario.vcpu.ids[1]: expected a vCPU id 0..65535" },
        { "fabric.scenario.vcpu.ids = [7, 7]", "fabric.scenario.vcpu.ids[1]: id 7 is also ids[0]: expected each vCPU to have its own id" },
        { "fabric.scenario.vcpu.ids = [0, [1]]", "fabric.scenario.vcpu.ids[1]: expected a value, found a list [ ... ]" },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public void Bad_ids_are_refused_naming_the_file_the_key_and_what_was_expected(string block, string expected)
    {
        var file = With(block);

        var ex = Assert.Throws<ScenarioException>(() => ScenarioLoader.Load(file));

        Assert.Contains(ex.Errors, e => e.StartsWith($"{file}: {expected}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_ids_exit_2_from_the_command_line()
    {
        var r = await Cli.RunAsync("validate", With("fabric.scenario.vcpu.ids = [5, 5]"));

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("fabric.scenario.vcpu.ids[1]: id 5 is also ids[0]", r.Err);
    }

    [Theory]
    [InlineData("fabric.scenario { vcpu.ids = [2, 7], guest.reprogram-per-second = 100 }")]
    // vCPU 1 has id 0, the ISTE's reset IAFFID: the boot's CDAFF to it changes nothing and logs no affinity event, so
    // the checker learns the SPI's VPE from the IRS's pend event.
    [InlineData("fabric.scenario { vcpu.ids = [1, 0], host.preempt-per-second = 0, vcpu.exits-per-second = 0 }")]
    public async Task A_run_with_sparse_ids_holds_every_invariant(string ids)
    {
        var r = await Cli.RunAsync("run", With(ids));

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("all held", r.Out);
    }
}
