namespace Fabric.Actors.Protocols;

/// <summary>Messages to a vCPU thread (VcpuActor) from its VM.</summary>
public static class VcpuProtocol
{
    /// <summary>The guest's boot on this vCPU, once the VM's interrupts are programmed: ICC_PCR_EL1 written, the vCPU
    /// loaded, its timers (exits, reprogramming, IPIs) started.</summary>
    public sealed record Boot : ILocalMessage
    {
        public static readonly Boot Instance = new();
    }
}
