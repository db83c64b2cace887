using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using static Fabric.Hardware.Protocol.DeviceProtocol;

namespace Fabric.Actors.Drivers;

/// <summary>A device's progress, kept across a restart of its actor: started/stopped, its remaining budget, and how
/// often each level line has been serviced.</summary>
public sealed class DeviceState(long budget)
{
    public bool Started, Stopped;
    /// <summary>Attached to a directed VM: it writes only when a step says so.</summary>
    public bool Directed;
    /// <summary>Messages processed, for the quiescence question of a directed run.</summary>
    public long Processed;
    public long Budget = budget;
    public readonly Dictionary<uint, int> Serviced = new();
    /// <summary>What the device sent while its VM moved, to be delivered after.</summary>
    public readonly HeldMessages Held = new();
}

/// <summary>
/// A device's eventfd into KVM (SEMANTICS.md §3.3). <see cref="DeviceKind.Irqfd"/>: each write is an edge (one
/// kvm_set_irq(1); the (0) half of the pulse is dropped by KVM's validation for an edge line, so it is not sent),
/// at a fixed rate, or as fast as accepted (a window of writes outstanding per SPI, one more per notification).
/// <see cref="DeviceKind.IrqfdResample"/>: asserts a level line; each notification lowers it (the resampler) and
/// re-asserts while the device still needs service, <see cref="DeviceSpec.ServiceCount"/> times in all.
/// A PPI source (an <see cref="DeviceKind.Irqfd"/> over <c>ppi:</c> INTIDs, such as a timer) pends that PPI in every
/// VPE's CPU interface at its rate: PPIs never reach the IRS or the AP list.
/// </summary>
public sealed class IrqfdActor : UntypedActor, IWithTimers
{
    private sealed record Tick(uint Spi) : ILocalMessage;
    private sealed record FastTick : ILocalMessage
    {
        public static readonly FastTick Instance = new();
    }

    /// <summary>For a rate above one per timer tick: how many edges each tick serves, and whose turn is next.</summary>
    private Pacer? _pace;
    private uint _next;

    private readonly int _vmId;
    private readonly DeviceSpec _spec;
    private readonly VmTopology _vm;
    private readonly EventLog _log;
    private readonly long _seed;
    private readonly DeviceState _s;

    public IrqfdActor(int vmId, DeviceSpec spec, VmTopology vm, EventLog log, DeviceState state, long seed)
    {
        _vmId = vmId;
        _spec = spec;
        _vm = vm;
        _log = log;
        _s = state;
        _seed = seed;
    }

    public static Props Props(int vmId, DeviceSpec spec, VmTopology vm, EventLog log, DeviceState state, long seed) =>
        DirectProps.Of((vmId, spec, vm, log, state, seed), static a => new IrqfdActor(a.vmId, a.spec, a.vm, a.log, a.state, a.seed));

    /// <summary>A restarted device — or one that took over a VM from another node — re-arms its rate timers; lines and
    /// windows carry on through notifications.</summary>
    protected override void PreStart()
    {
        if (_s.Started && !_s.Stopped) StartTimers();
    }

    protected override void PostRestart(Exception reason) => PreStart();

