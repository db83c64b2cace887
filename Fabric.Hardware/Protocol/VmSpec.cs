using Fabric.Hardware;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Protocol;

/// <summary>How the guest programs a range of interrupts at boot. <paramref name="Affinity"/> null = round-robin over the VPEs.</summary>
public sealed record InterruptSpec(IntIdRange Ids, HandlingMode Mode, int Priority, int? Affinity, bool Enabled);

public enum DeviceKind { Irqfd, IrqfdResample }

/// <summary>A device that injects: an irqfd (edge) at <paramref name="Rate"/> per second per interrupt (0 = as fast as
/// accepted: <paramref name="Window"/> triggers outstanding per interrupt, one more each time one is consumed), or an
/// irqfd with a resampler (level) serviced <paramref name="ServiceCount"/> times.</summary>
public sealed record DeviceSpec(DeviceKind Kind, IntIdRange Ids, double Rate = 0, int ServiceCount = 1, int Window = 2);

/// <summary>The guest's behaviour: handler time, its priority mask (ICC_PCR_EL1), and at what rate each vCPU
/// reprograms a random interrupt at run time (CDPRI, CDAFF, or CDDIS then CDEN) and sends an IPI (CDPEND of a random
/// LPI it programmed). <paramref name="IpiBudget"/>: each vCPU's number of IPIs.</summary>
public sealed record GuestSpec(TimeSpan HandlerTime, int PriorityMask = 31, double ReprogramPerSecond = 0, double IpiPerSecond = 0, long IpiBudget = long.MaxValue);
public sealed record VcpuSpec(double ExitsPerSecond = 0, bool WfiWhenIdle = true);
public sealed record HostSpec(double PreemptPerSecond = 0, TimeSpan? PreemptFor = null);

/// <summary>Live migration during a run (scenario key <c>migrate</c>): each VM of <paramref name="Vms"/> (null: every VM) is
/// moved every <paramref name="Every"/> (zero: not periodically; the first move at a seeded phase within the first period,
/// so that VMs do not all move at once) and at each time of <paramref name="At"/>, counted from the start of the devices.
/// Moves stop when the devices stop (the drain).</summary>
public sealed record MigrationSpec(TimeSpan Every, IReadOnlyList<TimeSpan> At, IReadOnlyList<int>? Vms = null)
{
    public static readonly MigrationSpec None = new(TimeSpan.Zero, []);

    public bool Moves(int vm) => (Every > TimeSpan.Zero || At.Count > 0) && (Vms is null || Vms.Contains(vm));
}

/// <summary>Everything one VM is built from. <paramref name="InjectionsPerDevice"/>: each device's budget of triggers
/// (long.MaxValue: until stopped). <paramref name="Migration"/>: when the VM is moved (null: never).</summary>
public sealed record VmSpec(
    int Vcpus,
    int Spis,
    FabricPolicies Policies,
    IReadOnlyList<InterruptSpec> Interrupts,
    IReadOnlyList<DeviceSpec> Devices,
    GuestSpec Guest,
    VcpuSpec Vcpu,
    HostSpec Host,
    long Seed,
    long InjectionsPerDevice = long.MaxValue,
    MigrationSpec? Migration = null)
{
    /// <summary>A directed VM (DESIGN.md §6.4): its devices inject only when a step drives them, and its vCPUs run the
    /// guest's handler loop only when a step says so (they acknowledge nothing by themselves and never enter WFI alone).</summary>
    public bool Directed { get; init; }

    /// <summary>Each vCPU's id — its IAFFID and VPE_ID, which KVM lets userspace choose sparse — or null for 0..Vcpus-1
    /// (<see cref="Fabric.Hardware.Irs.VcpuIdMap"/>).</summary>
    public IReadOnlyList<int>? VcpuIds { get; init; }

    public static VmSpec Simple(int vcpus = 1, int spis = 32, FabricPolicies? policies = null) =>
        new(vcpus, spis, policies ?? FabricPolicies.Default, [], [], new GuestSpec(TimeSpan.Zero), new VcpuSpec(), new HostSpec(), 1);
}
