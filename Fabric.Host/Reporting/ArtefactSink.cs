using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;

namespace Fabric.Host.Reporting;

/// <summary>
/// An artefact written while the run goes (the event log, the trace), guarded: a write that fails (a full disk,
/// <c>/dev/full</c>, a file removed under it) stops that artefact and is remembered as <see cref="Failure"/>; the run,
/// its checks and its verdict go on. Closed once (<see cref="Dispose"/>), and a failure to close is a failure too.
/// </summary>
public sealed class ArtefactSink<T> : IEventSink, IDisposable where T : class, IEventSink, IDisposable
{
    private readonly string _option, _path;
    private bool _closed;

    /// <summary>Opens the artefact with <paramref name="open"/>; a file that cannot be opened (removed, or its
    /// permissions changed, after the pre-run check) is a <see cref="Failure"/> like a failed write, not the run's end.</summary>
    public ArtefactSink(string option, string path, Func<T> open)
    {
        (_option, _path) = (option, path);
        try { Inner = open(); }
        catch (Exception ex) when (IsWriteFailure(ex)) { Failure = Describe(option, path, ex); }
    }

    /// <summary>The writer; null when it could not be opened (then <see cref="Failure"/> says why).</summary>
    public T? Inner { get; }

    /// <summary>"--events FILE: could not be written (why)", or null.</summary>
    public string? Failure { get; private set; }

    public void Observe(in FabricEvent e)
    {
        if (Failure is not null || _closed || Inner is null) return;
        try { Inner.Observe(e); }
        catch (Exception ex) when (IsWriteFailure(ex)) { Failure = Describe(_option, _path, ex); }
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        try { Inner?.Dispose(); }
        catch (Exception ex) when (IsWriteFailure(ex)) { Failure ??= Describe(_option, _path, ex); }
    }

    /// <summary>What writing a file throws when the file, not the program, is at fault.</summary>
    public static bool IsWriteFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or ObjectDisposedException;

    public static string Describe(string option, string path, Exception ex) => $"{option} {path}: could not be written ({ex.Message.Trim()})";
}
