using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Fabric.Bench.Messaging;

/// <summary>Akka's log of the bench's cluster nodes, on stderr with the progress lines, one line an event: stdout holds
/// only the tables.
/// <see cref="Muted"/> while the bench tears a cluster down (its nodes stop at once and report each other gone).</summary>
public sealed class StderrLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private static volatile bool s_muted;

    public static bool Muted
    {
        get => s_muted;
        set => s_muted = value;
    }

    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            // One line an event: the cause's stack trace, if any, is not wanted among the progress lines.
            if (!Muted) Console.Error.WriteLine("  akka: " + e.ToString().Split('\n', 2)[0].TrimEnd());
        });
    }
}
