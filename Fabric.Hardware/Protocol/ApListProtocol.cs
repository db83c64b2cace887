using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>Messages to a VM's SpiApListActor: KVM's injection entry point and the tracking reports.</summary>
public static class ApListProtocol
{
    /// <summary>kvm_set_irq for an SPI from a device (irqfd), with its line level.</summary>
    public sealed record SetIrq(uint Spi, bool Level) : IWireMessage;
    /// <summary>KVM learns the trigger mode the guest configured.</summary>
    public sealed record SpiConfigured(uint Spi, HandlingMode TriggerMode) : IUnitMessage;
    /// <summary>Push tracking: a tracked SPI was deactivated (<paramref name="Deactivation"/>) or went idle without one.</summary>
    public sealed record Deactivated(uint Spi, Icsr Icsr, bool Deactivation, long AppliedSeq) : IUnitMessage;
    /// <summary>A vCPU exited to KVM: kvm_vgic_sync_hwstate, where the fold runs under fold tracking.</summary>
    public sealed record VcpuExit(int Vpe) : IUnitMessage;
    /// <summary>The notifier's subscriber for an SPI (an irqfd resampler).</summary>
    public sealed record RegisterNotifier(uint Spi, object Device) : IUnitMessage;
}
