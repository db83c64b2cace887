using Akka.Actor;
using Fabric.Actors.Vm;

namespace Fabric.Actors.Drivers;

/// <summary>Where in its VM a driver sends: the AP list (KVM's injection entry), a VPE, or a vCPU.</summary>
public enum VmPort { ApList, Vpe, Vcpu }

/// <summary>
/// A driver's sends into its VM, held while the VM moves (<see cref="Protocols.MigrationProtocol.Hold"/>): an irqfd
/// whose eventfd keeps counting while KVM is not consuming it. The address is looked up when a message is sent, not
/// when it is held, so what was held goes, in order, to the VM's units as they are after the move. Kept in the driver's
/// state, so a restart loses nothing held.
/// </summary>
public sealed class HeldMessages
{
    private List<(VmPort Port, int Index, object Message)>? _held;

    public bool Holding => _held is not null;
    public int Count => _held?.Count ?? 0;

    public void Hold() => _held ??= new();

    /// <summary>What is held, in order (null: not holding) — what a VM handed to another node carries.</summary>
    public IReadOnlyList<(VmPort Port, int Index, object Message)>? Items => _held;

    /// <summary>Holding again what a VM carried from another node (null: not holding).</summary>
    public void Restore(IEnumerable<(VmPort Port, int Index, object Message)>? items) => _held = items?.ToList();

    /// <summary>Send now, or hold while the VM moves.</summary>
    public void Send(VmTopology vm, VmPort port, int index, object message, IActorRef sender)
    {
        if (_held is not null) _held.Add((port, index, message));
        else Address(vm, port, index).Tell(message, sender);
    }

    /// <summary>The VM runs again: send what was held, in the order it was sent.</summary>
    public void Release(VmTopology vm, IActorRef sender, Func<object, object>? rebind = null)
    {
        var held = _held;
        _held = null;
        foreach (var (port, index, message) in held ?? []) Address(vm, port, index).Tell(rebind?.Invoke(message) ?? message, sender);
    }

    private static IActorRef Address(VmTopology vm, VmPort port, int index) => port switch
    {
        VmPort.ApList => vm.ApList,
        VmPort.Vpe => vm.Vpes[index],
        _ => vm.Vcpus[index],
    };
}
