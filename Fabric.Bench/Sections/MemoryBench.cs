using Fabric.Hardware.Protocol;
using System.Diagnostics;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Bench.Messaging;
using Fabric.Bench.Workloads;

namespace Fabric.Bench.Sections;

/// <summary>One memory measurement: managed heap bytes per VM after a full GC, and the time to build and boot them, with
/// the GC's pauses during the build (<paramref name="GcPauseSeconds"/>) and its collections of each generation.</summary>
public sealed record MemoryResult(int Vms, double BytesPerVm, double BuildSeconds, long HeapBytes, double CreateSeconds,
    double GcPauseSeconds, int Gen0, int Gen1, int Gen2);

/// <summary>
/// (f) Builds N VMs of the storm workload (4 vCPUs, 64 SPIs, one irqfd; devices not started) in a fresh actor system
/// with Akka's own mailbox (no counting) and a non-recording event log, and measures the managed heap growth after a
/// full, compacting GC. The build time runs from the first CreateVm to the end of every guest's boot (quiescence).
/// </summary>
public static class MemoryBench
{
    public static async Task<MemoryResult> RunAsync(int vms)
    {
        Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var system = BenchSystems.Create("memory", countMessages: false, "akka.coordinated-shutdown.phases.actor-system-terminate.timeout = 120s");
        var log = EventLog.Off();
        var (pause0, g0, g1, g2) = (GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var clock = Stopwatch.StartNew();
        var rt = await FabricRuntime.BuildAsync(system, vms, Workloads.Workloads.EdgeStorm(wfi: true), log, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var created = clock.Elapsed.TotalSeconds;
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds - 0.1;   // the quiet period that proved quiescence is not build time
        var (pause, n0, n1, n2) = (GC.GetTotalPauseDuration() - pause0, GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2);
        Collect();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(rt);
        await system.Terminate().ConfigureAwait(false);
        return new MemoryResult(vms, (after - before) / (double)vms, seconds, after - before, created, pause.TotalSeconds, n0 - n1, n1 - n2, n2);
    }

    /// <summary>Where a VM's bytes go: the number of actors per VM (from the spec), the heap cost of one empty actor on
    /// this Akka (cell, mailbox, ref, path), and the hardware state one VM's actors own after boot (the IRS slice with
    /// 64 programmed SPIs, 4 CPU interfaces, the SPI AP list), measured with the reference model that holds the same.</summary>
    public static async Task<Reporting.MemoryBreakdown> BreakdownAsync()
    {
        var spec = Workloads.Workloads.EdgeStorm(wfi: true);
        var emptyActor = await EmptyActorBytesAsync(null, timers: false).ConfigureAwait(false);
        var akkaMailbox = await EmptyActorBytesAsync("akka.actor.default-mailbox.mailbox-type = \"Akka.Dispatch.UnboundedMailbox\"", timers: false).ConfigureAwait(false);
        var withTimers = await EmptyActorBytesAsync(null, timers: true).ConfigureAwait(false);
        Collect();
        var b = GC.GetTotalMemory(true);
        var models = new Fabric.Hardware.Reference.VmModel[2000];
        for (var i = 0; i < models.Length; i++)
        {
            var m = models[i] = new Fabric.Hardware.Reference.VmModel(i, new Fabric.Hardware.Irs.VirtualIrsConfig(spec.Spis, spec.Vcpus), spec.Policies);
            var k = 0;
            foreach (var s in spec.Interrupts)
                foreach (var id in s.Ids.All())
                {
                    m.ConfigureSpi(id.Id, s.Mode);
                    m.Guest(new IrsProtocol.CdPriority(id, s.Priority));
                    m.Guest(new IrsProtocol.CdAffinity(id, s.Affinity ?? k++ % spec.Vcpus));
                    m.Guest(new IrsProtocol.CdEnable(id, true));
                }
        }
        Collect();
        var hardware = (GC.GetTotalMemory(true) - b) / (double)models.Length;
        GC.KeepAlive(models);
        // VmActor, virs, ap-list, scheduler, a PE per vCPU (its VPE and its guest in one actor), one actor per device;
        // only the VmActor has Akka's timers (IWithTimers); the units' actors make their own on the first timer started
        // (ActorTimers), so an idle VM's PEs, devices and scheduler carry none.
        var actors = 4 + spec.Vcpus + spec.Devices.Count;
        return new Reporting.MemoryBreakdown
        {
            ActorsPerVm = actors, BytesPerEmptyActor = emptyActor, HardwareStateBytesPerVm = hardware,
            BytesPerEmptyActorAkkaMailbox = akkaMailbox, TimerSchedulersPerVm = 1,
            BytesPerTimerScheduler = withTimers - emptyActor,
        };
    }

    /// <summary>The heap cost of one started, empty actor (10,000 of them, one shared Props) on the bench's settings —
    /// the fabric's mailbox unless <paramref name="hocon"/> says otherwise — with or without Akka's timers.</summary>
    private static async Task<double> EmptyActorBytesAsync(string? hocon, bool timers)
    {
        const int n = 10_000;
        using var system = BenchSystems.Create("actors", countMessages: false, hocon);
        var props = timers ? Akka.Actor.Props.Create(() => new EmptyWithTimers()) : Akka.Actor.Props.Create(() => new Empty());
        Collect();
        var before = GC.GetTotalMemory(true);
        var refs = new Akka.Actor.IActorRef[n];
        for (var i = 0; i < n; i++) refs[i] = system.ActorOf(props);
        // Actor creation finishes asynchronously: wait until every one has started.
        while (Volatile.Read(ref Empty.Started) < n) await Task.Delay(10).ConfigureAwait(false);
        Collect();
        var bytes = (GC.GetTotalMemory(true) - before) / (double)n;
        GC.KeepAlive(refs);
        Empty.Started = 0;
        await system.Terminate().ConfigureAwait(false);
        return bytes;
    }

    private sealed class Empty : Akka.Actor.UntypedActor
    {
        public static int Started;

        protected override void PreStart() => Interlocked.Increment(ref Started);

        protected override void OnReceive(object message) { }
    }

    private sealed class EmptyWithTimers : Akka.Actor.UntypedActor, Akka.Actor.IWithTimers
    {
        public Akka.Actor.ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart() => Interlocked.Increment(ref Empty.Started);

        protected override void OnReceive(object message) { }
    }

    private static void Collect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }
}
