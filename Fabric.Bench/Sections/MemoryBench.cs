using System.Diagnostics;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Bench.Messaging;
using Fabric.Bench.Workloads;

namespace Fabric.Bench.Sections;

/// <summary>One memory measurement: managed heap bytes per VM after a full GC, and the time to build and boot them.</summary>
public sealed record MemoryResult(int Vms, double BytesPerVm, double BuildSeconds, long HeapBytes, double CreateSeconds);

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
        var clock = Stopwatch.StartNew();
        var rt = await FabricRuntime.BuildAsync(system, vms, Workloads.Workloads.EdgeStorm(wfi: true), log, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var created = clock.Elapsed.TotalSeconds;
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds - 0.1;   // the quiet period that proved quiescence is not build time
        Collect();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(rt);
        await system.Terminate().ConfigureAwait(false);
        return new MemoryResult(vms, (after - before) / (double)vms, seconds, after - before, created);
    }

    /// <summary>Where a VM's bytes go: the number of actors per VM (from the spec), the heap cost of one empty actor on
    /// this Akka (cell, mailbox, ref, path), and the hardware state one VM's actors own after boot (the IRS slice with
    /// 64 programmed SPIs, 4 CPU interfaces, the SPI AP list), measured with the reference model that holds the same.</summary>
    public static async Task<Reporting.MemoryBreakdown> BreakdownAsync()
    {
        const int n = 10_000;
        var spec = Workloads.Workloads.EdgeStorm(wfi: true);
        double emptyActor;
        using (var system = BenchSystems.Create("actors", countMessages: false))
        {
            Collect();
            var before = GC.GetTotalMemory(true);
            var refs = new Akka.Actor.IActorRef[n];
            for (var i = 0; i < n; i++) refs[i] = system.ActorOf(Akka.Actor.Props.Create(() => new Empty()));
            // Actor creation finishes asynchronously: wait until every one has started.
            while (Volatile.Read(ref Empty.Started) < n) await Task.Delay(10).ConfigureAwait(false);
            Collect();
            emptyActor = (GC.GetTotalMemory(true) - before) / (double)n;
            GC.KeepAlive(refs);
            Empty.Started = 0;
            await system.Terminate().ConfigureAwait(false);
        }
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
                    m.Guest(irs => irs.CdPriority(id, s.Priority));
                    m.Guest(irs => irs.CdAffinity(id, s.Affinity ?? k++ % spec.Vcpus));
                    m.Guest(irs => irs.CdEnable(id, true));
                }
        }
        Collect();
        var hardware = (GC.GetTotalMemory(true) - b) / (double)models.Length;
        GC.KeepAlive(models);
        // VmActor, virs, ap-list, scheduler, a vpe and a vcpu per vCPU, one actor per device.
        var actors = 4 + 2 * spec.Vcpus + spec.Devices.Count;
        return new Reporting.MemoryBreakdown { ActorsPerVm = actors, BytesPerEmptyActor = emptyActor, HardwareStateBytesPerVm = hardware };
    }

    private sealed class Empty : Akka.Actor.UntypedActor
    {
        public static int Started;

        protected override void PreStart() => Interlocked.Increment(ref Started);

        protected override void OnReceive(object message) { }
    }

    private static void Collect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }
}
