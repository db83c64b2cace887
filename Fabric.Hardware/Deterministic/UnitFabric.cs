using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Hardware.Deterministic;

/// <summary>Where the units' events go: the VM, and what a unit logged (DESIGN.md §5).</summary>
public delegate void UnitEventSink(Ev ev, int vm, int? vpe, IntId? intid, string? arg);

/// <summary>A unit started a timer in a fabric whose deliveries a guide chooses (an exhaustive exploration enumerates
/// orders of messages only): the scenario is refused, by the timer's name.</summary>
public sealed class TimerRefusedException(string message) : InvalidOperationException(message);

/// <summary>What chooses every delivery of a <see cref="UnitFabric"/> instead of a seed (an exhaustive exploration), and
/// learns what each did. Units are named by their place among the fabric's units, in the order they were built.</summary>
public interface IDeliveryGuide
{
    /// <summary>Which of <paramref name="ready"/> (the units with a message ready) delivers next: an index into it.</summary>
    int Choose(IReadOnlyList<int> ready);

    /// <summary>Unit <paramref name="unit"/> took one message and sent to <paramref name="sentTo"/> (in order; a unit may
    /// appear more than once).</summary>
    void Delivered(int unit, IReadOnlyList<int> sentTo);
}

/// <summary>
/// The deterministic scheduler as an interpreter of the units (DESIGN.md §6.3, §6.5), without Akka, wired as the actors
/// are: the IRS slice, the AP list, each PE (a vCPU's guest and its VPE, one mailbox: what one of them sends the other is
/// delivered within the same step, as the PE actor delivers it within its turn; a message from outside goes to the unit
/// <see cref="PeRouting"/> names), the host scheduler and each device have a mailbox (a FIFO queue, as an actor's is: in
/// process, a message joins its receiver's queue when it is sent, so per sender-receiver pair and across senders the
/// order is the order of sending), one message is delivered per step, and the seed chooses which ready mailbox
/// delivers next (<see cref="ReadySet{T}"/>, the same choice the actors' deterministic loop makes). Timers run in virtual
/// time with Akka's semantics (a timer started under a key replaces the one before; a cancelled timer's message is not
/// delivered, even when it is already queued); each delivery costs <see cref="DeliveryCost"/> of virtual time, so a
/// fabric that never goes idle still reaches its deadlines. The same VMs, spec, seed and strategy give the same events in
/// the same order, every run. Holds no semantics: what a message does is its unit's.
/// <para>It runs what a storm scenario runs: VMs built and booted, their devices started and stopped. A move (the saga
/// of VmMoveActor), a directed scenario's steps and a cluster are the actors' (they run on the actors' deterministic
/// loop instead); <see cref="Runs"/> says whether a VM spec is one this interpreter takes.</para>
/// <para>Not thread-safe: one thread builds it and drives it.</para>
/// </summary>
public sealed class UnitFabric
{
    /// <summary>The virtual time one delivery takes, on this schedule and the actors' deterministic loop alike: a few real
    /// mailbox turns on a loaded machine, so that a fabric that never goes idle reaches a drain timeout of seconds in a
    /// few seconds of real time.</summary>
    public static readonly TimeSpan DeliveryCost = TimeSpan.FromMicroseconds(5);

    private readonly ReadySet<Mailbox> _ready;
    private readonly PriorityQueue<(Mailbox Box, object Key, long Generation), (TimeSpan Due, long Order)> _timers = new();
    private readonly Effects _fx = new();
    /// <summary>What a PE's two units sent each other during the current step, to deliver before it ends.</summary>
    private readonly Queue<(UnitToken To, object Message, UnitToken From)> _local = new();
    private readonly VmUnitsWired[] _vms;
    private readonly UnitEventSink _log;
    private readonly IDeliveryGuide? _guide;
    private readonly List<int>? _sentTo;
    private long _order, _generation;
    private int _units;

    /// <summary>Builds and boots <paramref name="vms"/> VMs of <paramref name="spec"/>; <paramref name="seed"/> and
    /// <paramref name="strategy"/> choose every delivery; events go to <paramref name="log"/>.</summary>
    public UnitFabric(int vms, VmSpec spec, long seed, ScheduleStrategy strategy, UnitEventSink log) : this(vms, spec, log, seed, strategy, null) { }

    /// <summary>Builds and boots <paramref name="vms"/> VMs of <paramref name="spec"/> whose every delivery
    /// <paramref name="guide"/> chooses, and is told of (an exhaustive exploration); events go to <paramref name="log"/>.</summary>
    public UnitFabric(int vms, VmSpec spec, IDeliveryGuide guide, UnitEventSink log) : this(vms, spec, log, 0, ScheduleStrategy.Random, guide) { }

