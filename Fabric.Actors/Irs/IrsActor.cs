using Fabric.Hardware.Protocol;
using Fabric.Hardware.Kvm;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Irs;

namespace Fabric.Actors.Irs;

/// <summary>
/// The host IRS: owns the VM table, creates, validates and tears down VMs, and hands each VM's addresses to whoever
/// injects into it. Off every interrupt's hot path: once a VM exists, nothing goes through here — but a message
/// addressed by VM id (<see cref="ClusterProtocol.VmEnvelope"/>) is routed by the same extractor the clustered fabric's
/// shard regions use, so a host can address a local fabric as it addresses a sharded one.
/// </summary>
public sealed class IrsActor : UntypedActor
{
    private readonly int _maxVms;
    private readonly EventLog _log;
    private readonly IrsLife _life;
    private readonly VmMessageExtractor _extractor;

    /// <summary>What the IRS keeps across its own restarts, made once with its Props: its VM table (the hardware's
    /// <see cref="VmTable"/>: a VMTE per VM, valid while the VM exists), and each VM's actor, which the table's VM_ID names.</summary>
    private sealed class IrsLife(int maxVms)
    {
        public readonly VmTable Table = new(VmIdBitsFor(maxVms));
        public readonly Dictionary<int, IActorRef> Vms = new();
    }

    private IrsActor(int maxVms, EventLog log, IrsLife life)
    {
        _maxVms = maxVms;
        _log = log;
        _life = life;
        _extractor = new VmMessageExtractor(FabricCluster.MaxShards(maxVms));
    }

    public static Props Props(int maxVms, EventLog log) =>
        DirectProps.Of((maxVms, log, life: new IrsLife(maxVms)), static a => new IrsActor(a.maxVms, a.log, a.life));

    /// <summary>VM_ID_BITS of an IRS for <paramref name="maxVms"/> VMs: the fewest bits that address them (at least 1).</summary>
    private static int VmIdBitsFor(int maxVms) =>
        Math.Max(1, System.Numerics.BitOperations.Log2(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(maxVms, 1, VmLimits.MaxVms))));

    /// <summary>A crash of the IRS does not take the VMs with it (Akka's default would stop every child): they are
    /// kept, and so is its VM table, which outlives the actor.</summary>
    protected override void PreRestart(Exception reason, object message) { }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case HostIrsProtocol.CreateVm m:
                if (Validate(m) is { } error) { Sender.Tell(new IrsProtocol.Refused("IRS_VMAP_VMR", error)); return; }
                _life.Vms[m.VmId] = Context.Watch(Context.ActorOf(VmActor.Props(m.VmId, m.Spec, _log, Sender), $"vm-{m.VmId}"));
                break;
            case ClusterProtocol.VmEnvelope e:
                if (_extractor.EntityId(e) is { } id && int.TryParse(id, System.Globalization.CultureInfo.InvariantCulture, out var vmId) && _life.Vms.TryGetValue(vmId, out var target))
                    target.Forward(_extractor.EntityMessage(e));
                else Sender.Tell(new IrsProtocol.Refused("VM message", $"VM {e.VmId} does not exist"));
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException("irs: crash requested");
            case Terminated t:
                // A VM stopped (destroyed, or lost): it leaves the table.
                foreach (var gone in _life.Vms.Where(kv => kv.Value.Equals(t.ActorRef)).Select(kv => kv.Key).ToList()) Unmap(gone);
                break;
            case HostIrsProtocol.DestroyVm m:
                if (!_life.Vms.TryGetValue(m.VmId, out var vm)) { Sender.Tell(new IrsProtocol.Refused("IRS_VMAP_VMR", $"VM {m.VmId} does not exist")); return; }
                Unmap(m.VmId);
                Context.Stop(vm);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>KVM's checks of the VM (its vCPUs and SPIs, <see cref="VmLimits"/>), then the IRS's: its VMTE is written
    /// (VALID=0, a VPE table for its vCPUs) and made valid (IRS_VMAP_VMR M=1). Null, or why the VM is refused; a refusal
    /// leaves the table as it was.</summary>
    private string? Validate(HostIrsProtocol.CreateVm m)
    {
        if (m.VmId < 0 || m.VmId >= _maxVms) return $"VM ID {m.VmId} is out of range 0..{_maxVms - 1}";
        if (_life.Table.TryGet(m.VmId, out var vmte) && vmte.Valid) return $"VM ID {m.VmId} is already valid";
        if (!Context.Child($"vm-{m.VmId}").IsNobody()) return $"VM ID {m.VmId} is still being destroyed";
        if (m.Spec.Vcpus is < 1 or > VmLimits.MaxVcpus) return $"VM {m.VmId}: {m.Spec.Vcpus} vCPUs is not 1..{VmLimits.MaxVcpus}";
        if (!VmLimits.IsValidSpiCount(m.Spec.Spis)) return $"VM {m.VmId}: {m.Spec.Spis} SPIs is not {VmLimits.SpiRule}";
        var entry = VmtEntry.Create(valid: false, 0, 0, VmTable.VpeIdBitsFor(m.Spec.Vcpus), IstDescriptor.None, IstDescriptor.None);
        if (!_life.Table.TryAdd(m.VmId, entry, out var error)) return error;
        return _life.Table.TrySetValid(m.VmId, true, out error) ? null : error;
    }

    /// <summary>A VM leaves the table: its VMTE made invalid (IRS_VMAP_VMR M=0), then released.</summary>
    private void Unmap(int vmId)
    {
        _life.Vms.Remove(vmId);
        if (_life.Table.TrySetValid(vmId, false, out _)) _life.Table.TryRemove(vmId, out _);
    }
}
