using System.Globalization;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;
using static Fabric.Hardware.Protocol.DeviceProtocol;

namespace Fabric.Hardware.Protocol;

/// <summary>A device's progress, kept across a restart of its interpreter: started/stopped, its remaining budget, how
/// often each level line has been serviced, and what it sent while its VM moved (held by its interpreter, to be
/// delivered after).</summary>
public sealed class DeviceState(long budget) : UnitState
{
    public bool Started, Stopped;
    /// <summary>Attached to a directed VM: it writes only when a step says so.</summary>
    public bool Directed;
    public long Budget = budget;
    public readonly Dictionary<uint, int> Serviced = new();
    /// <summary>What the device sent while its VM moved, to be delivered after.</summary>
    public readonly HeldMessages Held = new();
}

/// <summary>
/// The unit for a device's eventfd into KVM (SEMANTICS.md §3.3; DESIGN.md §6.3). <see cref="DeviceKind.Irqfd"/>: each
/// write is an edge (one kvm_set_irq(1); the (0) half of the pulse is dropped by KVM's validation for an edge line, so
/// it is not sent), at a fixed rate, or as fast as accepted (a window of writes outstanding per SPI, one more per
/// notification). <see cref="DeviceKind.IrqfdResample"/>: asserts a level line; each notification lowers it (the
/// resampler) and re-asserts while the device still needs service, <see cref="DeviceSpec.ServiceCount"/> times in all.
/// A PPI source (an <see cref="DeviceKind.Irqfd"/> over <c>ppi:</c> INTIDs, such as a timer) pends that PPI in every
/// VPE's CPU interface at its rate: PPIs never reach the IRS or the AP list. It registers for its SPIs' notifications
/// under the token its interpreter gives it (<see cref="Effects.Self"/>).
/// </summary>
public sealed class DeviceUnit(DeviceSpec spec, DeviceState state, long seed) : IVmUnit
{
    private sealed record Tick(uint Spi) : IUnitMessage;
    private sealed record FastTick : IUnitMessage
    {
        public static readonly FastTick Instance = new();
    }

    /// <summary>For a rate above one per timer tick: how many edges each tick serves, and whose turn is next.</summary>
    private Pacer? _pace;
    private uint _next;

    public DeviceSpec Spec { get; } = spec;
    public DeviceState State { get; } = state;

    /// <summary>The device's name in the VM: irqfd-spi-40, or irqfd-spi-0-31 for a range.</summary>
    public static string NameOf(DeviceSpec spec) =>
        (spec.Kind == DeviceKind.Irqfd ? "irqfd-" : "irqfd-resample-") + spec.Ids.ToString().Replace(':', '-');

    /// <summary>The name of the device of <paramref name="vm"/> that drives <paramref name="id"/> (null: none does) — what
    /// the checks name in a consumption never notified.</summary>
    public static string? Driving(VmSpec vm, IntId id) => vm.Devices.FirstOrDefault(d => d.Ids.Contains(id)) is { } d ? NameOf(d) : null;

    /// <summary>A restarted device — or one that took over a VM from another node — re-arms its rate timers; lines and
    /// windows carry on through notifications.</summary>
    public void Restarted(VmShape vm, Effects fx)
    {
        if (State.Started && !State.Stopped) StartTimers(fx);
    }

