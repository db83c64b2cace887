using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// One PE: a vCPU thread running the guest (<see cref="VcpuState"/>) and its VPE with the virtual CPU interface
/// (<see cref="VpeState"/>) in one actor, as in hardware the PE executes the guest's system instructions (CDIA, CDEOI)
/// against its own CPU interface. The VPE stays an actor (DESIGN.md §3): this one, named <c>pe-N</c>; both
/// <see cref="UnitAddress.Vpe"/>(N) and <see cref="UnitAddress.Vcpu"/>(N) resolve to it.
/// <para>A message from one of its units to the other (the VPE's IrqAsserted and CDIA result, the guest's CDIA, CDEOI,
/// residency, a PPI's deactivation) is not told: it is kept in a FIFO queue and delivered before the turn ends, so a
/// lifecycle's PE-internal steps cost no Akka message, and per-pair FIFO order holds as it did between two actors. A
/// local delivery's sender is the address of the unit that sent it (what the VPE keeps as the party whose CDIA awaits the
/// IRS, and answers through this queue). A message from outside goes to the unit <see cref="PeRouting"/> names for its
/// type; every other effect is performed as for any unit (<see cref="UnitEffects"/>), the guest's timers as this actor's.
/// The directed reads (<see cref="DirectedProtocol.ReadEntry"/>, <see cref="DirectedProtocol.ReadCpu"/>) read the VPE.</para>
/// <para>A restart re-runs both units' <see cref="IVmUnit.Restarted"/> (VPE then vCPU) and then delivers what was still
/// queued when it crashed (the queue is kept with the Props, as a mailbox outlives a restart); a freeze hands over both
/// states.</para>
/// </summary>
public sealed class PeActor : VmUnitActor, ILocalUnits
{
    private readonly VpeState _vpe;
    private readonly VcpuState _vcpu;
    private readonly VmTopology _vm;
    private readonly VmShape _shape;
    private readonly EventLog _log;
    private readonly Queue<Local> _local;
    /// <summary>The two units' addresses, boxed once: the sender a local delivery carries.</summary>
    private readonly object _vpeAddress, _vcpuAddress;
    /// <summary>The address of the unit taking the current step (the sender of what it keeps for the other).</summary>
    private object? _stepping;

    /// <summary>A message kept for one of the PE's units: to the VPE or the vCPU, and from whom (the other unit's address).</summary>
    private readonly record struct Local(bool ToVpe, object Message, object? From);

    private PeActor(VpeState vpe, VcpuState vcpu, VmTopology vm, EventLog log, Queue<Local> local)
    {
        _vpe = vpe;
        _vcpu = vcpu;
        _vm = vm;
        _shape = vm.Shape;
        _log = log;
        _local = local;
        _vpeAddress = UnitAddress.Vpe(vcpu.Vpe);
        _vcpuAddress = UnitAddress.Vcpu(vcpu.Vpe);
    }

    public static Props Props(VpeState vpe, VcpuState vcpu, VmTopology vm, EventLog log) =>
        vpe.Cpu.VpeId != vcpu.Vpe
            ? throw new ArgumentException($"vm-{vm.VmId}: a PE's VPE ({vpe.Cpu.VpeId}) and vCPU ({vcpu.Vpe}) must be the same", nameof(vcpu))
            : DirectProps.Of((vpe, vcpu, vm, log, local: new Queue<Local>()), static a => new PeActor(a.vpe, a.vcpu, a.vm, a.log, a.local));

    /// <summary>The actor's name in its VM: <c>pe-N</c> (generation g &gt; 0: <c>pe-N@g</c>); the first 64, made once.</summary>
    public static string NameOf(int vcpu, int generation) =>
        generation == 0 && vcpu < Names.Length ? Names[vcpu] : generation == 0 ? $"pe-{vcpu}" : $"pe-{vcpu}@{generation}";

    private static readonly string[] Names = [.. Enumerable.Range(0, 64).Select(v => $"pe-{v}")];

    /// <summary>The VPE's state carries the PE's message count (the quiescence check's).</summary>
    protected override UnitState Unit => _vpe;

    private UnitWiring Wiring => new(_vm, _log, Self, this, null, Context.System.Scheduler, this);

    protected override void HandOver(IActorRef to)
    {
        to.Tell(new MigrationProtocol.Frozen(_vpe));
        to.Tell(new MigrationProtocol.Frozen(_vcpu));
    }

    /// <summary>Both units carry on from the state they kept: the VPE asserts the IRQ again or rings the doorbell it owes,
    /// the guest re-arms its timers and resumes a handler in progress; then what was still queued is delivered.</summary>
    protected override void PostRestart(Exception reason)
    {
        var w = Wiring;
        Restarted(_vpe, _vpeAddress, w);
        Restarted(_vcpu, _vcpuAddress, w);
        Drain(w);
    }

    private void Restarted(IVmUnit unit, object address, in UnitWiring w)
    {
        _stepping = address;
        UnitEffects.Restarted(unit, _shape, w);
        _stepping = null;
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DirectedProtocol.ReadEntry m:
                var cpu = _vpe.Cpu;
                Sender.Tell(m.Id.IsPpi ? new DirectedProtocol.EntryRead(m.Id, cpu.Ppis[m.Id], null)
                    : new DirectedProtocol.EntryRead(m.Id, default, $"{m.Id} is not a PPI: the IRS holds it"));
                return;
            case DirectedProtocol.ReadCpu:
                var c = _vpe.Cpu;
                Sender.Tell(new DirectedProtocol.CpuRead(c.VpeId, c.Resident, c.Doorbell.Armed, c.Doorbell.Dbpm.Value, c.DbFired,
                    c.RunningPriority, c.Apr, c.Pcr.Value));
                return;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/pe-{_vcpu.Vpe}: crash requested");
        }
        var w = Wiring;
        var handled = PeRouting.Of(message) switch
        {
            PeUnit.Vpe => Step(toVpe: true, message, Sender, w),
            PeUnit.Vcpu => Step(toVpe: false, message, Sender, w),
            PeUnit.Ignored => true,
            _ => false,
        };
        Drain(w);
        if (!handled) Unhandled(message);
    }

    /// <summary>Delivers what the units kept for each other, in order, until neither keeps anything more.</summary>
    private void Drain(in UnitWiring w)
    {
        while (_local.TryDequeue(out var l))
            if (!Step(l.ToVpe, l.Message, l.From, w)) Unhandled(l.Message);
    }

    private bool Step(bool toVpe, object message, object? sender, in UnitWiring w)
    {
        _stepping = toVpe ? _vpeAddress : _vcpuAddress;
        var handled = UnitEffects.Step(toVpe ? _vpe : _vcpu, message, sender, _shape, w);
        _stepping = null;
        return handled;
    }

    /// <inheritdoc/>
    public bool TryKeep(UnitAddress to, object message)
    {
        if (to.Index != _vcpu.Vpe || to.Kind is not (UnitKind.Vpe or UnitKind.Vcpu)) return false;
        _local.Enqueue(new Local(to.Kind == UnitKind.Vpe, message, _stepping));
        return true;
    }
}
