using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Messages to devices.</summary>
public static class DeviceProtocol
{
    /// <summary>kvm_notify_acked_irq: the guest consumed this SPI.</summary>
    public sealed record Notified(uint Spi) : IUnitMessage;
    /// <summary>Not KVM: the device sees on its own completion path (a virtio used ring, the driver's write to the
    /// device) that the guest consumed this SPI. Under the merged design it is what paces an edge irqfd written as fast
    /// as accepted; a resampler ignores it (only KVM's notifier signals a resamplefd).</summary>
    public sealed record Consumed(uint Spi) : IUnitMessage;
    /// <summary>To a device of a directed VM: register its notifiers (KVM_IRQFD) and inject nothing by itself; it writes
    /// only when a step says so (<see cref="Write"/>), and a resampler still answers its notifications.</summary>
    public sealed record Attach : IUnitMessage
    {
        public static readonly Attach Instance = new();
    }

    /// <summary>To a device: one write of its eventfd for <paramref name="Id"/> (an edge, or an assertion of a resampled
    /// level line); refused when the device does not drive that INTID.</summary>
    public sealed record Write(IntId Id) : IUnitMessage;

    public sealed record Start : IWireMessage
    {
        public static readonly Start Instance = new();
    }
    /// <summary>Stop injecting (drain): a resampled line is lowered once its service completes.</summary>
    public sealed record Stop : IWireMessage
    {
        public static readonly Stop Instance = new();
    }
}
