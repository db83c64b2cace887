using System.Globalization;
using Akka.Actor;
using Akka.Event;

namespace Fabric.Host.Hosting;

/// <summary>
/// Akka's log for the actor systems the host starts outside Akka.Hosting (the nodes of a clustered run): one line per
/// event on stderr, as the host's own logging writes, so that stdout carries only the progress and the report.
/// Configured as <c>akka.loggers</c> of those systems. A node that leaves or crashes makes its peers' remoting log its
/// disassociation as an error with a stack trace; that is the leave or the crash the scenario asked for, not a fault,
/// so it is not written.
/// </summary>
public sealed class StderrLogger : ReceiveActor
{
    public const string TypeName = "Fabric.Host.Hosting.StderrLogger, Fabric.Host";

    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Expected, _ => { });
        Receive<LogEvent>(e => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{e.Timestamp.ToLocalTime():HH:mm:ss.fff} {Level(e.LogLevel())}: {e.LogSource}: {e.Message}") +
            (e.Cause is { } cause ? Environment.NewLine + cause : "")));
    }

    private static bool Expected(LogEvent e) => e.Cause?.GetType().FullName == "Akka.Remote.EndpointDisassociatedException";

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "dbug",
        LogLevel.InfoLevel => "info",
        LogLevel.WarningLevel => "warn",
        _ => "fail",
    };
}
