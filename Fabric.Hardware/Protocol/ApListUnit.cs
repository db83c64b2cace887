using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.ApListProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>
/// The unit for KVM's SPI bookkeeping of one VM (DESIGN.md §6.3). Under the seed's design (<see cref="KvmDesign.ApList"/>)
/// it is the per-VM SPI AP list without its raw spinlock: KVM's injection entry point for SPIs (validate, update
/// line_level / pending_latch, VDPEND, queue) and the tracking of every in-flight SPI until the guest consumes it, when
/// it fires the deactivation notifier — exactly once per consumption under push, at the next fold under fold. Under the
/// merged design it is KVM's injection entry point only: the same VDPEND, nothing queued, folded or notified
/// (<see cref="KvmDesignRules"/>). Its notifier subscribers are the interpreter's tokens for the devices. Every rule is a call into <see cref="SpiApList"/> / <see cref="KvmRules"/>.
/// </summary>
public sealed class ApListState(SpiApList list) : UnitState, IVmUnit
{
    public SpiApList List { get; } = list;

    /// <summary>The notifier registrations (KVM_IRQFD with a resamplefd): the interpreter's token for each SPI's device.</summary>
    public Dictionary<uint, object> Notifiers { get; } = new();

    /// <summary>The fold counter, so a stale fold result is recognised.</summary>
    public long FoldId { get; set; }

    /// <summary>A fold's VDRCFG is in flight; another exit meanwhile folds again when it returns.</summary>
    public bool Folding { get; private set; }
    public bool FoldAgain { get; private set; }

    /// <summary>After a restart of its interpreter: a fold that was in flight is run again (its result, when it comes, is stale).</summary>
    public void Restarted(VmShape vm, Effects fx)
    {
        Folding = FoldAgain = false;
        if (KvmDesignRules.Folds(vm.Policies)) fx.Send(UnitAddress.ApList, new VcpuExit(-1));
    }

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case SetIrq m:
                if (List.Validate(m.Spi) is { } error) { fx.Reply(new IrsProtocol.Refused("kvm_set_irq", error)); return true; }
                var (inj, seq) = List.Inject(m.Spi, m.Level);
                if (inj.Vdpend is not { } pending) return true;
                if (inj.Queued) fx.Log(Ev.Track, null, IntId.Spi(m.Spi));
                fx.Send(UnitAddress.Irs, new IrsProtocol.Vdpend(IntId.Spi(m.Spi), pending, seq));
                return true;
            case SpiConfigured m:
                if (List.Validate(m.Spi) is null) List.Configure(m.Spi, m.TriggerMode);
                return true;
            case RegisterNotifier m:
                if (List.Validate(m.Spi) is { } bad) { fx.Reply(new IrsProtocol.Refused("KVM_IRQFD", bad)); return true; }
                Notifiers[m.Spi] = m.Device;
                return true;
            case Deactivated m:
                if (List.Validate(m.Spi) is not null) return true;
                Apply(m.Spi, List.Pushed(m.Spi, m.Icsr, m.Deactivation, Sequence(m.Spi, m.AppliedSeq, vm)), fx);
                if (KvmDesignRules.DeviceSeesConsumption(List.Design, m.Deactivation) && Notifiers.TryGetValue(m.Spi, out var completed))
                    fx.Tell(completed, new DeviceProtocol.Consumed(m.Spi));
                return true;
            case VcpuExit:
                if (!KvmDesignRules.Folds(vm.Policies) || List.Count == 0) return true;
                if (Folding) { FoldAgain = true; return true; }
                Fold(fx);
                return true;
            case IrsProtocol.VdrcfgResult m:
                if (m.FoldId != FoldId) return true;
                for (var i = 0; i < m.Spis.Length; i++)
                    if (List[m.Spis[i]].OnApList) Apply(m.Spis[i], List.Fold(m.Spis[i], m.Icsrs[i], Sequence(m.Spis[i], m.AppliedSeqs[i], vm)), fx);
                Folding = false;
                if (FoldAgain)
                {
                    FoldAgain = false;
                    fx.Send(UnitAddress.ApList, new VcpuExit(-1));
                }
                return true;
            default:
                return false;
        }
    }

    /// <summary>The injection a report speaks for: the one it carries, or — under <see cref="InjectionSequence.Ignored"/>,
    /// the planted hazard — KVM's latest, as if no injection could have crossed the report.</summary>
    private long Sequence(uint spi, long applied, VmShape vm) =>
        vm.Policies.Sequence == InjectionSequence.Ignored ? List.LastSent(spi) : applied;

    /// <summary>kvm_vgic_sync_hwstate's fold: one VDRCFG per entry, answered as one result.</summary>
    private void Fold(Effects fx)
    {
        Folding = true;
        fx.Send(UnitAddress.Irs, new IrsProtocol.Vdrcfg(++FoldId, List.Entries.ToArray()));
    }

    private void Apply(uint spi, FoldStep step, Effects fx)
    {
        var id = IntId.Spi(spi);
        if (step.Notify)
        {
            fx.Log(Ev.Notify, null, id);
            if (Notifiers.TryGetValue(spi, out var device)) fx.Tell(device, new DeviceProtocol.Notified(spi));
        }
        if (step.Untrack) fx.Log(Ev.Untrack, null, id);
    }
}
