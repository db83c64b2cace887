namespace Fabric.Bench.Raw;

/// <summary>One process-wide counter every ping-pong message increments when asked to: the cost of a shared atomic
/// per message (as the event log's sequence counter is per logged event), measured against the plain ping-pong.</summary>
public static class SharedAtomic
{
    private static long s_counter;
    public static volatile bool Enabled;

    public static void Touch()
    {
        if (Enabled) Interlocked.Increment(ref s_counter);
    }
}
