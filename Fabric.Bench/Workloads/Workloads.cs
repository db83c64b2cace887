using Fabric.Hardware.Protocol;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Bench.Workloads;

/// <summary>
/// The workloads, as the <see cref="VmSpec"/> the fabric is built from. The lock-based baseline reads the same spec
/// (vCPUs, SPIs, how the guest programs them, devices and windows, WFI), so both run the same workload.
/// </summary>
public static class Workloads
{
    public const int Vcpus = 4, Spis = 64, Priority = 8;

    /// <summary>
    /// The closed-loop edge storm: every SPI is edge, priority 8, spread round-robin over the vCPUs, enabled; one irqfd
    /// per <paramref name="injectors"/> range writes one edge per SPI and one more each time the SPI's notifier fires
    /// (window 1: exactly one lifecycle in flight per SPI, nothing coalesces). The guest's handler takes no time.
    /// <paramref name="wfi"/>: an idle vCPU enters WFI (a put with a doorbell request; the doorbell wakes it) — or
    /// not, and simply waits for its virtual IRQ line.
    /// </summary>
    public static VmSpec EdgeStorm(bool wfi, TrackingPolicy tracking = TrackingPolicy.Push, int injectors = 1, int vcpus = Vcpus, int spis = Spis)
    {
        var all = new IntIdRange(IntIdType.Spi, 0, (uint)spis - 1);
        var per = spis / injectors;
        var devices = Enumerable.Range(0, injectors)
            .Select(i => new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, (uint)(i * per), (uint)((i + 1) * per - 1)), Rate: 0, Window: 1))
            .ToArray();
        return new VmSpec(vcpus, spis, new FabricPolicies(Tracking: tracking),
            [new InterruptSpec(all, HandlingMode.Edge, Priority, null, true)],
            devices, new GuestSpec(TimeSpan.Zero), new VcpuSpec(ExitsPerSecond: 0, WfiWhenIdle: wfi), new HostSpec(), Seed: 1);
    }

    /// <summary>The same VM with its irqfd paced: each SPI gets an edge <paramref name="perSpiPerSecond"/> times a second
    /// (seeded phases), whether or not the last one was consumed — a light storm that does not follow the fabric's speed.</summary>
    public static VmSpec PacedStorm(bool wfi, double perSpiPerSecond)
    {
        var spec = EdgeStorm(wfi);
        return spec with { Devices = [.. spec.Devices.Select(d => d with { Rate = perSpiPerSecond })] };
    }

    /// <summary>The same VM with no device: the open-loop latency run injects from its own paced driver.</summary>
    public static VmSpec Quiet(bool wfi) => EdgeStorm(wfi) with { Devices = [] };
}
