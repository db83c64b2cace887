using Fabric.Actors.Vm;

namespace Fabric.Host.Scenarios;

/// <summary>A validated scenario: the VMs to build, when to stop, and where it came from (for the replay command).
/// <paramref name="File"/> is null for the embedded default scenario; <paramref name="Sets"/> are the <c>--set</c>
/// overrides it was loaded with.</summary>
public sealed record Scenario(
    string Name,
    long Seed,
    int Vms,
    VmSpec Vm,
    long StopAfterInjections,
    TimeSpan StopAfterDuration,
    string? File,
    IReadOnlyList<string>? Sets = null)
{
    /// <summary>How long the drain may take after injection stops before the run is declared not drained
    /// (<c>stop-after.drain-timeout</c>).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int TotalVcpus => Vms * Vm.Vcpus;

    /// <summary>The command that runs this scenario again with the same seed, hence the same injection schedule.</summary>
    public string ReplayCommand
    {
        get
        {
            var cmd = "dotnet run --project Fabric.Host --" + (File is null ? "" : " run " + Quote(File)) + $" --seed {Seed}";
            foreach (var s in Sets ?? []) cmd += " --set " + Quote(s);
            return cmd;
        }
    }

    private static string Quote(string s) => s.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '`' or '[' or '{' or '*')
        ? "'" + s.Replace("'", "'\\''") + "'"
        : s;
}

/// <summary>Bad input: names the file, the HOCON path and what was expected. Exit code 2.</summary>
public sealed class ScenarioException(IReadOnlyList<string> errors) : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
