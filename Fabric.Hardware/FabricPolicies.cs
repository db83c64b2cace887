using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware;

/// <summary>The named policies for SEMANTICS.md's open points, the tracking policy (DESIGN.md §3), and which KVM design
/// runs (DESIGN.md §6.2; tracking and notify apply to the seed's AP-list design only).</summary>
public sealed record FabricPolicies(
    TrackingPolicy Tracking = TrackingPolicy.Push,
    NotifyPolicy Notify = NotifyPolicy.OnDeactivate,
    VirtualLevelPolicy VirtualLevel = VirtualLevelPolicy.EdgeEmulated,
    DbpmComparison Dbpm = DbpmComparison.Inclusive,
    KvmDesign Kvm = KvmDesign.ApList,
    InjectionSequence Sequence = InjectionSequence.Checked)
{
    public static FabricPolicies Default { get; } = new();
}
