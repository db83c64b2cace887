using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using static Fabric.Actors.Protocols.ApListProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The seed's per-VM SPI AP list, without its raw spinlock: KVM's injection entry point for SPIs (validate, update
/// line_level / pending_latch, VDPEND, queue) and the tracking of every in-flight SPI until the guest consumes it,
/// when it fires the deactivation notifier — exactly once per consumption under push, at the next fold under fold.
/// The mailbox serialises what the lock serialised. Every rule is a call into <see cref="SpiApList"/> / <see cref="KvmRules"/>.
/// Under the merged design (<see cref="KvmDesign.Merged"/>) it is KVM's injection entry point only: the same VDPEND,
/// nothing queued, folded or notified (<see cref="KvmDesignRules"/>).
/// </summary>
/// <summary>What a SpiApListActor owns and keeps across a restart: the list (with KVM's per-SPI state) and the
/// notifier registrations (KVM_IRQFD with a resamplefd); the fold counter, so a stale fold result is recognised.</summary>
public sealed class ApListState(SpiApList list) : UnitState
{
    public SpiApList List { get; } = list;
    public Dictionary<uint, IActorRef> Notifiers { get; } = new();
    public long FoldId { get; set; }
}

public sealed class SpiApListActor : VmUnitActor
{
    private readonly ApListState _state;
    private readonly SpiApList _list;
    private readonly VmTopology _vm;
    private readonly FabricPolicies _policies;
    private readonly EventLog _log;
    private bool _folding, _foldAgain;

    public SpiApListActor(ApListState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _list = state.List;
        _vm = vm;
        _policies = policies;
        _log = log;
    }

    public static Props Props(ApListState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new SpiApListActor(a.state, a.vm, a.policies, a.log));

    protected override UnitState Unit => _state;

    /// <summary>After a restart the list and registrations are as they were; a fold that was in flight is run again.</summary>
    protected override void PostRestart(Exception reason)
    {
        if (KvmDesignRules.Folds(_policies)) Self.Tell(new VcpuExit(-1));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case SetIrq m:
                if (_list.Validate(m.Spi) is { } error) { Sender.Tell(new IrsProtocol.Refused("kvm_set_irq", error)); return; }
                var (inj, seq) = _list.Inject(m.Spi, m.Level);
                if (inj.Vdpend is not { } pending) return;
                if (inj.Queued) _log.Log(Ev.Track, _vm.VmId, null, IntId.Spi(m.Spi));
                _vm.Virs.Tell(new IrsProtocol.Vdpend(IntId.Spi(m.Spi), pending, seq));
                break;
            case SpiConfigured m:
                if (_list.Validate(m.Spi) is null) _list.Configure(m.Spi, m.TriggerMode);
                break;
            case RegisterNotifier m:
                if (_list.Validate(m.Spi) is { } bad) { Sender.Tell(new IrsProtocol.Refused("KVM_IRQFD", bad)); return; }
                _state.Notifiers[m.Spi] = m.Device;
                break;
            case Deactivated m:
                if (_list.Validate(m.Spi) is not null) return;
                Apply(m.Spi, _list.Pushed(m.Spi, m.Icsr, m.Deactivation, m.AppliedSeq));
                if (KvmDesignRules.DeviceSeesConsumption(_list.Design, m.Deactivation) && _state.Notifiers.TryGetValue(m.Spi, out var completed))
                    completed.Tell(new DeviceProtocol.Consumed(m.Spi));
                break;
            case VcpuExit:
                if (!KvmDesignRules.Folds(_policies) || _list.Count == 0) return;
                if (_folding) { _foldAgain = true; return; }
                _folding = true;
                _vm.Virs.Tell(new IrsProtocol.Vdrcfg(++_state.FoldId, _list.Entries.ToArray()));
                break;
            case IrsProtocol.VdrcfgResult m:
                if (m.FoldId != _state.FoldId) return;
                for (var i = 0; i < m.Spis.Length; i++)
                    if (_list[m.Spis[i]].OnApList) Apply(m.Spis[i], _list.Fold(m.Spis[i], m.Icsrs[i], m.AppliedSeqs[i]));
                _folding = false;
                if (_foldAgain) { _foldAgain = false; Self.Tell(new VcpuExit(-1)); }
                break;
            case DirectedProtocol.ReadApList:
                Sender.Tell(new DirectedProtocol.ApListRead(_list.Entries.ToArray()));
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/ap-list: crash requested");
            default:
                Unhandled(message);
                break;
        }
    }

    private void Apply(uint spi, FoldStep step)
    {
        var id = IntId.Spi(spi);
        if (step.Notify)
        {
            _log.Log(Ev.Notify, _vm.VmId, null, id);
            if (_state.Notifiers.TryGetValue(spi, out var device)) device.Tell(new DeviceProtocol.Notified(spi));
        }
        if (step.Untrack) _log.Log(Ev.Untrack, _vm.VmId, null, id);
    }
}
