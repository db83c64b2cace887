using Akka.Configuration;
using Fabric.Host.Scenarios;
using Spectre.Console;

namespace Fabric.Host.Hosting;

/// <summary>One run the host performs: the scenario, its merged HOCON (Akka's settings come from it too), where the
/// artefacts go, the console it reports to — and, once done, its result.</summary>
public sealed class FabricRun(Scenario scenario, Config config, RunOptions options, IAnsiConsole console)
{
    private readonly TaskCompletionSource<RunResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Scenario Scenario { get; } = scenario;
    public Config Config { get; } = config;
    public RunOptions Options { get; } = options;
    public IAnsiConsole Console { get; } = console;

    /// <summary>Completes once the devices inject: the VMs are built and running.</summary>
    public Task Injecting => _injecting.Task;
    private readonly TaskCompletionSource _injecting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    internal void InjectionStarted() => _injecting.TrySetResult();

    /// <summary>Completes when the run has drained and reported (or failed).</summary>
    public Task<RunResult> Completion => _done.Task;

    internal void Complete(RunResult result) => _done.TrySetResult(result);
    internal void Fail(Exception ex) => _done.TrySetException(ex);
}
