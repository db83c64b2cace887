using System.Globalization;
using Spectre.Console;

namespace Fabric.Host.Reporting;

/// <summary>A run's live numbers, taken on the pump thread and handed to the progress view whole.
/// <paramref name="Migrations"/>: the VMs' live moves so far (shown only by a view created for a scenario that
/// migrates).</summary>
public sealed record ProgressSnapshot(TimeSpan Elapsed, string Phase, long Injected, long Acknowledged, long Doorbells, long InFlight, double RatePerSecond,
    long Migrations = 0);

/// <summary>Shows a run's progress: a live Spectre.Console table on a terminal, plain lines otherwise (CI, a pipe, a
/// file). Nothing appears for a run shorter than a second. With <c>migrations</c>, a scenario that moves VMs, the count
/// of moves is shown too.</summary>
public abstract class ProgressView : IAsyncDisposable
{
    public static readonly TimeSpan ShowAfter = TimeSpan.FromSeconds(1);

    /// <param name="console">Where progress is shown.</param>
    /// <param name="live">A live table (a terminal), or plain lines once a second.</param>
    /// <param name="migrations">Whether the count of moves is shown.</param>
    /// <param name="design">The KVM design that runs (<c>ap-list</c> or <c>merged</c>), shown on every line; null: not shown.</param>
    public static ProgressView Create(IAnsiConsole console, bool live, bool migrations = false, string? design = null) =>
        live ? new LiveProgress(console, migrations, design) : new PlainProgress(console, migrations, design);

    public abstract void Update(ProgressSnapshot s);

    public abstract ValueTask DisposeAsync();

    internal static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>One line per second of run time.</summary>
    private sealed class PlainProgress(IAnsiConsole console, bool migrations, string? design) : ProgressView
    {
        private TimeSpan _next = ShowAfter;
        private string _phase = "";

        public override void Update(ProgressSnapshot s)
        {
            if (s.Elapsed < _next && s.Phase == _phase) return;
            if (s.Elapsed < ShowAfter) return;
            _next = s.Elapsed + TimeSpan.FromSeconds(1);
            _phase = s.Phase;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {s.Elapsed.TotalSeconds,5:F1}s  {s.Phase,-9}{(design is null ? "" : " kvm " + design)}  injected {N(s.Injected),11}  acked {N(s.Acknowledged),11}  doorbells {N(s.Doorbells),9}  in flight {N(s.InFlight),6}  {N((long)s.RatePerSecond),9} acks/s") +
                (migrations ? $"  migrations {N(s.Migrations),5}" : ""));
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A Spectre live table, redrawn ten times a second from the latest snapshot on a thread of its own (a
    /// storm keeps every core busy); cleared at the end (the report follows).</summary>
    private sealed class LiveProgress(IAnsiConsole console, bool migrations, string? design) : ProgressView
    {
        private ProgressSnapshot? _latest;
        private Task? _display;
        private readonly CancellationTokenSource _done = new();

        public override void Update(ProgressSnapshot s)
        {
            Volatile.Write(ref _latest, s);
            if (_display is null && s.Elapsed >= ShowAfter)
                _display = Task.Factory.StartNew(Show, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        private void Show()
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("elapsed", "phase", "injected", "acked", "doorbells", "in flight", "acks/s");
            if (migrations) table.AddColumn("migrations");
            foreach (var c in table.Columns.Skip(2)) c.RightAligned();
            table.AddRow(table.Columns.Select(_ => "").ToArray());
            console.Live(table).AutoClear(true).Overflow(VerticalOverflow.Ellipsis).Start(ctx =>
            {
                while (true)
                {
                    if (Volatile.Read(ref _latest) is { } s)
                    {
                        table.UpdateCell(0, 0, $"{s.Elapsed.TotalSeconds:F1}s");
                        table.UpdateCell(0, 1, design is null ? s.Phase : $"{s.Phase} (kvm {design})");
                        table.UpdateCell(0, 2, N(s.Injected));
                        table.UpdateCell(0, 3, N(s.Acknowledged));
                        table.UpdateCell(0, 4, N(s.Doorbells));
                        table.UpdateCell(0, 5, N(s.InFlight));
                        table.UpdateCell(0, 6, N((long)s.RatePerSecond));
                        if (migrations) table.UpdateCell(0, 7, N(s.Migrations));
                        ctx.Refresh();
                    }
                    if (_done.Token.WaitHandle.WaitOne(100)) return;
                }
            });
        }

        public override async ValueTask DisposeAsync()
        {
            await _done.CancelAsync().ConfigureAwait(false);
            if (_display is not null) await _display.ConfigureAwait(false);
            _done.Dispose();
        }
    }
}
