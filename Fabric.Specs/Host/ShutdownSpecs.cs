using Akka.Actor;
using Fabric.Host.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>
/// Stopping a run early (Ctrl-C and SIGTERM stop the host; CoordinatedShutdown may start first): injection stops, the
/// fabric drains while its actors are still alive, the report is printed, and the outcome is judged by the invariants.
/// </summary>
public sealed class ShutdownSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A long healthy run (it would inject for a minute) hosted as the CLI hosts it.</summary>
    private (IHost Host, FabricRun Run, StringWriter Out) Host()
    {
        var file = _dir.Write("long.hocon", Scenarios.Healthy.Replace("duration = 400ms", "duration = 60s", StringComparison.Ordinal)
            .Replace("injections = 3000", "injections = 100000000", StringComparison.Ordinal));
        var (host, run, output) = HostedRun.Create(file);
        return (host, run, output);
    }

    /// <summary>Starts the host, stops it (what Ctrl-C does through the console lifetime) 300 ms after the run began to
    /// inject or to run its steps, and returns the run's result.</summary>
    private static async Task<Fabric.Host.Scenarios.RunResult> StopWhileItRuns(IHost host, FabricRun run, TimeSpan reportWithin, int runForMs = 300)
    {
        using (host)
        {
            await host.StartAsync();
            await run.Injecting.WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Delay(TimeSpan.FromMilliseconds(runForMs));
            await host.StopAsync();
        }
        return await run.Completion.WaitAsync(reportWithin);
    }

    [Fact]
    public async Task Stopping_the_host_stops_injection_drains_and_reports_with_every_invariant_held()
    {
        var (host, run, output) = Host();
        var result = await StopWhileItRuns(host, run, TimeSpan.FromSeconds(30));

        Assert.True(result.Interrupted);
        Assert.True(result.Drained);
        Assert.Empty(result.Violations);
        Assert.True(result.Report.Acknowledged > 0);
        Assert.Contains("stopped early by a shutdown request; drained", output.ToString());
        Assert.Contains("all held", output.ToString());
    }

    [Fact]
    public async Task CoordinatedShutdown_waits_for_the_drain_before_the_actors_stop()
    {
        var (host, run, output) = Host();
        using (host)
        {
            await host.StartAsync();
            await run.Injecting.WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            var system = host.Services.GetRequiredService<ActorSystem>();
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
            Assert.True(run.Completion.IsCompleted, "CoordinatedShutdown finished before the run had drained and reported");
            await host.StopAsync();
        }
        var result = await run.Completion;

        Assert.True(result.Interrupted);
        Assert.True(result.Drained);
        Assert.Empty(result.Violations);
        Assert.Contains("all held", output.ToString());
    }

    [Theory]
    [InlineData("threaded")]
    [InlineData("deterministic")]
    public async Task Stopping_the_host_stops_a_directed_run_between_two_steps_and_reports(string schedule)
    {
        // Tens of thousands of steps, each settling the fabric: far longer than the moment the host is stopped (12,000
        // steps took under a second with the PE actor and a warm JIT, on either schedule).
        var steps = string.Join("\n", Enumerable.Repeat("""
                { line = "spi:3", level = high }
                { guest = handle }
            """, 30000));
        var file = _dir.Write("steps.hocon", $$"""
            fabric.scenario {
              name = "long-directed"
              schedule = {{schedule}}
              vms = 1
              vcpus-per-vm = 1
              spis-per-vm = 32
              interrupts = [ { intids = "spi:3", mode = edge, priority = 8, affinity = 0, enabled = true } ]
              devices = []
              steps = [
            {{steps}}
              ]
            }
            """);
        var (host, run, output) = HostedRun.Create(file);
        // Half a second of steps before the stop: on a loaded machine 300 ms once passed before the first step did.
        var result = await StopWhileItRuns(host, run, TimeSpan.FromSeconds(60), runForMs: 500);

        var directed = Assert.IsType<Fabric.Host.Scenarios.Steps.DirectedOutcome>(result.Directed);
        Assert.True(directed.Stopped);
        Assert.True(result.Interrupted);
        Assert.Null(directed.Failure);
        Assert.Contains(directed.Steps, r => r.Status == Fabric.Host.Scenarios.Steps.StepStatus.Passed);
        Assert.Contains(directed.Steps, r => r.Status == Fabric.Host.Scenarios.Steps.StepStatus.NotRun);
        Assert.Empty(result.Violations);
        Assert.Contains("stopped by a shutdown request before", output.ToString());
        Assert.Contains("stopped early by a shutdown request", output.ToString());
        Assert.Equal(schedule == "deterministic", output.ToString().Contains("schedule deterministic (seed", StringComparison.Ordinal));
    }
}
