using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware;

/// <summary>The named policies for SEMANTICS.md's open points, and the tracking policy (DESIGN.md §3).</summary>
public sealed record FabricPolicies(
    TrackingPolicy Tracking = TrackingPolicy.Push,
    NotifyPolicy Notify = NotifyPolicy.OnDeactivate,
    VirtualLevelPolicy VirtualLevel = VirtualLevelPolicy.EdgeEmulated,
    DbpmComparison Dbpm = DbpmComparison.Inclusive)
{
    public static FabricPolicies Default { get; } = new();
}
