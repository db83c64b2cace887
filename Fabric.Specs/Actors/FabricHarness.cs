using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;

namespace Fabric.Specs.Actors;

/// <summary>Runs a whole fabric inside a spec's actor system and checks every invariant from its event log.</summary>
public static class FabricHarness
{
    public sealed record Outcome(FabricRuntime Runtime, List<FabricEvent> Events, InvariantChecker Checker, IReadOnlyList<Violation> Violations, bool Quiesced)
    {
        public int Count(Ev ev) => Events.Count(e => e.Ev == ev);
        public string Describe() => $"quiesced={Quiesced} events={Events.Count} violations:\n" + string.Join("\n", Violations.Take(20));
    }

    public static VmSpec EdgeStorm(int vcpus, int spis, FabricPolicies policies, long perDevice, double exitsPerSecond = 0, int window = 2) =>
        new(vcpus, spis, policies,
            [new InterruptSpec(new IntIdRange(IntIdType.Spi, 0, (uint)spis / 2 - 1), HandlingMode.Edge, 8, null, true),
             new InterruptSpec(new IntIdRange(IntIdType.Spi, (uint)spis / 2, (uint)spis - 1), HandlingMode.Level, 4, 0, true)],
            [new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, 0, (uint)spis / 2 - 1), Window: window),
             new DeviceSpec(DeviceKind.IrqfdResample, new IntIdRange(IntIdType.Spi, (uint)spis / 2, (uint)spis - 1), ServiceCount: 3)],
            new GuestSpec(TimeSpan.Zero), new VcpuSpec(exitsPerSecond, true), new HostSpec(), 42, perDevice);

    public static async Task<Outcome> RunAsync(ActorSystem system, int vms, VmSpec spec, TimeSpan? runFor = null, Action<FabricRuntime>? during = null)
    {
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(system, vms, spec, log, name: "irs-" + Guid.NewGuid().ToString("N")[..8]);
        rt.StartDevices();
        during?.Invoke(rt);
        if (runFor is { } d) { await Task.Delay(d); rt.StopDevices(); }
        var quiesced = await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(30));
        var events = new List<FabricEvent>();
        log.Drain(events);
        events.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        var checker = new InvariantChecker(new FabricShape(vms, spec.Vcpus, spec.Spis), spec.Policies.Tracking == Fabric.Hardware.Kvm.TrackingPolicy.Push);
        foreach (var e in events) checker.Observe(e);
        return new Outcome(rt, events, checker, checker.Finish(), quiesced);
    }
}
