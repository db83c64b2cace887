using Fabric.Hardware.Protocol;
using System.Diagnostics;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Bench.Messaging;
using Fabric.Hardware.Interrupts;

namespace Fabric.Bench.Sections;

public sealed record LatencyResult(int Vms, double OfferedPerSecond, double AchievedPerSecond, Percentiles Latency, bool Drained);

/// <summary>
/// (e) Open loop: the storm's VMs (push tracking, WFI on) with no device; a paced driver thread writes edges at a fixed
/// total rate — half the closed-loop throughput measured for the same VMs — round-robin over every SPI of every VM,
/// in 1 ms batches, exactly as an irqfd does (log the injection, tell the AP list kvm_set_irq). The event log records;
/// each SPI's latency runs from its first injection not yet acknowledged to the guest's acknowledge (CDIA), so a
/// coalesced injection counts from the earliest one.
/// </summary>
public static class OpenLoopLatency
{
    public static async Task<LatencyResult> RunAsync(int vms, double ratePerSecond, TimeSpan warmup, TimeSpan measure)
    {
        var spec = Workloads.Workloads.Quiet(wfi: true);
        var log = new EventLog(record: true, count: true);
        using var system = BenchSystems.Create("open-loop", countMessages: false);
        var rt = await FabricRuntime.BuildAsync(system, vms, spec, log).ConfigureAwait(false);
        await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)).ConfigureAwait(false);

        var histogram = new HdrHistogram.LongHistogram(60_000_000_000L, 3);
        var first = new long[vms * spec.Spis];
        var firstSeq = new long[vms * spec.Spis];
        Array.Fill(first, -1);
        var recordAfterSeq = long.MaxValue;
        var sequencer = new EventSequencer();
        var batch = new List<FabricEvent>(1 << 16);
        void Pump()
        {
            batch.Clear();
            log.Drain(batch);
            foreach (var e in batch) sequencer.Add(e);
            sequencer.Release(e =>
            {
                if (e.IntId is not { IsSpi: true } id) return;
                var k = e.Vm * spec.Spis + (int)id.Id;
                if (e.Ev == Ev.Inject) { if (first[k] < 0) (first[k], firstSeq[k]) = (e.T, e.Seq); }
                else if (e.Ev == Ev.Ack && first[k] >= 0)
                {
                    if (firstSeq[k] > recordAfterSeq) histogram.RecordValue(e.T - first[k]);
                    first[k] = -1;
                }
            });
        }

        var stop = false;
        long sent = 0;
        var driver = new Thread(() =>
        {
            var clock = Stopwatch.StartNew();
            var spis = spec.Spis;
            var total = (long)vms * spis;
            long next = 0;
            while (!Volatile.Read(ref stop))
            {
                var due = (long)(clock.Elapsed.TotalSeconds * ratePerSecond);
                for (; sent < due; sent++, next++)
                {
                    var slot = next % total;
                    var (vm, spi) = ((int)(slot / spis), (uint)(slot % spis));
                    log.Log(Ev.Inject, vm, null, IntId.Spi(spi), "edge");
                    rt.Vms[vm].ApList.Tell(new ApListProtocol.SetIrq(spi, true), Akka.Actor.ActorRefs.NoSender);
                }
                Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "open-loop-driver" };
        var clockAll = Stopwatch.StartNew();
        driver.Start();
        while (clockAll.Elapsed < warmup) { await Task.Delay(10).ConfigureAwait(false); Pump(); }
        // Record only the latencies of injections made from here on.
        recordAfterSeq = log.LastSeq;
        var a0 = log.Count(Ev.Ack);
        var t0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(t0) < measure) { await Task.Delay(10).ConfigureAwait(false); Pump(); }
        var achieved = (log.Count(Ev.Ack) - a0) / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        Volatile.Write(ref stop, true);
        driver.Join();
        var drained = await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        Pump();
        await system.Terminate().ConfigureAwait(false);
        return new LatencyResult(vms, ratePerSecond, achieved, Contention.Of(histogram, nanosPerUnit: 1), drained);
    }
}
