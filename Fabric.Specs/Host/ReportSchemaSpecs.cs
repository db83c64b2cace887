using System.Text.Json;
using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>The report of DESIGN.md §5: every key, with its JSON type, and nothing else but Fabric's extensions
/// (kvm, right after seed; exits and migrations, right after residencyChanges; the cluster's nodes, vmsPerNode, handoffs and lostVms, right after
/// migrations; and notifyLatencyMicros); its numbers agree with each other; a failing run's violations name where.</summary>
public sealed class ReportSchemaSpecs(RunArtefacts runs) : IClassFixture<RunArtefacts>
{
    private static readonly (string Key, JsonValueKind Kind)[] TopLevel =
    [
        ("scenario", JsonValueKind.String), ("seed", JsonValueKind.Number), ("kvm", JsonValueKind.String), ("vms", JsonValueKind.Number), ("vcpus", JsonValueKind.Number),
        ("injected", JsonValueKind.Number), ("coalesced", JsonValueKind.Number), ("acknowledged", JsonValueKind.Number),
        ("deactivated", JsonValueKind.Number), ("notified", JsonValueKind.Number), ("resampled", JsonValueKind.Number),
        ("doorbells", JsonValueKind.Number), ("residencyChanges", JsonValueKind.Number), ("exits", JsonValueKind.Number), ("migrations", JsonValueKind.Number),
        ("nodes", JsonValueKind.Number), ("vmsPerNode", JsonValueKind.Object), ("handoffs", JsonValueKind.Number), ("lostVms", JsonValueKind.Number),
        ("pendingAtEnd", JsonValueKind.Number),
        ("apListAtEnd", JsonValueKind.Number), ("drained", JsonValueKind.True), ("interrupted", JsonValueKind.False), ("invariants", JsonValueKind.Object), ("elapsedSeconds", JsonValueKind.Number),
        ("throughputPerSecond", JsonValueKind.Number), ("latencyMicros", JsonValueKind.Object),
        ("notifyLatencyMicros", JsonValueKind.Object), ("replay", JsonValueKind.String),
    ];

    private static readonly string[] Percentiles = ["p50", "p90", "p99", "p999", "max"];

    private static JsonElement Load(string file) => JsonDocument.Parse(File.ReadAllText(file)).RootElement;

