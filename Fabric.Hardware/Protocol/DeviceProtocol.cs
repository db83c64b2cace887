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
