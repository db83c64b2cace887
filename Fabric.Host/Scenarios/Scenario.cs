using Fabric.Actors.Vm;

namespace Fabric.Host.Scenarios;

/// <summary>A validated scenario: the VMs to build and when to stop.</summary>
public sealed record Scenario(string Name, long Seed, int Vms, VmSpec Vm, long StopAfterInjections, TimeSpan StopAfterDuration, string? File);

/// <summary>Bad input: names the file, the HOCON path and what was expected. Exit code 2.</summary>
public sealed class ScenarioException(IReadOnlyList<string> errors) : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
