using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Fabric.Host.Hosting;

/// <summary>Wires Fabric into a Generic Host: the actor system through Akka.Hosting (configured from the scenario's
/// merged HOCON, logging through ILogger), and the service that performs the run.</summary>
public static class FabricHostingExtensions
{
    public const string ActorSystemName = "fabric";

    public static HostApplicationBuilder AddFabric(this HostApplicationBuilder builder, FabricRun run)
    {
        builder.Services.AddSingleton(run);
        builder.Services.AddAkka(ActorSystemName, akka => akka.AddHocon(run.Config, HoconAddMode.Replace));
        builder.Services.AddHostedService<FabricRunService>();
        return builder;
    }

    /// <summary>A console service's host, started fast: no configuration sources, logging to stderr (stdout carries the
    /// report), no lifetime banner; Ctrl-C and SIGTERM stop it gracefully, with time to drain.</summary>
    public static HostApplicationBuilder CreateBuilder(LogLevel level)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "Fabric" });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(level);
        // A host that cannot start is reported by the CLI in one line (exit 2); not again with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));
        return builder;
    }
}