    private UnitFabric(int vms, VmSpec spec, UnitEventSink log, long seed, ScheduleStrategy strategy, IDeliveryGuide? guide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vms);
        ArgumentNullException.ThrowIfNull(spec);
        if (Refusal(spec) is { } why) throw new ArgumentException(why, nameof(spec));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _guide = guide;
        if (guide is null) _ready = new ReadySet<Mailbox>(seed, strategy);
        else
        {
            _sentTo = new();
            var ids = new List<int>();
            _ready = new ReadySet<Mailbox>(ready =>
            {
                ids.Clear();
                foreach (var b in ready) ids.Add(b.Id);
                return guide.Choose(ids);
            });
        }
        _vms = new VmUnitsWired[vms];
        for (var vm = 0; vm < vms; vm++)
        {
            var w = _vms[vm] = new VmUnitsWired(vm, spec, () => _units++);
            // The drivers start (a scheduler arms its preemption timer), then the guest boots.
            foreach (var driver in w.Drivers) Restart(driver);
            foreach (var (to, message) in VmBoot.Program(spec)) Enqueue(w.Resolve(to), message, null);
        }
    }

    /// <summary>Why this interpreter does not run <paramref name="spec"/> (null: it does): moves and directed steps
    /// run on the actors' deterministic loop.</summary>
    public static string? Refusal(VmSpec spec) =>
        spec.Directed ? "a directed scenario's steps run on the actors' deterministic loop"
        : spec.Migration is { } m && (m.Every > TimeSpan.Zero || m.At.Count > 0) ? "a VM that moves runs on the actors' deterministic loop (the move saga is theirs)"
        : null;

    /// <summary>Whether this interpreter runs <paramref name="spec"/>.</summary>
    public static bool Runs(VmSpec spec) => Refusal(spec) is null;

    /// <summary>Virtual time since the fabric was built.</summary>
    public TimeSpan Now { get; private set; }

    /// <summary>Deliveries made so far.</summary>
    public long Steps => _ready.Steps;

    public int VmCount => _vms.Length;

    /// <summary>Nothing left to do: no message ready, no live timer.</summary>
    public bool Idle => _ready.Count == 0 && NextDue() is null;

    /// <summary>Every device starts (DeviceProtocol.Start), VM by VM.</summary>
    public void StartDevices()
    {
        foreach (var vm in _vms)
            foreach (var d in vm.Devices) Enqueue(d, DeviceProtocol.Start.Instance, null);
    }

    /// <summary>Every device, vCPU and host scheduler stops (DeviceProtocol.Stop), VM by VM, as the VM's front door tells them.</summary>
    public void StopDevices()
    {
        foreach (var vm in _vms)
        {
            foreach (var d in vm.Devices) Enqueue(d, DeviceProtocol.Stop.Instance, null);
            foreach (var pe in vm.Pes) Enqueue(pe, DeviceProtocol.Stop.Instance, null);
            Enqueue(vm.Scheduler, DeviceProtocol.Stop.Instance, null);
        }
    }

    /// <summary>Runs deliveries, and timers when nothing is ready, until <paramref name="done"/> holds (true), virtual time
    /// would pass <paramref name="until"/>, or nothing is left to do (false for either).</summary>
    public bool RunUntil(Func<bool> done, TimeSpan until)
    {
        while (!done())
        {
            if (_ready.Count > 0)
            {
                Step();
                Now += DeliveryCost;
                if (Now >= until) return false;
                Fire(Now);
                continue;
            }
            if (NextDue() is not { } due || due > until)
            {
                if (until > Now && until != TimeSpan.MaxValue) Now = until;
                return false;
            }
            if (due > Now) Now = due;
            Fire(Now);
        }
        return true;
    }

    private void Step()
    {
        var box = _ready.Take();
        var (message, sender) = box.Queue.Dequeue();
        if (message is TimerFired t)
        {
            // A timer cancelled or started again after this message was queued: Akka drops it, so does this.
            if (box.Timers is null || !box.Timers.TryGetValue(t.Key, out var live) || live.Generation != t.Generation) message = null;
            else
            {
                if (live.Period == TimeSpan.Zero) box.Timers.Remove(t.Key);
                message = t.Message;
            }
        }
        _sentTo?.Clear();
        if (message is not null && box.For(message) is { } unit)
        {
            Run(unit, message, sender);
            // What the PE's two units sent each other, delivered within this step.
            while (_local.TryDequeue(out var l)) Run(l.To, l.Message, l.From);
        }
        _guide?.Delivered(box.Id, _sentTo ?? []);
        if (box.Queue.Count > 0) _ready.Add(box);
        else box.Scheduled = false;
    }

    /// <summary>One step of <paramref name="unit"/>, its effects performed.</summary>
    private void Run(UnitToken unit, object message, object? sender)
    {
        var fx = _fx.Begin(sender, unit, Now);
        if (!unit.Unit.Handle(message, unit.Box.Vm.Shape, fx))
            throw new InvalidOperationException($"{unit}: {message.GetType().Name} is not one of its messages (a wiring error)");
        Perform(unit);
    }

    /// <summary>A driver's start: what its unit owes from its state (its timers), performed.</summary>
    private void Restart(Mailbox box)
    {
        foreach (var unit in box.Units)
        {
            unit.Unit.Restarted(box.Vm.Shape, _fx.Begin(null, unit, Now));
            Perform(unit);
        }
    }

    private void Perform(UnitToken from)
    {
        var box = from.Box;
        foreach (ref readonly var e in _fx.Items)
        {
            switch (e.Kind)
            {
                case EffectKind.Send:
                    Deliver(box.Vm.Resolve(e.To), e.To, e.Message!, from);
                    break;
                case EffectKind.Tell when e.Target is UnitToken to:
                    if (to.Box == box) _local.Enqueue((to, e.Message!, from));
                    else Enqueue(to.Box, e.Message!, from);
                    break;
                case EffectKind.Tell:
                    var address = (UnitAddress)e.Target!;
                    Deliver(box.Vm.Resolve(address), address, e.Message!, from);
                    break;
                case EffectKind.Timer when _guide is not null:
                    throw new TimerRefusedException($"{box}: started a timer ({e.Message!.GetType().Name}); an exhaustive exploration " +
                        "enumerates orders of messages only: give it a scenario without timers (no exits, preemption, reprogramming, IPIs, " +
                        "handler time or device rates)");
                case EffectKind.Log:
                    _log(e.Ev, box.Vm.Shape.VmId, e.Vpe, e.IntId, e.Arg);
                    break;
                case EffectKind.Timer:
                    var timer = new Timer(++_generation, e.Message!, e.Period);
                    (box.Timers ??= new())[e.Target!] = timer;
                    Schedule(box, e.Target!, timer.Generation, Now + e.Delay);
                    break;
                default:
                    if (e.Target is null) box.Timers?.Clear();
                    else box.Timers?.Remove(e.Target);
                    break;
            }
        }
        _fx.Clear();
    }

    /// <summary>A message to the unit at <paramref name="address"/>, in <paramref name="to"/>: within the step when both are
    /// the same PE's, queued otherwise.</summary>
    private void Deliver(Mailbox to, UnitAddress address, object message, UnitToken from)
    {
        if (to == from.Box) _local.Enqueue((to.Unit(address), message, from));
        else Enqueue(to, message, from);
    }

    private void Enqueue(Mailbox to, object message, UnitToken? from)
    {
        if (from is not null) _sentTo?.Add(to.Id);
        to.Queue.Enqueue((message, from));
        if (to.Scheduled) return;
        to.Scheduled = true;
        _ready.Add(to);
    }

    private void Schedule(Mailbox box, object key, long generation, TimeSpan due) => _timers.Enqueue((box, key, generation), (due, _order++));

    private static bool Live(Mailbox box, object key, long generation) =>
        box.Timers is not null && box.Timers.TryGetValue(key, out var t) && t.Generation == generation;

    /// <summary>When the next live timer is due (cancelled ones are dropped), or null.</summary>
    private TimeSpan? NextDue()
    {
        while (_timers.TryPeek(out var t, out var at))
        {
            if (Live(t.Box, t.Key, t.Generation)) return at.Due;
            _timers.Dequeue();
        }
        return null;
    }

    /// <summary>Every live timer due by <paramref name="now"/> queues its message (a periodic one is due again a period later).</summary>
    private void Fire(TimeSpan now)
    {
        while (_timers.TryPeek(out var t, out var at) && at.Due <= now)
        {
            _timers.Dequeue();
            if (!Live(t.Box, t.Key, t.Generation)) continue;
            var timer = t.Box.Timers![t.Key];
            Enqueue(t.Box, new TimerFired(t.Key, t.Generation, timer.Message), null);
            if (timer.Period > TimeSpan.Zero) Schedule(t.Box, t.Key, t.Generation, now + timer.Period);
        }
    }

    /// <summary>A timer of a unit: its generation (which start of the key it is), its message and its period (zero: once).</summary>
    private sealed record Timer(long Generation, object Message, TimeSpan Period);

    /// <summary>A timer's message as it waits in the mailbox: delivered only if its timer is still the live one.</summary>
    private sealed record TimerFired(object Key, long Generation, object Message);

    /// <summary>A unit in its mailbox: the token the unit is known by (the sender of what it sends, the party a CDIA or a
    /// notification answers).</summary>
    private sealed class UnitToken(Mailbox box, IVmUnit unit, UnitAddress address)
    {
        public readonly Mailbox Box = box;
        public readonly IVmUnit Unit = unit;
        public readonly UnitAddress Address = address;

        public override string ToString() => $"vm-{Box.Vm.Shape.VmId}/{Address}";
    }

    /// <summary>A mailbox and the units it serves: one, or a PE's two (its VPE, then its vCPU).</summary>
    private sealed class Mailbox
    {
        /// <summary>The mailbox's place among all the fabric's, in the order they were built.</summary>
        public readonly int Id;
        public readonly VmUnitsWired Vm;
        public readonly UnitToken[] Units;
        public readonly Queue<(object Message, UnitToken? Sender)> Queue = new();
        /// <summary>In the ready set, or delivering.</summary>
        public bool Scheduled;
        public Dictionary<object, Timer>? Timers;

        public Mailbox(VmUnitsWired vm, int id, params (UnitAddress Address, IVmUnit Unit)[] units)
        {
            Vm = vm;
            Id = id;
            Units = [.. units.Select(u => new UnitToken(this, u.Unit, u.Address))];
        }

        /// <summary>The unit at <paramref name="address"/>.</summary>
        public UnitToken Unit(UnitAddress address) => Units.Length == 1 || Units[0].Address == address ? Units[0] : Units[1];

        /// <summary>The unit a message from outside is for: the only one, or the one <see cref="PeRouting"/> names (null: an
        /// answer both of a PE's units ignore).</summary>
        public UnitToken? For(object message) => Units.Length == 1 ? Units[0] : PeRouting.Of(message) switch
        {
            PeUnit.Vpe => Units[0],
            PeUnit.Vcpu => Units[1],
            PeUnit.Ignored => null,
            _ => throw new InvalidOperationException($"{this}: {message.GetType().Name} is not a message of its VPE or its vCPU (a wiring error)"),
        };

        public override string ToString() => Units.Length == 1 ? Units[0].ToString() : $"vm-{Vm.Shape.VmId}/PE{Units[0].Address.Index}";
    }

    /// <summary>One VM's units, built fresh from its spec, in their mailboxes, and the wiring from an address to a mailbox.</summary>
    private sealed class VmUnitsWired
    {
        public readonly VmShape Shape;
        public readonly Mailbox Irs, ApList, Scheduler;
        /// <summary>PE i: VPE i and vCPU i.</summary>
        public readonly Mailbox[] Pes, Devices;

        public VmUnitsWired(int vmId, VmSpec spec, Func<int> id)
        {
            Shape = new VmShape(vmId, spec.Vcpus, spec.Policies);
            var units = VmUnits.Fresh(vmId, spec);
            Irs = new Mailbox(this, id(), (UnitAddress.Irs, units.Virs));
            ApList = new Mailbox(this, id(), (UnitAddress.ApList, units.ApList));
            Pes = [.. Enumerable.Range(0, spec.Vcpus).Select(v => new Mailbox(this, id(), (UnitAddress.Vpe(v), units.Vpes[v]), (UnitAddress.Vcpu(v), units.Vcpus[v])))];
            Scheduler = new Mailbox(this, id(), (UnitAddress.Scheduler, new SchedulerUnit(spec.Host, new SchedulerState(), VmBoot.SchedulerSeed(spec, vmId))));
            Devices = [.. spec.Devices.Select((d, i) => new Mailbox(this, id(),
                (UnitAddress.Device(i), new DeviceUnit(d, new DeviceState(spec.InjectionsPerDevice), VmBoot.DeviceSeed(spec, vmId, i)))))];
        }

        /// <summary>The drivers, in the order their actors start: the host scheduler, then the devices.</summary>
        public IEnumerable<Mailbox> Drivers => Devices.Prepend(Scheduler);

        public Mailbox Resolve(UnitAddress to) => to.Kind switch
        {
            UnitKind.Irs => Irs,
            UnitKind.ApList => ApList,
            UnitKind.Vpe or UnitKind.Vcpu => Pes[to.Index],
            UnitKind.Device => Devices[to.Index],
            _ => Scheduler,
        };
    }
}
