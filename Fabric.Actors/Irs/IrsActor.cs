using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;

namespace Fabric.Actors.Irs;

/// <summary>
/// The host IRS: owns the VM table, creates, validates and tears down VMs, and hands each VM's addresses to whoever
/// injects into it. Off every interrupt's hot path: once a VM exists, nothing goes through here — but a message
/// addressed by VM id (<see cref="ClusterProtocol.VmEnvelope"/>) is routed by the same extractor the clustered fabric's
/// shard regions use, so a host can address a local fabric as it addresses a sharded one.
/// </summary>
public sealed class IrsActor : UntypedActor
{
    /// <summary>Create VM <paramref name="VmId"/>; the VM answers <see cref="VmActor.Created"/> to the sender.</summary>
    public sealed record CreateVm(int VmId, VmSpec Spec) : ILocalMessage;
    public sealed record DestroyVm(int VmId) : ILocalMessage;

    private readonly int _maxVms;
    private readonly EventLog _log;
    private readonly Dictionary<int, IActorRef> _vms = new();
    private readonly VmMessageExtractor _extractor;

    public IrsActor(int maxVms, EventLog log)
    {
        _maxVms = maxVms;
        _log = log;
        _extractor = new VmMessageExtractor(FabricCluster.MaxShards(maxVms));
    }

    public static Props Props(int maxVms, EventLog log) => DirectProps.Of((maxVms, log), static a => new IrsActor(a.maxVms, a.log));

    /// <summary>A crash of the IRS does not take the VMs with it (Akka's default would stop every child): they are
    /// kept, and the restarted IRS reads its VM table back from them (each is named <c>vm-N</c>).</summary>
    protected override void PreRestart(Exception reason, object message) { }

    protected override void PostRestart(Exception reason)
    {
        foreach (var child in Context.GetChildren())
            if (child.Path.Name.StartsWith("vm-", StringComparison.Ordinal)
                && int.TryParse(child.Path.Name.AsSpan(3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                _vms[id] = child;
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CreateVm m:
                if (Validate(m) is { } error) { Sender.Tell(new IrsProtocol.Refused("IRS_VMAP_VMR", error)); return; }
                _vms[m.VmId] = Context.Watch(Context.ActorOf(VmActor.Props(m.VmId, m.Spec, _log, Sender), $"vm-{m.VmId}"));
                break;
            case ClusterProtocol.VmEnvelope e:
                if (_extractor.EntityId(e) is { } id && int.TryParse(id, System.Globalization.CultureInfo.InvariantCulture, out var vmId) && _vms.TryGetValue(vmId, out var target))
                    target.Forward(_extractor.EntityMessage(e));
                else Sender.Tell(new IrsProtocol.Refused("VM message", $"VM {e.VmId} does not exist"));
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException("irs: crash requested");
            case Terminated t:
                // A VM stopped (destroyed, or lost): it leaves the table, also when a restart had read it back while it was stopping.
                foreach (var gone in _vms.Where(kv => kv.Value.Equals(t.ActorRef)).Select(kv => kv.Key).ToList()) _vms.Remove(gone);
                break;
            case DestroyVm m:
                if (!_vms.Remove(m.VmId, out var vm)) { Sender.Tell(new IrsProtocol.Refused("IRS_VMAP_VMR", $"VM {m.VmId} does not exist")); return; }
                Context.Stop(vm);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private string? Validate(CreateVm m)
    {
        if (m.VmId < 0 || m.VmId >= _maxVms) return $"VM ID {m.VmId} is out of range 0..{_maxVms - 1}";
        if (_vms.ContainsKey(m.VmId)) return $"VM ID {m.VmId} is already valid";
        if (m.Spec.Vcpus is < 1 or > 512) return $"VM {m.VmId}: {m.Spec.Vcpus} vCPUs is not 1..512";
        if (m.Spec.Spis is < 32 or > 1024 || m.Spec.Spis % 32 != 0) return $"VM {m.VmId}: {m.Spec.Spis} SPIs is not 32..1024 in steps of 32";
        return null;
    }
}
