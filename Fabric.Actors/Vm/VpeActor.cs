using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// One VPE and its virtual CPU interface: residency, PPIs, APR and running priority, PCR, the HPPI the IRS
/// offered, the doorbell request and db_fired. It asserts its vCPU's virtual IRQ while resident, and rings the
/// doorbell while not. The glue is the unit's (<see cref="VpeState.Handle"/>); this actor performs its effects.
/// </summary>
public sealed class VpeActor : VmUnitActor
{
    private readonly VpeState _state;
    private readonly VirtualCpuInterface _cpu;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;

    public VpeActor(VpeState state, VmTopology vm, FabricPolicies policies, EventLog log)
    {
        _state = state;
        _cpu = state.Cpu;
        _vm = vm;
        _shape = new VmShape(vm.VmId, vm.Vpes.Length, policies);
        _log = log;
    }

    public static Props Props(VpeState state, VmTopology vm, FabricPolicies policies, EventLog log) =>
        DirectProps.Of((state, vm, policies, log), static a => new VpeActor(a.state, a.vm, a.policies, a.log));

    protected override UnitState Unit => _state;

    /// <summary>A restart keeps the CPU interface and a CDIA in progress; the vCPU is told again if its IRQ is asserted.</summary>
    protected override void PostRestart(Exception reason)
    {
        UnitEffects.Restarted(_state, _shape, new UnitWiring(_vm, _log, Self));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DirectedProtocol.ReadEntry m:
                Sender.Tell(m.Id.IsPpi ? new DirectedProtocol.EntryRead(m.Id, _cpu.Ppis[m.Id.Id], null)
                    : new DirectedProtocol.EntryRead(m.Id, default, $"{m.Id} is not a PPI: the IRS holds it"));
                return;
            case DirectedProtocol.ReadCpu:
                Sender.Tell(new DirectedProtocol.CpuRead(_cpu.VpeId, _cpu.Resident, _cpu.Doorbell.Armed, _cpu.Doorbell.Dbpm.Value, _cpu.DbFired,
                    _cpu.RunningPriority, _cpu.Apr, _cpu.Pcr.Value));
                return;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/vpe-{_cpu.VpeId}: crash requested");
        }
        if (!UnitEffects.Step(_state, message, Sender, _shape, new UnitWiring(_vm, _log, Self))) Unhandled(message);
    }
}
