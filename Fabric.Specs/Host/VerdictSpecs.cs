using System.Text.Json;
using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// The verdict is never lost or wrong (issue 17): it is decided and printed before any artefact is written, and stands
/// whatever becomes of them; a failed write is exit 3 (every invariant held) naming the file, never a stack trace or a
/// verdict turned into "bad input"; every output path is checked before the run.
/// </summary>
public sealed class VerdictSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static bool Linux => OperatingSystem.IsLinux();

    [Theory]
    [InlineData("--report")]
    [InlineData("--events")]
    [InlineData("--trace")]
    [InlineData("--plot")]
    public async Task A_failed_write_keeps_the_verdict_and_exits_3_naming_the_file(string option)
    {
        if (!Linux) return;   // /dev/full: every write fails with ENOSPC, as on a full disk
        var r = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy), option, "/dev/full");

        Assert.True(r.ExitCode == FabricCli.WriteFailed, r.ToString());
        Assert.Contains("invariants I1 I2 I3 I4 I5 I6 I7 I8: all held", r.Out);
        Assert.Contains($"{option} /dev/full: could not be written", r.Err);
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public async Task A_violation_stays_exit_1_when_the_report_cannot_be_written()
    {
        if (!Linux) return;
        var r = await Cli.RunAsync("run", _dir.Write("failing.hocon", Scenarios.MissedDoorbell), "--report", "/dev/full", "--events", "/dev/full");

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Contains("│ I7", r.Out);
        Assert.Contains("--report /dev/full: could not be written", r.Err);
        Assert.Contains("--events /dev/full: could not be written", r.Err);
    }

    [Fact]
    public async Task The_verdict_is_printed_before_any_artefact_is_written()
    {
        var report = _dir.File("report.json");
        var r = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy), "--report", report);

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.True(r.Out.IndexOf("all held", StringComparison.Ordinal) < r.Out.IndexOf($"report: {report}", StringComparison.Ordinal), r.Out);
        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.True(json.GetProperty("drained").GetBoolean());
        Assert.False(json.GetProperty("interrupted").GetBoolean());
    }

    [Fact]
    public async Task Output_paths_are_checked_before_the_run_distinct_not_the_input_and_writable()
    {
        var scenario = _dir.Write("healthy.hocon", Scenarios.Healthy);
        var before = File.ReadAllText(scenario);
        var same = _dir.File("out.json");

        var cases = new List<(string[] Args, string Error)>
        {
            (["--report", same, "--trace", same], $"--trace {same}: is also --report's file: expected a file of its own"),
            (["--report", scenario], $"--report {scenario}: is also the scenario file"),
            (["--events", ""], "--events '': expected a file name"),
            (["--events", " "], "--events ' ': expected a file name"),
            (["--plot", _dir.Path], $"--plot {_dir.Path}: is a folder"),
            (["--report", _dir.File("nowhere/report.json")], "the folder"),
        };
        if (Linux) cases.Add((["--events", "/proc/fabric-events.jsonl"], "--events /proc/fabric-events.jsonl: cannot be written"));
        foreach (var (args, expected) in cases)
        {
            var r = await Cli.RunAsync(["run", scenario, .. args]);
            Assert.True(r.ExitCode == FabricCli.BadInput, string.Join(' ', args) + "\n" + r);
            Assert.Contains(expected, r.Err);
            Assert.DoesNotContain("injected", r.Out);   // refused before the run
        }
        Assert.Equal(before, File.ReadAllText(scenario));
        Assert.False(File.Exists(same));
    }

    [Fact]
    public async Task Check_refuses_a_shape_of_no_vms_vcpus_or_spis()
    {
        var log = _dir.Write("one.jsonl", """{"seq":1,"t":5,"ev":"inject","vm":0,"vpe":null,"intid":"spi:5","arg":"edge"}""" + "\n");

        foreach (var (vms, vcpus, spis, expected) in new[] { ("0", "1", "32", "--vms 0: expected 1..65536"), ("1", "0", "32", "--vcpus 0: expected 1..512"), ("1", "1", "33", "--spis 33: expected 32..1024") })
        {
            var r = await Cli.RunAsync("check", log, "--vms", vms, "--vcpus", vcpus, "--spis", spis);
            Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
            Assert.Contains(expected, r.Err);
        }
    }

    [Fact]
    public async Task Check_refuses_a_line_without_end_at_its_size_limit()
    {
        var huge = _dir.File("huge.jsonl");
        await using (var f = File.Create(huge)) f.SetLength(1L << 30);   // 1 GiB of NULs, no newline (sparse: costs nothing)

        var r = await Cli.RunAsync("check", huge);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains($"{huge}:1: a line longer than 1 MiB", r.Err);
    }

    [Fact]
    public async Task A_port_in_use_is_refused_before_the_cluster_starts_in_one_line()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;

        var r = await Cli.RunAsync("run", _dir.Write("healthy.hocon", Scenarios.Healthy), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Equal($"--port {port}: cannot listen on 127.0.0.1:{port}", r.Err.Split(" (")[0]);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void A_cluster_start_up_error_reads_as_one_line()
    {
        var bind = new AggregateException(new AggregateException(new AggregateException(
            new InvalidOperationException("Failed to bind to [127.0.0.1:4053]. See InnerException for details.",
                new System.Net.Sockets.SocketException(98)))));
        var join = new TimeoutException("could not join the cluster at akka.tcp://fabric@127.0.0.1:2551 within 30 s: is a node of system 'fabric' listening there?");

        var text = FabricCli.OneLine(bind);
        Assert.StartsWith("Failed to bind to [127.0.0.1:4053]: ", text);
        Assert.DoesNotContain("\n", text);
        Assert.DoesNotContain("One or more errors", text);
        Assert.Equal(join.Message, FabricCli.OneLine(join));
    }
}
