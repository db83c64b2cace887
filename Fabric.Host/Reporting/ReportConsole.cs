using System.Globalization;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Fabric.Host.Reporting;

/// <summary>The report as tables on stdout (Spectre.Console; plain text when stdout is not a terminal).</summary>
public static class ReportConsole
{
    private const int ShownViolations = 20;

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
    private static string F(double d, string format = "F1") => d.ToString(format, CultureInfo.InvariantCulture);

    public static void Print(IAnsiConsole console, RunReport r, IReadOnlyList<Violation> violations, string? notes)
    {
        var counters = Counters(
            ("injected", r.Injected), ("coalesced", r.Coalesced), ("acknowledged", r.Acknowledged), ("deactivated", r.Deactivated),
            ("notified", r.Notified), ("resampled", r.Resampled), ("doorbells", r.Doorbells), ("residency changes", r.ResidencyChanges),
            ("exits", r.Exits), ("migrations", r.Migrations), ("nodes", r.Nodes));
        // node:VMs for each node up at the end ("0:6 1:6" after node 2 left).
        counters.AddRow("VMs per node", string.Join(" ", r.VmsPerNode.Select(kv => $"{kv.Key}:{N(kv.Value)}")));
        foreach (var (name, value) in new[] { ("handoffs", r.Handoffs), ("lost VMs", r.LostVms), ("pending at end", r.PendingAtEnd), ("AP list at end", r.ApListAtEnd) })
            counters.AddRow(name, N(value));
        counters.AddRow("elapsed", F(r.ElapsedSeconds, "F2") + " s");
        counters.AddRow("throughput", N((long)r.ThroughputPerSecond) + " acks/s");
        console.Write(new Columns(counters, Latencies(("trigger → ack", r.LatencyMicros), ("deactivate → notify", r.NotifyLatencyMicros))).Collapse());
        if (notes is not null) console.MarkupLine($"[grey]{Markup.Escape(notes)}[/]");
        Verdict(console, violations);
        if (violations.Count > 0)
        {
            console.MarkupLine($"seed [bold]{r.Seed}[/]; replay (the same seed gives the same injection schedule):");
            console.WriteLine("  " + r.Replay);
        }
    }

    /// <summary>What <c>check</c> prints: the log's counters and latencies, then the verdict.</summary>
    public static void PrintCheck(IAnsiConsole console, string file, InvariantChecker c, ReportBuilder b, IReadOnlyList<Violation> violations)
    {
        console.MarkupLine($"[bold]{Markup.Escape(file)}[/]: {N(c.Events)} events");
        var counters = Counters(
            ("injected", c.Injected), ("coalesced", c.Coalesced), ("acknowledged", c.Acknowledged), ("deactivated", c.Deactivated),
            ("notified", c.Notified), ("resampled", c.Resampled), ("doorbells", c.Doorbells), ("residency changes", c.ResidencyChanges),
            ("migrations", c.Migrations), ("handoffs", b.Handoffs), ("lost VMs", c.LostVms), ("pending at end", c.PendingNow),
            ("AP list at end", c.TrackedNow));
        console.Write(new Columns(counters,
            Latencies(("trigger → ack", ReportBuilder.Summarise(b.Latency)), ("deactivate → notify", ReportBuilder.Summarise(b.NotifyLatency)))).Collapse());
        Verdict(console, violations);
    }

    private static Table Counters(params (string Name, long Value)[] rows)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("counter").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in rows) t.AddRow(name, N(value));
        return t;
    }

    private static Table Latencies(params (string Name, LatencySummary S)[] rows)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("latency (µs)");
        foreach (var c in new[] { "p50", "p90", "p99", "p99.9", "max", "samples" }) t.AddColumn(new TableColumn(c).RightAligned());
        foreach (var (name, s) in rows) t.AddRow(name, F(s.P50), F(s.P90), F(s.P99), F(s.P999), F(s.Max), N(s.Count));
        return t;
    }

    private static void Verdict(IAnsiConsole console, IReadOnlyList<Violation> violations)
    {
        if (violations.Count == 0)
        {
            console.MarkupLine($"invariants {string.Join(" ", InvariantChecker.All)}: [green]all held[/]");
            return;
        }
        var byInvariant = violations.GroupBy(v => v.Invariant).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}");
        console.MarkupLine($"[red]{violations.Count} violation(s)[/]: {string.Join(", ", byInvariant)}");
        var t = new Table().Border(TableBorder.Rounded).AddColumns("invariant", "vm", "vpe", "intid", "what");
        // A few of each kind, in invariant order, so that no kind hides behind another's many rows.
        var perKind = Math.Max(2, ShownViolations / Math.Max(1, violations.Select(v => v.Invariant).Distinct().Count()));
        var shown = violations.GroupBy(v => v.Invariant).OrderBy(g => g.Key, StringComparer.Ordinal).SelectMany(g => g.Take(perKind)).Take(ShownViolations).ToList();
        foreach (var v in shown)
            t.AddRow(new IRenderable[]
            {
                new Text(v.Invariant), new Text(v.Vm.ToString(CultureInfo.InvariantCulture)), new Text(v.Vpe?.ToString(CultureInfo.InvariantCulture) ?? "-"),
                new Text(v.IntId?.ToString() ?? "-"), new Text(v.Message),
            });
        console.Write(t);
        if (violations.Count > shown.Count) console.WriteLine($"  ... and {violations.Count - shown.Count} more (all of them in --report)");
    }
}
