namespace Fabric.Actors.Observation;

/// <summary>Quiescence as the event log shows it: nothing logged anywhere for a while. Off every hot path.</summary>
public static class Quiescence
{
    /// <summary>Waits until <paramref name="log"/> has been still for <paramref name="quiet"/>; false on timeout.</summary>
    public static async Task<bool> AwaitAsync(EventLog log, TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var deadline = DateTime.UtcNow + timeout;
        var last = log.LastSeq;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(quiet.TotalMilliseconds / 4, 5, 100)), ct).ConfigureAwait(false);
            var now = log.LastSeq;
            if (now != last) { last = now; since = DateTime.UtcNow; continue; }
            if (DateTime.UtcNow - since >= quiet) return true;
        }
        return false;
    }
}
