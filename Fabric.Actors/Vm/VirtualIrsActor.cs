using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Protocol;
using static Fabric.Hardware.Protocol.IrsProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// This VM's slice of the IRS: executes VDPEND/VDRCFG and the guest's CD* operations on its ISTs, resolves each
/// CDIA's activation, and forwards each VPE its HPPI (the IRS→CPUIF stream as <see cref="CpuInterfaceProtocol.Offer"/>).
/// The glue is the unit's (<see cref="VirtualIrsState.Handle"/>); this actor performs its effects.
/// </summary>
public sealed class VirtualIrsActor : VmUnitActor
{
    private readonly VirtualIrsState _state;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;

    public VirtualIrsActor(VirtualIrsState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _vm = vm;
        _shape = new VmShape(vm.VmId, vm.Vpes.Length, policies);
        _log = log;
    }

    public static Props Props(VirtualIrsState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new VirtualIrsActor(a.state, a.vm, a.policies, a.log));

    private VirtualIrs Irs => _state.Irs;

    protected override UnitState Unit => _state;

    /// <summary>After a restart the candidate index and offers are rebuilt from the ISTs, and re-sent.</summary>
    protected override void PostRestart(Exception reason)
    {
        UnitEffects.Restarted(_state, _shape, new UnitWiring(_vm, _log, Self));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DirectedProtocol.ReadEntry m:
                Sender.Tell(Irs.TryGetEntry(m.Id, out var entry, out var missing)
                    ? new DirectedProtocol.EntryRead(m.Id, entry, null) : new DirectedProtocol.EntryRead(m.Id, default, missing));
                return;
            case Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/virs: crash requested");
        }
        if (!UnitEffects.Step(_state, message, Sender, _shape, new UnitWiring(_vm, _log, Self))) Unhandled(message);
    }
}
