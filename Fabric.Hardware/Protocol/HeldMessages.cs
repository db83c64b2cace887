namespace Fabric.Hardware.Protocol;

/// <summary>Where in its VM a driver sends: the AP list (KVM's injection entry), a VPE, or a vCPU.</summary>
public enum VmPort { ApList, Vpe, Vcpu }

/// <summary>
/// A driver's sends into its VM, held while the VM moves: an irqfd whose eventfd keeps counting while KVM is not
/// consuming it. Its interpreter holds what the driver's unit sends while holding, and sends it, in order, to the VM's
/// units as they are after the move. Kept in the driver's state, so a restart loses nothing held.
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

    /// <summary>Holds <paramref name="message"/> to <paramref name="to"/>: false (nothing held) when not holding.</summary>
    public bool TryHold(UnitAddress to, object message)
    {
        if (_held is null) return false;
        _held.Add((PortOf(to), to.Index, message));
        return true;
    }

    /// <summary>The VM runs again: what was held, in the order it was sent, and holding ends.</summary>
    public IReadOnlyList<(UnitAddress To, object Message)> Release()
    {
        var held = _held;
        _held = null;
        return held is null ? [] : [.. held.Select(h => (AddressOf(h.Port, h.Index), h.Message))];
    }

    public static UnitAddress AddressOf(VmPort port, int index) => port switch
    {
        VmPort.ApList => UnitAddress.ApList,
        VmPort.Vpe => UnitAddress.Vpe(index),
        _ => UnitAddress.Vcpu(index),
    };

    private static VmPort PortOf(UnitAddress to) => to.Kind switch
    {
        UnitKind.ApList => VmPort.ApList,
        UnitKind.Vpe => VmPort.Vpe,
        UnitKind.Vcpu => VmPort.Vcpu,
        _ => throw new ArgumentException($"a driver sends to the AP list, a VPE or a vCPU, not to {to}", nameof(to)),
    };
}
