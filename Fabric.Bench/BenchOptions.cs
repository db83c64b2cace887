namespace Fabric.Bench;

/// <summary>The command line: <c>[--quick] [--json FILE] [--only SECTIONS] [--micro [BenchmarkDotNet args]]</c>.</summary>
public sealed record BenchOptions(bool Quick, string? JsonPath, IReadOnlySet<string> Sections, bool Micro, string[] MicroArgs)
{
    public static readonly string[] AllSections = ["raw", "storm", "contention", "latency", "memory", "cluster"];

    public const string Usage =
        "usage: dotnet run -c Release --project Fabric.Bench -- [--quick] [--json FILE] [--only raw,storm,contention,latency,memory,cluster]\n" +
        "       dotnet run -c Release --project Fabric.Bench -- --micro [BenchmarkDotNet arguments, e.g. --filter *Iste*]";

    public bool Runs(string section) => Sections.Contains(section);

    /// <summary>Sizes and durations: --quick keeps the whole run under two minutes on two cores.</summary>
    public TimeSpan Warmup => Quick ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(1);
    public TimeSpan Measure => Quick ? TimeSpan.FromMilliseconds(800) : TimeSpan.FromSeconds(3);
    public int[] StormVms => [1, 16, 256, 4096];
    /// <summary>The memory section's fabric sizes. The full run's largest is the most VMs one IRS can hold
    /// (<see cref="Fabric.Hardware.Kvm.VmLimits.MaxVms"/>: a 16-bit VM_ID, 65,536), which the issue's 100k exceeds: the IRS
    /// refuses VM_ID 65536.</summary>
    public int[] MemoryVms => Quick ? [10_000] : [10_000, Fabric.Hardware.Kvm.VmLimits.MaxVms];
    /// <summary>The cluster section: VMs of the throughput runs (local and sharded), nodes, local moves, VMs of the leave.</summary>
    public int ClusterVms => 48;
    public int ClusterNodes => 3;
    public int LocalMoves => Quick ? 24 : 48;
    public int LeaveVms => 24;

    public static BenchOptions? Parse(string[] args, TextWriter error)
    {
        var quick = false;
        string? json = null;
        var sections = new HashSet<string>(AllSections);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--json" when i + 1 < args.Length:
                    json = args[++i];
                    break;
                case "--only" when i + 1 < args.Length:
                    sections = new HashSet<string>(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    if (sections.FirstOrDefault(s => !AllSections.Contains(s)) is { } bad)
                    {
                        error.WriteLine($"--only: unknown section '{bad}' (sections: {string.Join(", ", AllSections)})");
                        return null;
                    }
                    break;
                case "--micro":
                    return new BenchOptions(quick, json, sections, true, args[(i + 1)..]);
                case "-h" or "--help":
                    error.WriteLine(Usage);
                    return null;
                default:
                    error.WriteLine($"unknown or incomplete argument '{args[i]}'\n{Usage}");
                    return null;
            }
        }
        return new BenchOptions(quick, json, sections, false, []);
    }
}
