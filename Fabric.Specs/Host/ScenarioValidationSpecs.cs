using Fabric.Host.Cli;
using Fabric.Host.Scenarios;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// Every kind of bad scenario is refused with exit code 2 and a message naming the file, the HOCON path of the key and
/// what was expected; <c>validate</c> lists every error at once.
/// </summary>
public sealed class ScenarioValidationSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A valid scenario with one key replaced (or added) by <paramref name="set"/>, written to a file.</summary>
    private string With(string name, string set) => _dir.Write(name + ".hocon", Scenarios.Healthy + "\n" + set + "\n");

    public static TheoryData<string, string, string> BadScenarios => new()
    {
        // name, what the file adds, what the error must say (after "FILE: ")
        { "unknown-key", "fabric.scenario.vmz = 4", "fabric.scenario.vmz: unknown key" },
        { "unknown-nested-key", "fabric.scenario.guest.handler-tme = 0us", "fabric.scenario.guest.handler-tme: unknown key" },
        { "unknown-top-level", "fabrik.scenario.vms = 4", "fabrik: unknown key (expected akka, fabric.scenario or fabric.cluster)" },
        { "unknown-under-fabric", "fabric.scenarios.vms = 4", "fabric.scenarios: unknown key (expected fabric.scenario or fabric.cluster)" },
        { "wrong-type-integer", "fabric.scenario.vms = lots", "fabric.scenario.vms: expected an integer, found 'lots'" },
        { "wrong-type-bool", "fabric.scenario.vcpu.wfi-when-idle = maybe", "fabric.scenario.vcpu.wfi-when-idle: expected true or false, found 'maybe'" },
        { "wrong-type-enum", "fabric.scenario.tracking = pull", "fabric.scenario.tracking: expected one of push | fold, found 'pull'" },
        { "wrong-type-duration", "fabric.scenario.stop-after.duration = soon", "fabric.scenario.stop-after.duration: expected a duration such as 5s" },
        { "object-for-value", "fabric.scenario.seed { a = 1 }", "fabric.scenario.seed: expected a value, found an object" },
        { "list-for-value", "fabric.scenario.name = [a, b]", "fabric.scenario.name: expected a value, found a list" },
        { "value-for-list", "fabric.scenario.devices = 5", "fabric.scenario.devices: expected a list" },
        { "out-of-range", "fabric.scenario.vcpus-per-vm = 600", "fabric.scenario.vcpus-per-vm: 600 is out of range 1..512" },
        { "too-many-vms", "fabric.scenario.vms = 70000", "fabric.scenario.vms: 70000 is out of range 1..65536" },
        { "spis-not-multiple-of-32", "fabric.scenario.spis-per-vm = 40", "fabric.scenario.spis-per-vm: 40 is not a multiple of 32" },
        { "priority-out-of-range", "fabric.scenario.guest.priority-mask = 32", "fabric.scenario.guest.priority-mask: 32 is out of range 0..31" },
        { "rate-beyond-the-pacer", "fabric.scenario.vcpu.exits-per-second = 20000", "fabric.scenario.vcpu.exits-per-second: 20000 per second is more than the 10000 per second" },
        { "duration-below-a-tick", "fabric.scenario.guest.handler-time = 20us", "fabric.scenario.guest.handler-time: 20us is shorter than Akka's scheduler tick" },
        { "negative-budget", "fabric.scenario.guest.ipis = -3", "fabric.scenario.guest.ipis: expected unlimited or an integer >= 0, found '-3'" },
        { "bad-intids", """fabric.scenario.interrupts = [ { intids = "irq:0-7", mode = edge, priority = 8, affinity = 0, enabled = true } ]""",
            "fabric.scenario.interrupts[0].intids: expected an INTID range such as spi:0-31" },
        { "empty-intid-range", """fabric.scenario.interrupts = [ { intids = "spi:7-3", mode = edge, priority = 8, affinity = 0, enabled = true } ]""",
            "fabric.scenario.interrupts[0].intids: expected an INTID range such as spi:0-31, lpi:8192-8199 or ppi:27: 'spi:7-3' is an empty range" },
        { "intids-beyond-spis", """fabric.scenario.interrupts = [ { intids = "spi:0-40", mode = edge, priority = 8, affinity = 0, enabled = true } ]""",
            "fabric.scenario.interrupts[0].intids: spi:0-40 reaches beyond the VM's 32 SPIs" },
        { "affinity-out-of-range", """fabric.scenario.interrupts = [ { intids = "spi:0-11", mode = edge, priority = 8, affinity = 2, enabled = true } ]""",
            "fabric.scenario.interrupts[0].affinity: expected round-robin or a vCPU 0..1 (vcpus-per-vm = 2), found '2'" },
        { "list-item-unknown-key", """fabric.scenario.devices = [ { kind = irqfd, intids = "spi:0-7", rte = 5 } ]""",
            "fabric.scenario.devices[0].rte: unknown key (expected one of kind, intids, rate, service-count, window)" },
        { "list-item-missing-key", """fabric.scenario.interrupts = [ { intids = "spi:0-11", mode = edge, affinity = 0, enabled = true } ]""",
            "fabric.scenario.interrupts[0].priority: missing" },
        { "list-item-not-an-object", "fabric.scenario.devices = [ irqfd ]", "fabric.scenario.devices[0]: expected an object" },
        { "overlapping-interrupts", """fabric.scenario.interrupts = [ { intids = "spi:0-11", mode = edge, priority = 8, affinity = 0, enabled = true }, { intids = "spi:8-9", mode = edge, priority = 4, affinity = 0, enabled = true } ]""",
            "fabric.scenario.interrupts[1].intids: spi:8-9 overlaps interrupts[0] (spi:0-11)" },
        { "device-on-unprogrammed-intids", """fabric.scenario.devices = [ { kind = irqfd, intids = "spi:20-23", rate = 0 } ]""",
            "fabric.scenario.devices[0].intids: spi:20-23 is not all programmed by the guest" },
        { "resample-on-edge-line", """fabric.scenario.devices = [ { kind = irqfd-resample, intids = "spi:0-3", service-count = 2 } ]""",
            "fabric.scenario.devices[0].intids: an irqfd-resample drives a level line, but spi:0-7 is programmed with mode = edge" },
        { "edge-irqfd-on-level-line", """fabric.scenario.devices = [ { kind = irqfd, intids = "spi:8-11", rate = 0 } ]""",
            "fabric.scenario.devices[0].intids: an irqfd without resample writes edges, but spi:8-11 is programmed with mode = level" },
        { "device-key-for-the-other-kind", """fabric.scenario.devices = [ { kind = irqfd, intids = "spi:0-7", service-count = 3 } ]""",
            "fabric.scenario.devices[0].service-count: applies to kind = irqfd-resample only" },
        { "ppi-source-without-rate", """fabric.scenario.interrupts = [ { intids = "ppi:3", mode = edge, priority = 1, affinity = round-robin, enabled = true } ]""" + "\n" +
            """fabric.scenario.devices = [ { kind = irqfd, intids = "ppi:3", rate = 0 } ]""",
            "fabric.scenario.devices[0].rate: a PPI source (userspace driving SW_PPI) needs rate > 0" },
        { "userspace-driving-a-ppi-other-than-sw-ppi", """fabric.scenario.interrupts = [ { intids = "ppi:4-5", mode = edge, priority = 1, affinity = round-robin, enabled = true } ]""" + "\n" +
            """fabric.scenario.devices = [ { kind = irqfd, intids = "ppi:4-5", rate = 10 } ]""",
            "fabric.scenario.devices[0].intids: EINVAL: ppi:4 cannot be driven from userspace: KVM lets userspace drive only SW_PPI (ppi:3" },
        { "timer-ppi-programmed", """fabric.scenario.interrupts = [ { intids = "ppi:27", mode = edge, priority = 1, affinity = round-robin, enabled = true } ]""",
            "fabric.scenario.interrupts[0].intids: ppi:27 (CNTV) is a level PPI whose line is the kernel's timer or PMU" },
        { "ppi-beyond-kvms-64", """fabric.scenario.interrupts = [ { intids = "ppi:60-64", mode = edge, priority = 1, affinity = round-robin, enabled = true } ]""",
            "fabric.scenario.interrupts[0].intids: ppi:64 is beyond the 64 PPIs KVM exposes" },
        { "device-injecting-lpis", """fabric.scenario.interrupts = [ { intids = "lpi:8192-8195", mode = edge, priority = 1, affinity = 0, enabled = true } ]""" + "\n" +
            """fabric.scenario.devices = [ { kind = irqfd, intids = "lpi:8192-8195", rate = 0 } ]""",
            "fabric.scenario.devices[0].intids: expected spi:... or ppi:..." },
        { "ipis-without-lpis", "fabric.scenario.guest.ipi-per-second = 10", "fabric.scenario.guest.ipi-per-second: 10 needs an lpi:... range in fabric.scenario.interrupts" },
        { "migrate-not-an-object", "fabric.scenario.migrate = on", "fabric.scenario.migrate: expected an object { every = 0s, at = [], vms = all }" },
        { "migrate-unknown-key", "fabric.scenario.migrate { evry = 1s }", "fabric.scenario.migrate.evry: unknown key" },
        { "migrate-every-negative", "fabric.scenario.migrate.every = -1s", "fabric.scenario.migrate.every: -1s is not a non-negative duration" },
        { "migrate-every-below-a-tick", "fabric.scenario.migrate.every = 5ms", "fabric.scenario.migrate.every: 5ms is shorter than Akka's scheduler tick (10 ms)" },
        { "migrate-every-not-a-duration", "fabric.scenario.migrate.every = often", "fabric.scenario.migrate.every: expected a duration such as 5s, 200ms or 10ms, found 'often'" },
        { "migrate-at-not-a-list", "fabric.scenario.migrate.at = 1s", "fabric.scenario.migrate.at: expected a list of durations such as [1s, 2500ms], found '1s'" },
        { "migrate-at-negative", "fabric.scenario.migrate.at = [100ms, -1s]", "fabric.scenario.migrate.at[1]: -1s is not a non-negative duration" },
        { "migrate-at-twice", "fabric.scenario.migrate.at = [100ms, 200ms, 100ms]", "fabric.scenario.migrate.at[2]: 100ms is also at[0]: expected each time once" },
        { "migrate-at-after-the-devices-stop", "fabric.scenario.migrate.at = [100ms, 1s]",
            "fabric.scenario.migrate.at[1]: 1s is not before stop-after.duration (400ms): moves stop when the devices stop, so it would never happen" },
        { "migrate-vms-not-all", "fabric.scenario.migrate { every = 100ms, vms = some }", "fabric.scenario.migrate.vms: expected all or a list [ ... ] of VM ids 0..1, found 'some'" },
        { "migrate-vms-out-of-range", "fabric.scenario.migrate { every = 100ms, vms = [0, 2] }", "fabric.scenario.migrate.vms[1]: expected a VM id 0..1 (vms = 2), found '2'" },
        { "migrate-vms-twice", "fabric.scenario.migrate { every = 100ms, vms = [1, 1] }", "fabric.scenario.migrate.vms[1]: VM 1 is also vms[0]: expected each VM once" },
        { "migrate-vms-empty", "fabric.scenario.migrate { every = 100ms, vms = [] }", "fabric.scenario.migrate.vms: an empty list moves no VM" },
        { "include", "include \"other.conf\"", "include is not supported" },
        { "bad-hocon", "fabric.scenario { vms = ", "not valid HOCON" },
    };

    [Theory]
    [MemberData(nameof(BadScenarios))]
    public async Task A_bad_scenario_is_refused_with_exit_2_naming_the_file_the_path_and_what_was_expected(string name, string set, string expected)
    {
        var file = With(name, set);

        var validate = await Cli.RunAsync("validate", file);
        var run = await Cli.RunAsync("run", file);

        Assert.True(validate.ExitCode == FabricCli.BadInput, validate.ToString());
        Assert.Contains($"{file}", validate.Err);
        Assert.Contains(expected, validate.Err);
        Assert.True(run.ExitCode == FabricCli.BadInput, run.ToString());
        Assert.Contains(expected, run.Err);
        Assert.DoesNotContain("spec-healthy", run.Out);   // refused before anything was built
    }

    [Fact]
    public async Task Validate_lists_every_error_at_once()
    {
        var file = With("many-errors", """
            fabric.scenario.vms = lots
            fabric.scenario.vmz = 4
            fabric.scenario.tracking = pull
            fabric.scenario.devices = [ { kind = irqfd, intids = "spi:0-7", rte = 5 } ]
            fabric.scenario.interrupts = [ { intids = "spi:0-11", mode = edge, priority = 99, affinity = 7, enabled = true } ]
            fabric.scenario.migrate { every = 5ms, at = [1s], vms = [3] }
            """);

        var r = await Cli.RunAsync("validate", file);

        Assert.Equal(FabricCli.BadInput, r.ExitCode);
        string[] expected =
        [
            "fabric.scenario.vms: expected an integer", "fabric.scenario.vmz: unknown key", "fabric.scenario.tracking: expected one of push | fold",
            "fabric.scenario.devices[0].rte: unknown key", "fabric.scenario.interrupts[0].priority: 99 is out of range 0..31",
            "fabric.scenario.interrupts[0].affinity: expected round-robin or a vCPU 0..1",
            "fabric.scenario.migrate.every: 5ms is shorter", "fabric.scenario.migrate.at[0]: 1s is not before stop-after.duration",
            "fabric.scenario.migrate.vms[0]: expected a VM id 0..",
        ];
        foreach (var e in expected) Assert.Contains($"{file}: {e}", r.Err);
        Assert.Contains($"{expected.Length} error(s)", r.Err);
    }

    [Fact]
    public async Task A_valid_scenario_validates_with_exit_0_and_builds_nothing()
    {
        var r = await Cli.RunAsync("validate", With("valid", ""));

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("valid (spec-healthy: 2 VMs x 2 vCPUs, 32 SPIs", r.Out);
    }

    [Fact]
    public async Task A_set_override_is_validated_like_the_file_and_named_as_the_set()
    {
        var file = With("valid", "");

        var typo = await Cli.RunAsync("validate", file, "--set", "policies.dbmp=strict");
        var malformed = await Cli.RunAsync("validate", file, "--set", "policies.dbpm");
        var wrong = await Cli.RunAsync("validate", file, "--set", "policies.dbpm=sometimes");

        Assert.Equal(FabricCli.BadInput, typo.ExitCode);
        Assert.Contains("--set policies.dbmp=strict: fabric.scenario.policies.dbmp: unknown key", typo.Err);
        Assert.Equal(FabricCli.BadInput, malformed.ExitCode);
        Assert.Contains("--set policies.dbpm: expected KEY=VALUE", malformed.Err);
        Assert.Equal(FabricCli.BadInput, wrong.ExitCode);
        Assert.Contains("fabric.scenario.policies.dbpm: expected one of inclusive | strict, found 'sometimes'", wrong.Err);
    }

    [Fact]
    public void A_key_left_out_keeps_its_value_from_akka_hocon_and_a_set_wins_over_the_file()
    {
        var (s, _) = ScenarioLoader.Load(With("partial", ""), sets: ["host.preempt-per-second=7", "seed=4"]);
        var (defaults, _) = ScenarioLoader.Load(null);

        Assert.Equal("spec-healthy", s.Name);
        Assert.Equal(defaults.Vm.Guest.PriorityMask, s.Vm.Guest.PriorityMask);   // not in the file: from akka.hocon
        Assert.Equal(7, s.Vm.Host.PreemptPerSecond);                           // the file says 20; --set wins
        Assert.Equal(4, s.Seed);
        Assert.Equal(2, s.Vm.Devices.Count);                                    // a list replaces the default list whole
    }

    [Fact]
    public void Every_shipped_scenario_is_valid()
    {
        var folder = Path.Combine(RepositoryRoot(), "scenarios");
        var files = Directory.GetFiles(folder, "*.hocon");

        Assert.True(files.Length >= 15, $"scenarios/ holds {files.Length} files");
        Assert.Contains(files, f => Path.GetFileName(f) == "migration.hocon");
        Assert.Contains(files, f => Path.GetFileName(f) == "migration-fold.hocon");
        Assert.Contains(files, f => Path.GetFileName(f) == "cluster-leave.hocon");
        Assert.Contains(files, f => Path.GetFileName(f) == "cluster-crash.hocon");
        foreach (var f in files)
        {
            var (s, _) = ScenarioLoader.Load(f);
            Assert.Equal(Path.GetFileNameWithoutExtension(f), s.Name);
            Assert.True(s.TimerFiringsPerSecond <= Fabric.Host.Scenarios.Scenario.TimerFiringsWarning, $"{f}: {s.TimerFiringsPerSecond} timer firings a second");
        }
    }

    [Fact]
    public void The_design_scenarios_come_in_pairs_one_per_kvm_design_each_named_for_its_design_and_documented()
    {
        var folder = Path.Combine(RepositoryRoot(), "scenarios", "designs");
        var files = Directory.GetFiles(folder, "*.hocon").Select(f => Path.GetFileNameWithoutExtension(f)!).Order().ToArray();
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "scenarios", "README.md"));

        Assert.Contains("level-resample-ap-list", files);
        Assert.Contains("level-resample-merged", files);
        Assert.Contains("line-held-high-ap-list", files);
        Assert.Contains("line-held-high-merged", files);
        Assert.Contains("tracking-merged", files);
        foreach (var name in files)
        {
            var (s, _) = ScenarioLoader.Load(Path.Combine(folder, name + ".hocon"));
            Assert.Equal(name, s.Name);
            Assert.EndsWith(Fabric.Hardware.Kvm.KvmDesignRules.Name(s.Vm.Policies.Kvm), name.Replace("tracking-fold", "tracking-ap-list").Replace("tracking-push", "tracking-ap-list"), StringComparison.Ordinal);
            Assert.Contains($"designs/{name}.hocon", readme);
        }
    }

    internal static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fabric.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Fabric.sln not found above " + AppContext.BaseDirectory);
    }
}
