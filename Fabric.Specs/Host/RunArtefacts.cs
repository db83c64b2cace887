namespace Fabric.Specs.Host;

/// <summary>One healthy run that writes every artefact (report, event log, trace, plot), shared by the specs that read them;
/// and one failing run's report.</summary>
public sealed class RunArtefacts : IDisposable
{
    private readonly TempFolder _dir = new();

    public RunArtefacts()
    {
        Scenario = _dir.Write("healthy.hocon", Scenarios.Healthy);
        Report = _dir.File("report.json");
        Events = _dir.File("events.jsonl");
        Trace = _dir.File("trace.json");
        Plot = _dir.File("plot.png");
        Run = Cli.RunAsync("run", Scenario, "--report", Report, "--events", Events, "--trace", Trace, "--plot", Plot).GetAwaiter().GetResult();
        FailingReport = _dir.File("failing.json");
        Failing = Cli.RunAsync("run", _dir.Write("failing.hocon", Scenarios.MissedDoorbell), "--report", FailingReport).GetAwaiter().GetResult();
        FoldEvents = _dir.File("fold.jsonl");
        FoldRun = Cli.RunAsync("run", _dir.Write("fold.hocon", Scenarios.HealthyFold), "--events", FoldEvents).GetAwaiter().GetResult();
    }

    public string Scenario { get; }
    public string Report { get; }
    public string Events { get; }
    public string Trace { get; }
    public string Plot { get; }
    public Cli.Outcome Run { get; }
    public string FailingReport { get; }
    public Cli.Outcome Failing { get; }
    public string FoldEvents { get; }
    public Cli.Outcome FoldRun { get; }

    public TempFolder Folder => _dir;

    public void Dispose() => _dir.Dispose();
}
