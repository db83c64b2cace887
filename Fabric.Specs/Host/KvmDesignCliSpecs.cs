using System.Text.Json;
using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// <c>fabric.scenario.kvm = ap-list | merged</c> through the CLI (DESIGN.md §6.2), on the shipped scenarios, shortened to
/// a second of injection: the seed's design keeps every invariant on resampled level lines; the merged design starves
/// them (I2, naming the device and the missing notifier) and still ends its run; edge irqfds hold under both.
/// </summary>
public sealed class KvmDesignCliSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Shipped(string name) => Path.Combine(ScenarioValidationSpecs.RepositoryRoot(), "scenarios", name);

    private static Task<Cli.Outcome> Run(string scenario, string design, params string[] more) =>
        Cli.RunAsync(["run", Shipped(scenario), "--set", "kvm=" + design, "--set", "stop-after.duration=1s", .. more]);

    [Fact]
    public async Task Level_resample_under_the_merged_design_exits_1_naming_I2_the_starved_device_and_the_missing_notifier()
    {
        var report = _dir.File("level-merged.json");
        var r = await Run("level-resample.hocon", "merged", "--report", report);

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I2\s+│ \d+\s+│ \d+\s+│ spi:\d+", r.Out);
        Assert.Contains("irqfd-resample-spi-0-31", r.Out);
        var violations = JsonDocument.Parse(await File.ReadAllTextAsync(report)).RootElement.GetProperty("invariants").GetProperty("violations");
        Assert.NotEmpty(violations.EnumerateArray());
        Assert.All(violations.EnumerateArray(), v =>
        {
            Assert.Equal("I2", v.GetProperty("invariant").GetString());
            Assert.StartsWith("spi:", v.GetProperty("intid").GetString(), StringComparison.Ordinal);
            Assert.Contains("device irqfd-resample-spi-0-31", v.GetProperty("message").GetString());
            Assert.Contains("merged design (kvm = merged) has no deactivation notifier", v.GetProperty("message").GetString());
        });
        Assert.Contains("kvm merged", r.Out);                                // the header and the progress lines
        Assert.Contains("--set kvm=merged", r.Out);                          // the replay command
        Assert.Contains("drained", r.Out);                                   // the starved lines go quiet: the drain ends
    }

    [Fact]
    public async Task Level_resample_under_the_seeds_ap_list_design_exits_0()
    {
        var r = await Run("level-resample.hocon", "ap-list");

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("kvm ap-list", r.Out);
    }

    [Fact]
    public async Task Edge_storm_under_the_merged_design_exits_0_and_its_devices_keep_writing_as_the_guest_consumes()
    {
        var report = _dir.File("edge-merged.json");
        var r = await Run("edge-storm.hocon", "merged", "--report", report);

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        var json = JsonDocument.Parse(await File.ReadAllTextAsync(report)).RootElement;
        Assert.Equal("merged", json.GetProperty("kvm").GetString());
        Assert.Equal(0, json.GetProperty("notified").GetInt64());           // nothing is notified under the merged design
        Assert.Equal(0, json.GetProperty("apListAtEnd").GetInt64());
        // Each of the 16 x 64 SPIs' first window of 4 writes gives one acknowledge; more means the devices wrote again
        // after consumptions (their own completion path), not only their first window.
        Assert.True(json.GetProperty("acknowledged").GetInt64() > 16 * 64, r.ToString());
    }

    [Fact]
    public async Task An_unknown_kvm_design_is_bad_input_naming_the_key_and_the_choices()
    {
        var r = await Cli.RunAsync("validate", Shipped("edge-storm.hocon"), "--set", "kvm=v7.4");

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains("fabric.scenario.kvm", r.Err);
        Assert.Contains("expected one of ap-list | merged, found 'v7.4'", r.Err);
    }
}