    /// <inheritdoc/>
    public bool Handle(object message, VmShape vm, Effects fx)
    {
        switch (message)
        {
            case Attach:
                if (State.Started) return true;
                State.Started = State.Directed = true;
                foreach (var id in Spec.Ids.All())
                    if (id.IsSpi) fx.Send(UnitAddress.ApList, new ApListProtocol.RegisterNotifier(id.Id, fx.Self!));
                return true;
            case Write w:
                if (!Spec.Ids.Contains(w.Id)) { fx.Reply(new IrsProtocol.Refused("irqfd", $"{NameOf(Spec)} does not drive {w.Id}")); return true; }
                if (Spec.Kind == DeviceKind.IrqfdResample) Assert(w.Id.Id, fx);
                else Edge(w.Id.Id, vm, fx);
                return true;
            case Start:
                if (State.Started) return true;
                State.Started = true;
                foreach (var id in Spec.Ids.All())
                {
                    if (id.IsSpi) fx.Send(UnitAddress.ApList, new ApListProtocol.RegisterNotifier(id.Id, fx.Self!));
                    if (Spec.Kind == DeviceKind.IrqfdResample) Assert(id.Id, fx);
                    else if (Spec.Rate <= 0) for (var w = 0; w < Spec.Window; w++) Edge(id.Id, vm, fx);
                }
                StartTimers(fx);
                return true;
            case Tick t:
                Edge(t.Spi, vm, fx);
                return true;
            case FastTick:
                for (var n = Pacer.Due(_pace, fx.Now); n > 0 && !State.Stopped; n--)
                {
                    Edge(Spec.Ids.First + _next, vm, fx);
                    _next = (_next + 1) % (uint)Spec.Ids.Count;
                }
                return true;
            case Notified n:
                if (Spec.Kind == DeviceKind.IrqfdResample) Resample(n.Spi, fx);
                else if (Spec.Rate <= 0 && !State.Directed) Edge(n.Spi, vm, fx);
                return true;
            case Consumed c:
                // A directed device writes only when a step drives it (DESIGN.md §6.4), under either design.
                if (Spec.Kind == DeviceKind.Irqfd && Spec.Rate <= 0 && !State.Directed) Edge(c.Spi, vm, fx);
                return true;
            case Stop:
                State.Stopped = true;
                fx.CancelTimers();
                return true;
            case IrsProtocol.Refused:
                return true;
            default:
                return false;
        }
    }

    private void StartTimers(Effects fx)
    {
        if (Spec.Rate <= 0 || Spec.Kind == DeviceKind.IrqfdResample) return;
        if (Spec.Rate > Pacer.TimerRate)
        {
            // Faster than one timer per interrupt can fire: one timer for the device, each tick serving the edges due
            // over all its interrupts, in turn.
            _pace = Pacer.Start(fx, "paced", FastTick.Instance, Spec.Rate * Spec.Ids.Count);
            return;
        }
        var rng = new Random(unchecked((int)(seed ^ (seed >> 32))));
        var period = TimeSpan.FromSeconds(1.0 / Spec.Rate);
        foreach (var id in Spec.Ids.All())
        {
            // A seeded phase per interrupt: the same seed gives the same schedule of injections.
            var phase = TimeSpan.FromTicks((long)(rng.NextDouble() * period.Ticks));
            fx.StartPeriodicTimer(id, new Tick(id.Id), phase, period);
        }
    }

    private bool Take()
    {
        if (State.Stopped || State.Budget <= 0) return false;
        State.Budget--;
        return true;
    }

    private void Edge(uint spi, VmShape vm, Effects fx)
    {
        if (Spec.Ids.Type == IntIdType.Ppi) { Ppi(spi, vm, fx); return; }
        if (!Take()) return;
        fx.Log(Ev.Inject, null, IntId.Spi(spi), "edge");
        fx.Send(UnitAddress.ApList, new ApListProtocol.SetIrq(spi, true));
    }

    private void Ppi(uint ppi, VmShape vm, Effects fx)
    {
        var id = IntId.Ppi(ppi);
        for (var v = 0; v < vm.Vcpus; v++)
        {
            if (!Take()) return;
            fx.Log(Ev.Inject, v, id, "edge");
            fx.Send(UnitAddress.Vpe(v), new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Pend, 1));
        }
    }

    private void Assert(uint spi, Effects fx)
    {
        if (!Take()) return;
        fx.Log(Ev.Inject, null, IntId.Spi(spi), "level");
        fx.Send(UnitAddress.ApList, new ApListProtocol.SetIrq(spi, true));
    }

    /// <summary>irqfd_resampler_ack: lower the line, signal the resamplefd; the device re-asserts if it still needs service.</summary>
    private void Resample(uint spi, Effects fx)
    {
        fx.Send(UnitAddress.ApList, new ApListProtocol.SetIrq(spi, false));
        var served = State.Serviced[spi] = State.Serviced.GetValueOrDefault(spi) + 1;
        fx.Log(Ev.Resample, null, IntId.Spi(spi), served.ToString(CultureInfo.InvariantCulture));
        if (served < Spec.ServiceCount) Assert(spi, fx);
    }
}
