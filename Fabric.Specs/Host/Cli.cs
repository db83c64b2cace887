using Fabric.Host.Cli;
using Fabric.Host.Hosting;
using Fabric.Host.Scenarios;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Fabric.Specs.Host;

/// <summary>Runs the CLI in-process, as <c>dotnet run --project Fabric.Host -- args</c> would, capturing its output.</summary>
public static class Cli
{
    public sealed record Outcome(int ExitCode, string Out, string Err)
    {
        public string All => Out + Err;
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    public static async Task<Outcome> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FabricCli.RunAsync(args, stdout, stderr);
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>A run hosted as the CLI hosts it (a Generic Host with the fabric's service), for specs that stop the host
/// themselves or read the <see cref="FabricRun"/>'s result; its console writes to <see cref="Out"/>, 200 columns wide.</summary>
public sealed record HostedRun(IHost Host, FabricRun Run, StringWriter Out)
{
    public static HostedRun Create(string scenarioFile, RunOptions? options = null)
    {
        var (scenario, config) = ScenarioLoader.Load(scenarioFile);
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
        console.Profile.Width = 200;
        var run = new FabricRun(scenario, config, options ?? new RunOptions(), console);
        var builder = FabricHostingExtensions.CreateBuilder(LogLevel.Warning);
        builder.AddFabric(run);
        return new HostedRun(builder.Build(), run, output);
    }
}

/// <summary>A folder of scenario files and artefacts for one spec class, removed afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("fabric-specs-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        var file = File(name);
        System.IO.File.WriteAllText(file, text);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Short scenarios for the host specs: well under a second of injection each.</summary>
public static class Scenarios
{
    /// <summary>Edge and resampled level SPIs on 2 VMs x 2 vCPUs, with exits and preemption: every invariant holds.</summary>
    public const string Healthy = """
        fabric.scenario {
          name = "spec-healthy"
          seed = 3
          vms = 2
          vcpus-per-vm = 2
          spis-per-vm = 32
          stop-after { injections = 3000, duration = 400ms, drain-timeout = 10s }
          interrupts = [
            { intids = "spi:0-7",  mode = edge,  priority = 8, affinity = round-robin, enabled = true }
            { intids = "spi:8-11", mode = level, priority = 4, affinity = round-robin, enabled = true }
          ]
          devices = [
            { kind = irqfd, intids = "spi:0-7", rate = 0 }
            { kind = irqfd-resample, intids = "spi:8-11", service-count = 20 }
          ]
          guest { reprogram-per-second = 0, ipi-per-second = 0 }
          vcpu { exits-per-second = 50 }
          host { preempt-per-second = 20 }
        }
        """;

    /// <summary>The same under the seed's fold tracking (v1-v3).</summary>
    public static string HealthyFold => Healthy.Replace("seed = 3", "seed = 3\n  tracking = fold", StringComparison.Ordinal);

    /// <summary>DBPM compared strictly, every interrupt at priority 31 under PCR 31: the sleeping vCPU is never woken (I7).</summary>
    public const string MissedDoorbell = """
        fabric.scenario {
          name = "spec-missed-doorbell"
          seed = 5
          vms = 1
          vcpus-per-vm = 1
          spis-per-vm = 32
          stop-after { injections = 1000, duration = 300ms, drain-timeout = 10s }
          interrupts = [ { intids = "spi:0-3", mode = edge, priority = 31, affinity = 0, enabled = true } ]
          devices = [ { kind = irqfd, intids = "spi:0-3", rate = 50 } ]
          guest { priority-mask = 31, reprogram-per-second = 0, ipi-per-second = 0 }
          vcpu { exits-per-second = 0, wfi-when-idle = true }
          host { preempt-per-second = 0 }
          policies { dbpm = strict }
        }
        """;

    /// <summary>IPIs only, between two running vCPUs: each vCPU's targets come from its seeded random stream.
    /// The run ends on its budget (2 vCPUs x 20 IPIs), not on the clock, so a slow machine still sends them all.</summary>
    public const string Ipis = """
        fabric.scenario {
          name = "spec-ipis"
          seed = 11
          vms = 1
          vcpus-per-vm = 2
          spis-per-vm = 32
          stop-after { injections = 40, duration = 30s, drain-timeout = 10s }
          interrupts = [ { intids = "lpi:8192-8207", mode = edge, priority = 2, affinity = round-robin, enabled = true } ]
          devices = []
          guest { reprogram-per-second = 0, ipi-per-second = 100, ipis = 20 }
          vcpu { exits-per-second = 0, wfi-when-idle = false }
          host { preempt-per-second = 0 }
        }
        """;
}
