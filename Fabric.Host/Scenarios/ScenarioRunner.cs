using Stopwatch = System.Diagnostics.Stopwatch;
using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;

namespace Fabric.Host.Scenarios;

/// <summary>The outcome of a run: counters from the checked event stream and every violation.</summary>
public sealed record RunResult(Scenario Scenario, InvariantChecker Checker, IReadOnlyList<Violation> Violations, double ElapsedSeconds, bool Drained);

/// <summary>Builds the fabric for a scenario, drives it until stop-after, drains, and checks I1–I8 from the event
/// stream as it flows (the events are consumed in seq order while the run goes on).</summary>
public static class ScenarioRunner
{
    public static async Task<RunResult> RunAsync(Scenario s, Akka.Configuration.Config config, TextWriter output, CancellationToken ct)
    {
        var log = new EventLog();
        using var system = ActorSystem.Create("fabric", config);
        var checker = new InvariantChecker(new FabricShape(s.Vms, s.Vm.Vcpus, s.Vm.Spis), s.Vm.Policies.Tracking == Fabric.Hardware.Kvm.TrackingPolicy.Push);
        var pump = new EventPump(log, e => checker.Observe(e));

        var clock = Stopwatch.StartNew();
        var rt = await FabricRuntime.BuildAsync(system, s.Vms, s.Vm, log).ConfigureAwait(false);
        output.WriteLine($"{s.Name}: {s.Vms} VMs x {s.Vm.Vcpus} vCPUs, {s.Vm.Spis} SPIs, tracking {s.Vm.Policies.Tracking}, seed {s.Seed}");
        rt.StartDevices();
        var stopAt = clock.Elapsed + s.StopAfterDuration;
        var nextProgress = TimeSpan.FromSeconds(1);
        while (clock.Elapsed < stopAt && checker.Injected < s.StopAfterInjections && !ct.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
            pump.Pump();
            if (clock.Elapsed >= nextProgress)
            {
                output.WriteLine($"  {clock.Elapsed.TotalSeconds,5:F1}s  injected {checker.Injected,10}  acked {checker.Acknowledged,10}  doorbells {checker.Doorbells,8}  notified {checker.Notified,10}");
                nextProgress += TimeSpan.FromSeconds(1);
            }
        }
        rt.StopDevices();
        var drained = await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        pump.PumpAll();
        var violations = checker.Finish();
        await system.Terminate().ConfigureAwait(false);

        output.WriteLine($"  injected {checker.Injected}  coalesced {checker.Coalesced}  acknowledged {checker.Acknowledged}  deactivated {checker.Deactivated}  notified {checker.Notified}");
        output.WriteLine($"  resampled {checker.Resampled}  doorbells {checker.Doorbells}  residency changes {checker.ResidencyChanges}  pending at end {checker.PendingNow}  AP list at end {checker.TrackedNow}");
        output.WriteLine($"  {elapsed:F2}s, {checker.Acknowledged / Math.Max(elapsed, 1e-9):F0} acknowledged/s{(drained ? "" : "  (did not drain)")}");
        if (violations.Count == 0) output.WriteLine($"  invariants {string.Join(" ", InvariantChecker.All)}: all held");
        else
        {
            foreach (var v in violations.Take(20)) output.WriteLine("  " + v);
            output.WriteLine($"  {violations.Count} violation(s); seed {s.Seed}; replay: dotnet run --project Fabric.Host -- run {s.File ?? "<default>"} --seed {s.Seed}");
        }
        return new RunResult(s, checker, violations, elapsed, drained);
    }
}