    [Fact]
    public void The_report_has_every_key_of_DESIGN_with_its_JSON_type_and_no_other()
    {
        Assert.True(runs.Run.ExitCode == FabricCli.Ok, runs.Run.ToString());
        var r = Load(runs.Report);

        Assert.Equal(TopLevel.Select(k => k.Key), r.EnumerateObject().Select(p => p.Name));
        foreach (var (key, kind) in TopLevel) Assert.True(r.GetProperty(key).ValueKind == kind, $"{key} is {r.GetProperty(key).ValueKind}, not {kind}");
        foreach (var latency in new[] { "latencyMicros", "notifyLatencyMicros" })
        {
            Assert.Equal(Percentiles, r.GetProperty(latency).EnumerateObject().Select(p => p.Name));
            Assert.All(Percentiles, p => Assert.Equal(JsonValueKind.Number, r.GetProperty(latency).GetProperty(p).ValueKind));
        }
        var inv = r.GetProperty("invariants");
        Assert.Equal(["checked", "violations"], inv.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"], inv.GetProperty("checked").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Array, inv.GetProperty("violations").ValueKind);
        Assert.Empty(inv.GetProperty("violations").EnumerateArray());
    }

    [Fact]
    public void The_reports_numbers_agree_with_the_scenario_and_with_each_other()
    {
        var r = Load(runs.Report);
        long N(string key) => r.GetProperty(key).GetInt64();

        Assert.Equal("spec-healthy", r.GetProperty("scenario").GetString());
        Assert.Equal(3, N("seed"));
        Assert.Equal(2, N("vms"));
        Assert.Equal(4, N("vcpus"));                                   // all vCPUs: 2 VMs x 2
        Assert.True(N("acknowledged") > 0);
        Assert.Equal(N("acknowledged"), N("deactivated"));             // drained: everything acknowledged was consumed
        Assert.Equal(N("deactivated"), N("notified"));                 // push: one notification per consumption
        Assert.Equal(0, N("pendingAtEnd"));
        Assert.Equal(0, N("apListAtEnd"));
        Assert.Equal(0, N("migrations"));                              // the scenario has no migrate block
        Assert.Equal(1, N("nodes"));                                   // the local fabric: one node, every VM on it
        Assert.Equal(["0"], r.GetProperty("vmsPerNode").EnumerateObject().Select(p => p.Name));
        Assert.Equal(2, r.GetProperty("vmsPerNode").GetProperty("0").GetInt32());
        Assert.Equal(0, N("handoffs"));
        Assert.Equal(0, N("lostVms"));
        var elapsed = r.GetProperty("elapsedSeconds").GetDouble();
        Assert.InRange(r.GetProperty("throughputPerSecond").GetDouble(), N("acknowledged") / elapsed * 0.99, N("acknowledged") / elapsed * 1.01);
        var p = r.GetProperty("latencyMicros");
        Assert.True(p.GetProperty("p50").GetDouble() > 0);
        Assert.True(p.GetProperty("p50").GetDouble() <= p.GetProperty("p99").GetDouble());
        Assert.True(p.GetProperty("p99").GetDouble() <= p.GetProperty("max").GetDouble());
        Assert.Equal("ap-list", r.GetProperty("kvm").GetString());     // the seed's design, the default
        Assert.Equal($"dotnet run --project Fabric.Host -- run {runs.Scenario} --seed 3 --set kvm=ap-list", r.GetProperty("replay").GetString());
    }

    [Fact]
    public void A_failing_reports_violations_name_the_invariant_vm_vpe_intid_and_what()
    {
        Assert.True(runs.Failing.ExitCode == FabricCli.Violated, runs.Failing.ToString());
        var violations = Load(runs.FailingReport).GetProperty("invariants").GetProperty("violations").EnumerateArray().ToList();

        Assert.NotEmpty(violations);
        Assert.All(violations, v =>
        {
            Assert.Equal(["invariant", "vm", "vpe", "intid", "message"], v.EnumerateObject().Select(p => p.Name));
            Assert.Matches("^I[1-8]$", v.GetProperty("invariant").GetString());
            Assert.Equal(JsonValueKind.Number, v.GetProperty("vm").ValueKind);
            Assert.Contains(v.GetProperty("vpe").ValueKind, new[] { JsonValueKind.Number, JsonValueKind.Null });
            Assert.Contains(v.GetProperty("intid").ValueKind, new[] { JsonValueKind.String, JsonValueKind.Null });
            Assert.False(string.IsNullOrEmpty(v.GetProperty("message").GetString()));
        });
        Assert.Contains(violations, v => v.GetProperty("invariant").GetString() == "I7" && v.GetProperty("vpe").GetInt32() == 0);
        Assert.Contains(violations, v => v.GetProperty("invariant").GetString() == "I4" && v.GetProperty("intid").GetString()!.StartsWith("spi:", StringComparison.Ordinal));
    }

    [Fact]
    public void The_report_is_also_printed_as_a_table()
    {
        foreach (var row in new[] { "injected", "coalesced", "acknowledged", "deactivated", "notified", "resampled", "doorbells",
                     "residency changes", "migrations", "nodes", "VMs per node", "handoffs", "lost VMs", "pending at end", "AP list at end", "elapsed", "throughput", "trigger → ack", "deactivate → notify" })
            Assert.Contains("│ " + row, runs.Run.Out);
        Assert.Contains($"report: {runs.Report}", runs.Run.Out);
    }

    [Fact]
    public void The_trace_is_a_chrome_trace_with_a_slice_per_handled_interrupt_on_its_vpe_and_instants_for_residency()
    {
        var t = Load(runs.Trace);
        var events = t.GetProperty("traceEvents").EnumerateArray().ToList();
        var slices = events.Where(e => e.GetProperty("ph").GetString() == "X").ToList();
        var acknowledged = Load(runs.Report).GetProperty("deactivated").GetInt64();

        Assert.Equal(acknowledged, slices.Count);
        Assert.All(slices, s =>
        {
            Assert.Matches("^(spi|lpi|ppi):[0-9]+$", s.GetProperty("name").GetString());
            Assert.InRange(s.GetProperty("pid").GetInt32(), 0, 1);      // pid = VM
            Assert.InRange(s.GetProperty("tid").GetInt32(), 0, 1);      // tid = VPE
            Assert.True(s.GetProperty("dur").GetDouble() >= 0);
            Assert.True(s.GetProperty("ts").GetDouble() > 0);
        });
        var instants = events.Where(e => e.GetProperty("ph").GetString() == "i").Select(e => e.GetProperty("name").GetString()).ToHashSet();
        Assert.Contains("resident", instants);
        Assert.Contains("nonresident", instants);
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name");
    }

    [Fact]
    public void The_plot_is_a_png()
    {
        var bytes = File.ReadAllBytes(runs.Plot);

        Assert.True(bytes.Length > 10_000, $"{bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }
}
