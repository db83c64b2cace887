using Fabric.Hardware.Observation;
using System.Diagnostics;

namespace Fabric.Actors.Observation;

/// <summary>Quiescence as the event log shows it: nothing logged anywhere for a while. Off every hot path.</summary>
public static class Quiescence
{
    /// <summary>Waits until <paramref name="log"/> has been still for <paramref name="quiet"/>; false on timeout.
    /// Stillness is counted only over polls that woke on time: a poll that overslept (a GC pause, a starved thread pool)
    /// saw a process that stood still as a whole, not a fabric with nothing left to do, so it starts the count again.</summary>
    public static async Task<bool> AwaitAsync(EventLog log, TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(quiet.TotalMilliseconds / 4, 5, 100));
        var clock = Stopwatch.StartNew();
        var last = log.LastSeq;
        var since = clock.Elapsed;
        while (clock.Elapsed < timeout)
        {
            var before = clock.Elapsed;
            await Task.Delay(poll, ct).ConfigureAwait(false);
            var woke = clock.Elapsed;
            var now = log.LastSeq;
            if (now != last || woke - before > 2 * poll + TimeSpan.FromMilliseconds(50)) { last = now; since = woke; continue; }
            if (woke - since >= quiet) return true;
        }
        return false;
    }
}
