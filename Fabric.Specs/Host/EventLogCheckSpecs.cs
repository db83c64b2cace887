using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.Host.Cli;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// The event log of DESIGN.md §5 and <c>check</c>: a real run's log passes the same checker the run used; a hand-corrupted
/// log fails it (exit 1), naming what broke; a malformed line is bad input (exit 2) with its line number.
/// </summary>
public sealed class EventLogCheckSpecs(RunArtefacts runs) : IClassFixture<RunArtefacts>
{
    private static readonly Regex Line = new(
        """^\{"seq":[1-9][0-9]*,"t":[0-9]+,"ev":"(inject|coalesce|pend|unpend|offer|doorbell|resident|nonresident|ack|eoi|deactivate|track|untrack|notify|resample|enable|disable|priority|affinity|exit|migrate)","vm":[0-9]+,"vpe":(null|[0-9]+),"intid":(null|"(spi|lpi|ppi):[0-9]+")(,"arg":"[^"]*")?\}$""");

    private string[] Log => File.ReadAllLines(runs.Events);

    private string Corrupt(string name, Func<List<string>, List<string>> change) =>
        runs.Folder.Write(name, string.Join("\n", change(Log.ToList())) + "\n");

    [Fact]
    public void Every_line_is_one_event_with_the_keys_in_DESIGNs_order()
    {
        var lines = Log;

        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(Line, l));
        var seqs = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToArray();
        Assert.Equal(Enumerable.Range(1, seqs.Length).Select(i => (long)i), seqs);   // every seq, in order
    }

    [Fact]
    public async Task Check_passes_a_real_runs_log_with_the_runs_own_counts()
    {
        var r = await Cli.RunAsync("check", runs.Events, "--vms", "2", "--vcpus", "2", "--spis", "32");
        var report = JsonDocument.Parse(File.ReadAllText(runs.Report)).RootElement;

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Contains("all held", r.Out);
        foreach (var (row, key) in new[] { ("injected", "injected"), ("acknowledged", "acknowledged"), ("notified", "notified"), ("doorbells", "doorbells") })
            Assert.Matches($@"│ {row}\s+│\s+{report.GetProperty(key).GetInt64():N0} │", r.Out);
    }

    [Fact]
    public async Task Check_passes_a_fold_runs_log_checked_as_fold()
    {
        Assert.True(runs.FoldRun.ExitCode == FabricCli.Ok, runs.FoldRun.ToString());
        Assert.Contains("--tracking fold", runs.FoldRun.Out);   // the run prints the check command to use

        var r = await Cli.RunAsync("check", runs.FoldEvents, "--tracking", "fold");

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
    }

    [Fact]
    public async Task Check_accepts_migrate_events_and_counts_them_as_migrations()
    {
        // Fabric's extension of the log: one "migrate" per live move of a VM, vpe and intid null, arg free.
        var lines = Log.ToList();
        var t = JsonDocument.Parse(lines[^1]).RootElement.GetProperty("t").GetInt64();
        lines.Add($$"""{"seq":{{lines.Count + 1}},"t":{{t + 1}},"ev":"migrate","vm":1,"vpe":null,"intid":null,"arg":"bytes=812 us=1500"}""");
        lines.Add($$"""{"seq":{{lines.Count + 1}},"t":{{t + 2}},"ev":"migrate","vm":0,"vpe":null,"intid":null}""");
        var file = runs.Folder.Write("migrated.jsonl", string.Join("\n", lines) + "\n");

        var r = await Cli.RunAsync("check", file, "--vms", "2", "--vcpus", "2", "--spis", "32");

        Assert.True(r.ExitCode == FabricCli.Ok, r.ToString());
        Assert.Matches(@"│ migrations\s+│\s+2 │", r.Out);
        Assert.Contains("all held", r.Out);
    }

    [Fact]
    public async Task A_deleted_notify_line_fails_I2()
    {
        var file = Corrupt("no-notify.jsonl", lines =>
        {
            var i = lines.FindIndex(l => l.Contains("\"ev\":\"notify\"", StringComparison.Ordinal));
            lines.RemoveAt(i);
            return lines;
        });

        var r = await Cli.RunAsync("check", file);

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I2\s+│", r.Out);
        Assert.Contains("never notified", r.Out);
    }

    [Fact]
    public async Task A_duplicated_ack_line_fails()
    {
        var file = Corrupt("two-acks.jsonl", lines =>
        {
            var i = lines.FindIndex(l => l.Contains("\"ev\":\"ack\"", StringComparison.Ordinal));
            lines.Insert(i + 1, lines[i]);
            return lines;
        });

        var r = await Cli.RunAsync("check", file);

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I8\s+│.*out of order", r.Out);           // the same seq twice
        Assert.Matches(@"│ I6\s+│.*acknowledged while not pending", r.Out);   // acknowledged again while active
    }

    [Fact]
    public async Task A_deleted_doorbell_line_fails_I7()
    {
        var file = Corrupt("no-doorbell.jsonl", lines =>
        {
            var i = lines.FindIndex(l => l.Contains("\"ev\":\"doorbell\"", StringComparison.Ordinal));
            lines.RemoveAt(i);
            return lines;
        });

        var r = await Cli.RunAsync("check", file);

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I7\s+│.*missed doorbell", r.Out);
    }

    [Fact]
    public async Task An_event_for_a_vm_outside_the_shape_fails_I8()
    {
        var file = Corrupt("stray-vm.jsonl", lines =>
        {
            lines.Add(lines[^1].Replace("\"vm\":0,", "\"vm\":7,", StringComparison.Ordinal).Replace("\"vm\":1,", "\"vm\":7,", StringComparison.Ordinal)
                .Replace($"\"seq\":{lines.Count},", $"\"seq\":{lines.Count + 1},", StringComparison.Ordinal));
            return lines;
        });

        var r = await Cli.RunAsync("check", file, "--vms", "2", "--vcpus", "2", "--spis", "32");

        Assert.True(r.ExitCode == FabricCli.Violated, r.ToString());
        Assert.Matches(@"│ I8\s+│ 7 .*VM 7 is outside 0..1", r.Out);
    }

    public static TheoryData<string, string, string> Malformed => new()
    {
        { "not-json", "this is not json", "not valid JSON" },
        { "not-an-object", "[1, 2, 3]", "expected a JSON object" },
        { "unknown-key", """{"seq":1,"t":1,"ev":"exit","vm":0,"vpe":0,"intid":null,"extra":1}""", "unknown key \"extra\"" },
        { "missing-key", """{"seq":1,"t":1,"ev":"exit","vm":0,"intid":null}""", "missing \"vpe\"" },
        { "unknown-event", """{"seq":1,"t":1,"ev":"explode","vm":0,"vpe":0,"intid":null}""", "\"ev\": expected one of inject" },
        { "bad-intid", """{"seq":1,"t":1,"ev":"pend","vm":0,"vpe":0,"intid":"spi:x"}""", "\"intid\":" },
        { "string-number", """{"seq":"1","t":1,"ev":"exit","vm":0,"vpe":0,"intid":null}""", "\"seq\": expected an integer" },
        { "ack-without-intid", """{"seq":1,"t":1,"ev":"ack","vm":0,"vpe":0,"intid":null}""", "\"ack\" needs an \"intid\"" },
        { "priority-without-value", """{"seq":1,"t":1,"ev":"priority","vm":0,"vpe":null,"intid":"spi:1","arg":"high"}""", "\"priority\" needs \"arg\"" },
        { "migrate-without-vm", """{"seq":1,"t":1,"ev":"migrate","vpe":null,"intid":null,"arg":"bytes=1 us=1"}""", "missing \"vm\"" },
        { "migrate-with-free-text", """{"seq":1,"t":1,"ev":"migrate","vm":0,"vpe":null,"intid":null,"arg":"moved to node 2"}""", "\"migrate\": \"arg\" is words" },
        { "two-objects", """{"seq":1,"t":1,"ev":"exit","vm":0,"vpe":0,"intid":null} {"seq":2}""", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_line_is_bad_input_naming_its_line_number(string name, string line, string expected)
    {
        // Two good lines, then the bad one: the error names line 3.
        var good = Log.Take(2);
        var file = runs.Folder.Write(name + ".jsonl", string.Join("\n", good.Append(line)) + "\n");

        var r = await Cli.RunAsync("check", file);

        Assert.True(r.ExitCode == FabricCli.BadInput, r.ToString());
        Assert.Contains($"{file}:3: ", r.Err);
        Assert.Contains(expected, r.Err);
    }

    [Fact]
    public async Task An_empty_or_missing_log_is_bad_input()
    {
        var empty = await Cli.RunAsync("check", runs.Folder.Write("empty.jsonl", "\n\n"));
        var missing = await Cli.RunAsync("check", runs.Folder.File("missing.jsonl"));
        var halfShape = await Cli.RunAsync("check", runs.Events, "--vms", "2");

        Assert.Equal(FabricCli.BadInput, empty.ExitCode);
        Assert.Contains("no events", empty.Err);
        Assert.Equal(FabricCli.BadInput, missing.ExitCode);
        Assert.Contains("no such file", missing.Err);
        Assert.Equal(FabricCli.BadInput, halfShape.ExitCode);
        Assert.Contains("--vms, --vcpus and --spis go together", halfShape.Err);
    }
}
