namespace Fabric.Bench.Baseline;

/// <summary>
/// How many more threads this process can start. On Linux each .NET thread takes four memory mappings (its stack and
/// guard page, the runtime's alternate signal stack and its guard), and a process may hold vm.max_map_count mappings
/// (65530 by default): about 16,000 threads. A baseline run that needs more is skipped and says why, rather than
/// crashing the run.
/// </summary>
public static class ThreadBudget
{
    public const int MappingsPerThread = 4;
    private const int Margin = 4096;

    public static int Available()
    {
        try
        {
            var max = long.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var used = File.ReadLines("/proc/self/maps").LongCount();
            return (int)Math.Max(0, (max - used - Margin) / MappingsPerThread);
        }
        catch (IOException) { return int.MaxValue; }
        catch (UnauthorizedAccessException) { return int.MaxValue; }
    }

    public static string Shortfall(int needed) =>
        $"needs {needed} threads; vm.max_map_count allows about {Available()} more in this process ({MappingsPerThread} mappings per thread) — raise it (sysctl vm.max_map_count) to run it";
}
