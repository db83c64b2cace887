using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;

namespace Fabric.Specs.Actors;

/// <summary>Runs a whole fabric inside a spec's actor system and checks every invariant from its event log.</summary>
public static class FabricHarness
{
    /// <summary>FABRIC_STRESS_SCALE multiplies the stress specs' VMs and injections for long local runs (default 1).</summary>
    public static int Scale => int.TryParse(Environment.GetEnvironmentVariable("FABRIC_STRESS_SCALE"), out var s) && s > 0 ? s : 1;

    /// <summary>FABRIC_STRESS_SEED replays a stress run; otherwise each run takes a fresh seed, printed on failure.</summary>
    public static long Seed => long.TryParse(Environment.GetEnvironmentVariable("FABRIC_STRESS_SEED"), out var s) ? s : Random.Shared.NextInt64(1, int.MaxValue);

    public sealed record Outcome(FabricRuntime Runtime, List<FabricEvent> Events, InvariantChecker Checker, IReadOnlyList<Violation> Violations, bool Quiesced)
    {
        public int Count(Ev ev) => Events.Count(e => e.Ev == ev);
        public string Describe() =>
            $"seed {Seed} (replay with FABRIC_STRESS_SEED={Seed}) quiesced={Quiesced} events={Events.Count} violations:\n" + string.Join("\n", Violations.Take(20));

        public long Seed { get; init; }
    }

    public static VmSpec EdgeStorm(int vcpus, int spis, FabricPolicies policies, long perDevice, double exitsPerSecond = 0, int window = 2) =>
        new(vcpus, spis, policies,
            [new InterruptSpec(new IntIdRange(IntIdType.Spi, 0, (uint)spis / 2 - 1), HandlingMode.Edge, 8, null, true),
             new InterruptSpec(new IntIdRange(IntIdType.Spi, (uint)spis / 2, (uint)spis - 1), HandlingMode.Level, 4, 0, true)],
            [new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, 0, (uint)spis / 2 - 1), Window: window),
             new DeviceSpec(DeviceKind.IrqfdResample, new IntIdRange(IntIdType.Spi, (uint)spis / 2, (uint)spis - 1), ServiceCount: 3)],
            new GuestSpec(TimeSpan.Zero), new VcpuSpec(exitsPerSecond, true), new HostSpec(), Seed, perDevice * Scale);

    /// <summary>Every path at once: edge and resampled level SPIs, IPIs (LPIs by CDPEND), a timer PPI, run-time
    /// reprogramming of in-flight interrupts, trap exits and host preemption.</summary>
    public static VmSpec Everything(FabricPolicies policies, long perDevice, long ipis) =>
        new(4, 64, policies,
            [new InterruptSpec(new IntIdRange(IntIdType.Spi, 0, 31), HandlingMode.Edge, 8, null, true),
             new InterruptSpec(new IntIdRange(IntIdType.Spi, 32, 47), HandlingMode.Level, 4, null, true),
             new InterruptSpec(new IntIdRange(IntIdType.Lpi, 8192, 8199), HandlingMode.Edge, 2, null, true),
             new InterruptSpec(new IntIdRange(IntIdType.Ppi, 27, 27), HandlingMode.Edge, 1, null, true)],
            [new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, 0, 31)),
             new DeviceSpec(DeviceKind.IrqfdResample, new IntIdRange(IntIdType.Spi, 32, 47), ServiceCount: 20),
             new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Ppi, 27, 27), Rate: 100)],
            // 100 a second each: what these storms always ran at (Akka's 10 ms tick capped the 300-500 they used to ask
            // for, before rates above one per tick were served several per tick).
            new GuestSpec(TimeSpan.Zero, 31, ReprogramPerSecond: 100, IpiPerSecond: 100, IpiBudget: ipis),
            new VcpuSpec(ExitsPerSecond: 100, WfiWhenIdle: true), new HostSpec(PreemptPerSecond: 100), Seed, perDevice * Scale);

    public static async Task<Outcome> RunAsync(ActorSystem system, int vms, VmSpec spec, TimeSpan? runFor = null, Action<FabricRuntime>? during = null)
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(system, vms, spec, log, name: "irs-" + Guid.NewGuid().ToString("N")[..8]);
        rt.StartDevices();
        during?.Invoke(rt);
        if (runFor is { } d) { await Task.Delay(d); rt.StopDevices(); }
        var quiesced = await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(30));
        var events = Drained(log);
        var checker = Checked(events, new FabricShape(vms, spec.Vcpus, spec.Spis), spec.Policies.Tracking == Fabric.Hardware.Kvm.TrackingPolicy.Push);
        return new Outcome(rt, events, checker, checker.Violations, quiesced) { Seed = spec.Seed };
    }

    /// <summary>Two VMs (2 vCPUs, edge and resampled level devices, exits) each moved <paramref name="moves"/> times at
    /// chosen times (every <paramref name="every"/> from 5 ms), so the run ends by itself and every total is exact:
    /// asserts that every invariant held across the moves, every resampled line was served its service count and every
    /// edge write of the budget was made (no notifier lost).</summary>
    public static async Task<Outcome> MovedStormServedToTheLastAsync(ActorSystem system, int moves, TimeSpan every, long perDevice)
    {
        var at = Enumerable.Range(0, moves).Select(i => TimeSpan.FromMilliseconds(5) + i * every).ToArray();
        var spec = EdgeStorm(vcpus: 2, spis: 64, FabricPolicies.Default, perDevice, exitsPerSecond: 300)
            with { Migration = new MigrationSpec(TimeSpan.Zero, at) };
        var run = await RunAsync(system, vms: 2, spec);
        Xunit.Assert.True(run.Quiesced, run.Describe());
        Xunit.Assert.True(run.Violations.Count == 0, run.Describe());
        Xunit.Assert.Equal(2 * moves, run.Checker.Migrations);
        Xunit.Assert.Equal(2 * 32 * 3, run.Checker.Resampled);
        Xunit.Assert.Equal(2 * (perDevice * Scale + 32 * 3), run.Checker.Injected);
        return run;
    }

    /// <summary>Every event logged so far, in seq order (causal order).</summary>
    public static List<FabricEvent> Drained(EventLog log)
    {
        var events = new List<FabricEvent>();
        log.Drain(events);
        events.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        return events;
    }

    /// <summary>Asserts that <paramref name="fabric"/> falls quiet (nothing logged for <paramref name="quiet"/>) within
    /// <paramref name="timeout"/>, then takes what it logged.</summary>
    public static async Task<List<FabricEvent>> SettleAsync(IFabric fabric, TimeSpan quiet, TimeSpan timeout)
    {
        Xunit.Assert.True(await fabric.AwaitQuiescenceAsync(quiet, timeout), "the fabric did not quiesce");
        return Drained(fabric.Log);
    }

    /// <summary>The checker after it has seen <paramref name="events"/> and finished (its <c>Violations</c> are final).</summary>
    public static InvariantChecker Checked(IEnumerable<FabricEvent> events, FabricShape shape, bool push = true)
    {
        var checker = new InvariantChecker(shape, push);
        foreach (var e in events) checker.Observe(e);
        checker.Finish();
        return checker;
    }
}
