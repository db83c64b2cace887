using Fabric.Actors.Observation;

namespace Fabric.Host.Reporting;

/// <summary>
/// An artefact written while the run goes (the event log, the trace), guarded: a write that fails (a full disk,
/// <c>/dev/full</c>, a file removed under it) stops that artefact and is remembered as <see cref="Failure"/>; the run,
/// its checks and its verdict go on. Closed once (<see cref="Dispose"/>), and a failure to close is a failure too.
/// </summary>
public sealed class ArtefactSink<T>(string option, string path, T inner) : IEventSink, IDisposable where T : IEventSink, IDisposable
{
    private bool _closed;

    public T Inner { get; } = inner;

    /// <summary>"--events FILE: could not be written (why)", or null.</summary>
    public string? Failure { get; private set; }

    public void Observe(in FabricEvent e)
    {
        if (Failure is not null || _closed) return;
        try { Inner.Observe(e); }
        catch (Exception ex) when (IsWriteFailure(ex)) { Failure = Describe(option, path, ex); }
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        try { Inner.Dispose(); }
        catch (Exception ex) when (IsWriteFailure(ex)) { Failure ??= Describe(option, path, ex); }
    }

    /// <summary>What writing a file throws when the file, not the program, is at fault.</summary>
    public static bool IsWriteFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or ObjectDisposedException;

    public static string Describe(string option, string path, Exception ex) => $"{option} {path}: could not be written ({ex.Message.Trim()})";
}
