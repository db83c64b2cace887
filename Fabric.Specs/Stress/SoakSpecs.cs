using Fabric.Hardware.Protocol;
using Stopwatch = System.Diagnostics.Stopwatch;
using Akka.TestKit.Xunit2;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Specs.Actors;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Specs.Stress;

/// <summary>Runs only when FABRIC_SOAK is set (to the minutes to run, e.g. FABRIC_SOAK=10).</summary>
public sealed class SoakFactAttribute : FactAttribute
{
    public SoakFactAttribute()
    {
        if (!double.TryParse(Environment.GetEnvironmentVariable("FABRIC_SOAK"), System.Globalization.CultureInfo.InvariantCulture, out _))
            Skip = "soak: set FABRIC_SOAK=<minutes> to run (e.g. FABRIC_SOAK=10)";
    }
}

public class SoakSpecs(ITestOutputHelper output) : TestKit(Config)
{
    /// <summary>The fabric gets its own threads (one per core), so that the checker's pump is not starved by them.</summary>
    private const string Config = """
        akka.loglevel = ERROR
        akka.stdout-loglevel = OFF
        akka.actor.default-dispatcher {
          executor = fork-join-executor
          fork-join-executor { parallelism-min = 2, parallelism-factor = 1.0, parallelism-max = 2 }
        }
        """;

    [SoakFact]
    public async Task A_long_storm_over_every_path_keeps_every_invariant_and_its_memory_does_not_grow()
    {
        var minutes = double.Parse(Environment.GetEnvironmentVariable("FABRIC_SOAK")!, System.Globalization.CultureInfo.InvariantCulture);
        // Every path, at fixed rates (an open loop), so that the run is a steady state whose memory can be compared.
        var spec = FabricHarness.Everything(FabricPolicies.Default, perDevice: long.MaxValue, ipis: long.MaxValue) with
        {
            Devices =
            [
                new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("spi:0-31"), Rate: 50),
                new DeviceSpec(DeviceKind.IrqfdResample, IntIdRange.Parse("spi:32-47"), ServiceCount: int.MaxValue),
                new DeviceSpec(DeviceKind.Irqfd, IntIdRange.Parse("ppi:3"), Rate: 100),
            ],
            Guest = new GuestSpec(TimeSpan.Zero, 31, ReprogramPerSecond: 20, IpiPerSecond: 50),
            Vcpu = new VcpuSpec(ExitsPerSecond: 100),
            Host = new HostSpec(PreemptPerSecond: 20),
        };
        var log = new EventLog();
        var rt = await FabricRuntime.BuildAsync(Sys, 8, spec, log);
        var checker = new InvariantChecker(new FabricShape(8, spec.Vcpus, spec.Spis));
        var pump = new EventPump(log, e => checker.Observe(e));

        rt.StartDevices();
        var clock = Stopwatch.StartNew();
        var samples = new List<(double Minutes, long Bytes, long Acks)>();
        var next = TimeSpan.Zero;
        while (clock.Elapsed < TimeSpan.FromMinutes(minutes))
        {
            await Task.Delay(50);
            pump.Pump(1 << 18);
            if (clock.Elapsed < next) continue;
            next += TimeSpan.FromSeconds(10);
            GC.Collect();
            var bytes = GC.GetTotalMemory(forceFullCollection: true);
            samples.Add((clock.Elapsed.TotalMinutes, bytes, checker.Acknowledged));
            output.WriteLine($"{clock.Elapsed.TotalMinutes,6:F2} min  heap {bytes / 1048576.0,8:F1} MiB  acknowledged {checker.Acknowledged,12}  held {pump.Held}  backlog {log.LastSeq - pump.Pumped}");
        }
        rt.StopDevices();
        Assert.True(await rt.AwaitQuiescenceAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60)));
        pump.PumpAll();
        Assert.Empty(checker.Finish());
        // After a warm-up third, the heap must not trend upward: the last third averages within 25 % of the middle third.
        var third = Math.Max(1, samples.Count / 3);
        var middle = samples.Skip(third).Take(third).Average(s => (double)s.Bytes);
        var last = samples.Skip(samples.Count - third).Average(s => (double)s.Bytes);
        Assert.True(last <= middle * 1.25, $"heap grew from {middle / 1048576:F1} MiB to {last / 1048576:F1} MiB");
    }
}
