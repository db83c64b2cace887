using HdrHistogram;
using ScottPlot;

namespace Fabric.Host.Reporting;

/// <summary>
/// Draws a run into one PNG (ScottPlot): on top the distribution of trigger-to-acknowledge latency (a histogram over
/// log-spaced bins, p50 / p99 / p99.9 marked), below the throughput over time (acknowledges per 100 ms, as a rate).
/// </summary>
public static class PlotWriter
{
    public const int Width = 1100, Height = 900;

    public static void Write(string path, string title, ReportBuilder b)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        Latency(multiplot.GetPlot(0), title, b.Latency);
        Throughput(multiplot.GetPlot(1), b.AcksPerBin);
        multiplot.SavePng(path, Width, Height);
    }

    /// <summary>A histogram over log-spaced bins (ten per decade): storms have long tails, and a linear axis would
    /// squeeze the body of the distribution into one bar.</summary>
    private static void Latency(Plot plot, string title, LongHistogram h)
    {
        plot.Title($"{title}: trigger → acknowledge latency ({h.TotalCount:N0} interrupts, log scale)");
        plot.XLabel("latency");
        plot.YLabel("interrupts");
        if (h.TotalCount == 0) return;
        const int perDecade = 10;
        var lo = Math.Floor(Math.Log10(Math.Max(h.GetValueAtPercentile(0) / 1000.0, 0.01)));
        var hi = Math.Max(Math.Ceiling(Math.Log10(Math.Max(h.GetMaxValue() / 1000.0, 0.01))), lo + 1);
        var bins = (int)((hi - lo) * perDecade);
        var counts = new double[bins];
        foreach (var v in h.RecordedValues())
        {
            var micros = Math.Max(h.MedianEquivalentValue(v.ValueIteratedTo) / 1000.0, 0.01);
            var bin = (int)((Math.Log10(micros) - lo) * perDecade);
            counts[Math.Clamp(bin, 0, bins - 1)] += v.CountAtValueIteratedTo;
        }
        var xs = Enumerable.Range(0, bins).Select(i => lo + (i + 0.5) / perDecade).ToArray();
        var bars = plot.Add.Bars(xs, counts);
        foreach (var bar in bars.Bars) bar.Size = 0.9 / perDecade;
        bars.Color = Colors.SteelBlue;
        foreach (var (pct, color) in new[] { (50.0, Colors.DarkGreen), (99.0, Colors.DarkOrange), (99.9, Colors.DarkRed) })
        {
            var micros = h.GetValueAtPercentile(pct) / 1000.0;
            var line = plot.Add.VerticalLine(Math.Log10(Math.Max(micros, 0.01)), 2, color);
            line.LegendText = $"p{pct:0.#} {Duration(micros)}";
        }
        var decades = Enumerable.Range(0, (int)(hi - lo) + 1).Select(d => lo + d).ToArray();
        plot.Axes.Bottom.SetTicks(decades, decades.Select(d => Duration(Math.Pow(10, d))).ToArray());
        plot.Axes.SetLimitsX(lo, hi);
        plot.Axes.Margins(bottom: 0);
        var max = plot.Add.VerticalLine(Math.Log10(Math.Max(h.GetMaxValue() / 1000.0, 0.01)), 1, Colors.Black);
        max.LinePattern = LinePattern.Dashed;
        max.LegendText = $"max {Duration(h.GetMaxValue() / 1000.0)}";
        plot.ShowLegend(Alignment.UpperRight);
    }

    /// <summary>A latency in the unit that reads best: 850 ns, 12 µs, 3.4 ms, 1.2 s.</summary>
    private static string Duration(double micros) => micros switch
    {
        < 1 => $"{micros * 1000:0.#} ns",
        < 1000 => $"{micros:0.#} µs",
        < 1_000_000 => $"{micros / 1000:0.#} ms",
        _ => $"{micros / 1_000_000:0.##} s",
    };

    private static void Throughput(Plot plot, IReadOnlyList<int> acksPerBin)
    {
        plot.Title("throughput: acknowledged interrupts per second (100 ms bins)");
        plot.XLabel("time since the first injection (s)");
        plot.YLabel("acknowledged / s");
        if (acksPerBin.Count == 0) return;
        var secondsPerBin = ReportBuilder.BinNanos / 1e9;
        var xs = Enumerable.Range(0, acksPerBin.Count).Select(i => (i + 1) * secondsPerBin).ToArray();
        var ys = acksPerBin.Select(n => n / secondsPerBin).ToArray();
        var line = plot.Add.Scatter(xs, ys);
        line.MarkerSize = 0;
        line.LineWidth = 2;
        line.Color = Colors.SteelBlue;
        plot.Axes.SetLimitsY(0, Math.Max(ys.Max() * 1.1, 1));
    }
}
