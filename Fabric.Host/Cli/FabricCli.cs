using System.CommandLine;
using Fabric.Host.Scenarios;

namespace Fabric.Host.Cli;

/// <summary>The CLI of DESIGN.md §5: no arguments runs the default scenario; run, validate. Exit 0 / 1 / 2.</summary>
public static class FabricCli
{
    public const int Ok = 0, Violated = 1, BadInput = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var scenarioArg = new Argument<string>("scenario") { Description = "A HOCON scenario file, merged over akka.hocon" };
        var seedOpt = new Option<long?>("--seed") { Description = "Override the scenario's seed" };

        var run = new Command("run", "Run a scenario and check every invariant") { scenarioArg, seedOpt };
        run.SetAction((pr, ct) => RunScenarioAsync(pr.GetValue(scenarioArg), pr.GetValue(seedOpt), ct));

        var validateArg = new Argument<string>("scenario") { Description = "A HOCON scenario file" };
        var validate = new Command("validate", "Parse and check a scenario only") { validateArg };
        validate.SetAction(pr => Validate(pr.GetValue(validateArg)!));

        var root = new RootCommand("Fabric: the GICv5 virtual interrupt fabric as actors") { run, validate };
        root.SetAction((pr, ct) => RunScenarioAsync(null, null, ct));
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    private static int Validate(string file)
    {
        try
        {
            var (s, _) = ScenarioLoader.Load(file);
            Console.WriteLine($"{file}: valid ({s.Name}: {s.Vms} VMs x {s.Vm.Vcpus} vCPUs, {s.Vm.Spis} SPIs, tracking {s.Vm.Policies.Tracking})");
            return Ok;
        }
        catch (ScenarioException ex)
        {
            foreach (var e in ex.Errors) Console.Error.WriteLine(e);
            return BadInput;
        }
    }

    private static async Task<int> RunScenarioAsync(string? file, long? seed, CancellationToken ct)
    {
        Scenario scenario;
        Akka.Configuration.Config config;
        try { (scenario, config) = ScenarioLoader.Load(file, seed); }
        catch (ScenarioException ex)
        {
            foreach (var e in ex.Errors) Console.Error.WriteLine(e);
            return BadInput;
        }
        var result = await ScenarioRunner.RunAsync(scenario, config, Console.Out, ct).ConfigureAwait(false);
        return result.Violations.Count == 0 ? Ok : Violated;
    }
}
