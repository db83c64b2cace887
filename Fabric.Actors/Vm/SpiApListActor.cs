using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The seed's per-VM SPI AP list, without its raw spinlock: KVM's injection entry point for SPIs (validate, update
/// line_level / pending_latch, VDPEND, queue) and the tracking of every in-flight SPI until the guest consumes it,
/// when it fires the deactivation notifier — exactly once per consumption under push, at the next fold under fold.
/// The mailbox serialises what the lock serialised. Every rule is a call into <see cref="SpiApList"/> / <see cref="KvmRules"/>.
/// Under the merged design (<see cref="KvmDesign.Merged"/>) it is KVM's injection entry point only: the same VDPEND,
/// nothing queued, folded or notified (<see cref="KvmDesignRules"/>). The glue is the unit's (<see cref="ApListState.Handle"/>);
/// this actor performs its effects.
/// </summary>
public sealed class SpiApListActor : VmUnitActor
{
    private readonly ApListState _state;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;

    public SpiApListActor(ApListState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _vm = vm;
        _shape = new VmShape(vm.VmId, vm.Vpes.Length, policies);
        _log = log;
    }

    public static Props Props(ApListState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new SpiApListActor(a.state, a.vm, a.policies, a.log));

    protected override UnitState Unit => _state;

    /// <summary>After a restart the list and registrations are as they were; a fold that was in flight is run again.</summary>
    protected override void PostRestart(Exception reason)
    {
        UnitEffects.Restarted(_state, _shape, new UnitWiring(_vm, _log, Self));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DirectedProtocol.ReadApList:
                Sender.Tell(new DirectedProtocol.ApListRead(_state.List.Entries.ToArray()));
                return;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/ap-list: crash requested");
        }
        if (!UnitEffects.Step(_state, message, Sender, _shape, new UnitWiring(_vm, _log, Self))) Unhandled(message);
    }
}