    private void StartTimers()
    {
        if (_spec.Rate <= 0 || _spec.Kind == DeviceKind.IrqfdResample) return;
        if (_spec.Rate > Pacer.TimerRate)
        {
            // Faster than one timer per interrupt can fire: one timer for the device, each tick serving the edges due
            // over all its interrupts, in turn.
            _pace = Timers.StartPaced(Context.System.Scheduler, "paced", FastTick.Instance, _spec.Rate * _spec.Ids.Count);
            return;
        }
        var rng = new Random(unchecked((int)(_seed ^ (_seed >> 32))));
        var period = TimeSpan.FromSeconds(1.0 / _spec.Rate);
        foreach (var id in _spec.Ids.All())
        {
            // A seeded phase per interrupt: the same seed gives the same schedule of injections.
            var phase = TimeSpan.FromTicks((long)(rng.NextDouble() * period.Ticks));
            Timers.StartPeriodicTimer(id, new Tick(id.Id), phase, period);
        }
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The device's name in the VM: irqfd-spi-40, or irqfd-spi-0-31 for a range.</summary>
    public static string NameOf(DeviceSpec spec) =>
        (spec.Kind == DeviceKind.Irqfd ? "irqfd-" : "irqfd-resample-") + spec.Ids.ToString().Replace(':', '-');

    protected override void OnReceive(object message)
    {
        if (message is MigrationProtocol.Quiesce q) { DirectedProtocol.AnswerQuiesce(q, _s.Processed, Sender); return; }
        _s.Processed++;
        switch (message)
        {
            case DirectedProtocol.Attach:
                if (_s.Started) return;
                _s.Started = _s.Directed = true;
                foreach (var id in _spec.Ids.All())
                    if (id.IsSpi) Send(VmPort.ApList, 0, new ApListProtocol.RegisterNotifier(id.Id, Self));
                break;
            case DirectedProtocol.Write w:
                if (!_spec.Ids.Contains(w.Id)) { Sender.Tell(new IrsProtocol.Refused("irqfd", $"{Self.Path.Name} does not drive {w.Id}")); return; }
                if (_spec.Kind == DeviceKind.IrqfdResample) Assert(w.Id.Id);
                else Edge(w.Id.Id);
                break;
            case Start:
                if (_s.Started) return;
                _s.Started = true;
                foreach (var id in _spec.Ids.All())
                {
                    if (id.IsSpi) Send(VmPort.ApList, 0, new ApListProtocol.RegisterNotifier(id.Id, Self));
                    if (_spec.Kind == DeviceKind.IrqfdResample) Assert(id.Id);
                    else if (_spec.Rate <= 0) for (var w = 0; w < _spec.Window; w++) Edge(id.Id);
                }
                StartTimers();
                break;
            case Tick t:
                Edge(t.Spi);
                break;
            case FastTick:
                for (var n = Pacer.Due(_pace); n > 0 && !_s.Stopped; n--)
                {
                    Edge(_spec.Ids.First + _next);
                    _next = (_next + 1) % (uint)_spec.Ids.Count;
                }
                break;
            case Notified n:
                if (_spec.Kind == DeviceKind.IrqfdResample) Resample(n.Spi);
                else if (_spec.Rate <= 0 && !_s.Directed) Edge(n.Spi);
                break;
            case Consumed c:
                // A directed device writes only when a step drives it (DESIGN.md §6.4), under either design.
                if (_spec.Kind == DeviceKind.Irqfd && _spec.Rate <= 0 && !_s.Directed) Edge(c.Spi);
                break;
            case Stop:
                _s.Stopped = true;
                Timers.CancelAll();
                break;
            case MigrationProtocol.Hold:
                _s.Held.Hold();
                Sender.Tell(MigrationProtocol.Held.Instance);
                break;
            case MigrationProtocol.Release:
                // A registration carried from another node names no device: it is this one.
                _s.Held.Release(_vm, Self, m => m is ApListProtocol.RegisterNotifier r && ((IActorRef)r.Device).IsNobody() ? r with { Device = Self } : m);
                break;
            case MigrationProtocol.Freeze:
                Timers.CancelAll();
                Sender.Tell(new MigrationProtocol.Frozen(_s));
                Become(_ => { });
                break;
            case IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vmId}/{Self.Path.Name}: crash requested");
            case IrsProtocol.Refused:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private bool Take()
    {
        if (_s.Stopped || _s.Budget <= 0) return false;
        _s.Budget--;
        return true;
    }

    private void Edge(uint spi)
    {
        if (_spec.Ids.Type == IntIdType.Ppi) { Ppi(spi); return; }
        if (!Take()) return;
        _log.Log(Ev.Inject, _vmId, null, IntId.Spi(spi), "edge");
        Send(VmPort.ApList, 0, new ApListProtocol.SetIrq(spi, true));
    }

    private void Send(VmPort port, int index, object message) => _s.Held.Send(_vm, port, index, message, Self);

    private void Ppi(uint ppi)
    {
        var id = IntId.Ppi(ppi);
        for (var v = 0; v < _vm.Vpes.Length; v++)
        {
            if (!Take()) return;
            _log.Log(Ev.Inject, _vmId, v, id, "edge");
            Send(VmPort.Vpe, v, new CpuInterfaceProtocol.PpiOp(id, PpiOperation.Pend, 1));
        }
    }

    private void Assert(uint spi)
    {
        if (!Take()) return;
        _log.Log(Ev.Inject, _vmId, null, IntId.Spi(spi), "level");
        Send(VmPort.ApList, 0, new ApListProtocol.SetIrq(spi, true));
    }

    /// <summary>irqfd_resampler_ack: lower the line, signal the resamplefd; the device re-asserts if it still needs service.</summary>
    private void Resample(uint spi)
    {
        Send(VmPort.ApList, 0, new ApListProtocol.SetIrq(spi, false));
        var served = _s.Serviced[spi] = _s.Serviced.GetValueOrDefault(spi) + 1;
        _log.Log(Ev.Resample, _vmId, null, IntId.Spi(spi), served.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (served < _spec.ServiceCount) Assert(spi);
    }
}
