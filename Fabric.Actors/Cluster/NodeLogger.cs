using System.Globalization;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Fabric.Actors.Cluster;

/// <summary>
/// Akka's log for a cluster's nodes, for tools whose stdout carries something else (the host's report, the bench's
/// tables): one line per event on stderr, the cause's type and message with it, no stack. Configured as
/// <c>akka.loggers = ["<see cref="TypeName"/>"]</c>. A node that leaves or crashes makes its peers' remoting log its
/// disassociation as an error; that is the leave or the crash that was asked for, not a fault, so it is not written —
/// nor is anything while <see cref="Muted"/> (a tool tearing a whole cluster down at once).
/// </summary>
public sealed class NodeLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public const string TypeName = "Fabric.Actors.Cluster.NodeLogger, Fabric.Actors";

    private static volatile bool s_muted;

    /// <summary>Observation only: nothing reads it but this logger.</summary>
    public static bool Muted
    {
        get => s_muted;
        set => s_muted = value;
    }

    public NodeLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Muted || Expected(e), _ => { });
        Receive<LogEvent>(e => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{e.Timestamp.ToLocalTime():HH:mm:ss.fff} {Level(e.LogLevel())}: {e.LogSource}: {FirstLine(e.Message?.ToString())}") +
            (e.Cause is { } cause ? $" ({cause.GetType().Name}: {FirstLine(cause.Message)})" : "")));
    }

    private static bool Expected(LogEvent e) => e.Cause?.GetType().FullName == "Akka.Remote.EndpointDisassociatedException";

    private static string FirstLine(string? text) => (text ?? "").Split('\n', 2)[0].TrimEnd();

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "dbug",
        LogLevel.InfoLevel => "info",
        LogLevel.WarningLevel => "warn",
        _ => "fail",
    };
}
