using Akka;
using Akka.Actor;
using Fabric.Host.Scenarios;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fabric.Host.Hosting;

/// <summary>
/// Performs the <see cref="FabricRun"/> in the host's actor system, then stops the host. A shutdown request stops the
/// injections first and lets the run drain and report: the host's stop (Ctrl-C, SIGTERM) cancels the stopping token,
/// and the actor system's CoordinatedShutdown waits in its first phase (before-service-unbind) for the same drain, so
/// whichever starts the shutdown, the fabric is still alive while it drains.
/// </summary>
public sealed class FabricRunService(FabricRun run, ActorSystem system, IHostApplicationLifetime lifetime, ILogger<FabricRunService> logger)
    : BackgroundService
{
    private readonly CancellationTokenSource _stopInjecting = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var onStop = stoppingToken.Register(() => _stopInjecting.Cancel());
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "fabric-stop-injecting-and-drain", async () =>
        {
            if (!run.Completion.IsCompleted)
            {
                logger.LogInformation("CoordinatedShutdown: stopping injection and draining before the actors stop");
                await _stopInjecting.CancelAsync().ConfigureAwait(false);
                await ((Task)run.Completion).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
            return Done.Instance;
        });
        try
        {
            var runner = new ScenarioRunner(run.Scenario, run.Options, run.Console, logger, run.Config, run.InjectionStarted);
            run.Complete(await runner.RunAsync(system, _stopInjecting.Token).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            // The CLI reports the failure in one line; the exception and its stack are for -v.
            logger.LogInformation(ex, "The run failed");
            run.Fail(ex);
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _stopInjecting.Dispose();
    }
}
