using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Observation;

namespace Fabric.Hardware.Protocol;

/// <summary>The kinds of unit one VM is made of (DESIGN.md §6.3).</summary>
public enum UnitKind : byte
{
    /// <summary>The VM's slice of the IRS (<see cref="VirtualIrsState"/>).</summary>
    Irs,
    /// <summary>KVM's SPI bookkeeping: the seed's AP list, or the merged design's injection path (<see cref="ApListState"/>).</summary>
    ApList,
    /// <summary>A VPE and its virtual CPU interface (<see cref="VpeState"/>); the index is the VPE.</summary>
    Vpe,
    /// <summary>A vCPU thread running the guest; the index is the vCPU.</summary>
    Vcpu,
    /// <summary>The host scheduler: doorbell handler, kicks, preemption.</summary>
    Scheduler,
    /// <summary>A device (an irqfd, with or without a resampler); the index is its place in the scenario's <c>devices</c>.</summary>
    Device,
}

/// <summary>Where a unit's message goes: a unit of the same VM, named by kind and index. An interpreter's wiring says
/// which unit (an actor, an object) an address is.</summary>
public readonly record struct UnitAddress(UnitKind Kind, int Index = 0)
{
    public static readonly UnitAddress Irs = new(UnitKind.Irs);
    public static readonly UnitAddress ApList = new(UnitKind.ApList);
    public static readonly UnitAddress Scheduler = new(UnitKind.Scheduler);
    public static UnitAddress Vpe(int vpe) => new(UnitKind.Vpe, vpe);
    public static UnitAddress Vcpu(int vcpu) => new(UnitKind.Vcpu, vcpu);
    public static UnitAddress Device(int device) => new(UnitKind.Device, device);

    public override string ToString() => Kind is UnitKind.Irs or UnitKind.ApList or UnitKind.Scheduler ? Kind.ToString() : $"{Kind}{Index}";
}

/// <summary>What one effect is: a message to a unit of the VM, a message to a party that is not a unit (the sender of the
/// input being handled, or one the unit stored, e.g. the vCPU whose CDIA awaits the IRS), an event for the log, a timer
/// the unit starts (a message to itself after a delay, once or periodically) or one it cancels.</summary>
public enum EffectKind : byte { Send, Tell, Log, Timer, Cancel }

/// <summary>One effect of a unit's step, as data. <see cref="Target"/> is an interpreter's own token for a party outside
/// the units (an actor reference, a reference model's caller): units store and return it, never look into it. For a timer,
/// <see cref="Target"/> is its key (a timer started under a key replaces the one before it, whose message is then never
/// delivered, as Akka's timers do), <see cref="Delay"/> the time to its first message and <see cref="Period"/> the time
/// between the next ones (zero: once); a cancel with a null key cancels every timer of the unit.</summary>
public readonly record struct Effect(EffectKind Kind, UnitAddress To, object? Target, object? Message, Ev Ev, int? Vpe, IntId? IntId, string? Arg,
    TimeSpan Delay = default, TimeSpan Period = default);

/// <summary>
/// The effects of one input, in the order the unit produced them (a log entry before the message it causes): the one
/// output of every unit's entry point <c>Handle(message, vm, effects)</c>. An interpreter begins a step with the input's
/// sender, lets the unit fill the buffer, then performs each effect its own way — a Tell, a queue, a direct call — and
/// clears it. The buffer is reused, so a step allocates nothing but its messages.
/// </summary>
public sealed class Effects
{
    private Effect[] _items = new Effect[8];

    /// <summary>The sender of the input being handled: the target of <see cref="Reply"/> (null when there is none).</summary>
    public object? Sender { get; private set; }

    /// <summary>The interpreter's token for the unit taking this step: what a unit hands to another as the party to answer
    /// it (a device registering for its notifications).</summary>
    public object? Self { get; private set; }

    /// <summary>The interpreter's time when the step began (monotonic: wall time, or virtual time on the deterministic
    /// schedule): what a unit paces a rate by.</summary>
    public TimeSpan Now { get; private set; }

    public int Count { get; private set; }

    public ReadOnlySpan<Effect> Items => _items.AsSpan(0, Count);

    public Effects Begin(object? sender, object? self = null, TimeSpan now = default)
    {
        Count = 0;
        Sender = sender;
        Self = self;
        Now = now;
        return this;
    }

    public void Clear()
    {
        Array.Clear(_items, 0, Count);
        Count = 0;
        Sender = Self = null;
    }

    /// <summary>A message to a unit of the same VM.</summary>
    public void Send(UnitAddress to, object message) => Add(new Effect(EffectKind.Send, to, null, message, default, null, null, null));

    /// <summary>A message to the input's sender; nothing when it has none.</summary>
    public void Reply(object message)
    {
        if (Sender is not null) Tell(Sender, message);
    }

    /// <summary>A message to a party outside the units, by the token the interpreter gave for it.</summary>
    public void Tell(object target, object message) => Add(new Effect(EffectKind.Tell, default, target, message, default, null, null, null));

    /// <summary>An observable decision (DESIGN.md §5); the interpreter adds the VM, the sequence number and the time.</summary>
    public void Log(Ev ev, int? vpe = null, IntId? intid = null, string? arg = null) => Add(new Effect(EffectKind.Log, default, null, null, ev, vpe, intid, arg));

    /// <summary>A message to this unit itself after <paramref name="delay"/>, once, under <paramref name="key"/>.</summary>
    public void StartTimer(object key, object message, TimeSpan delay) =>
        Add(new Effect(EffectKind.Timer, default, key, message, default, null, null, null, delay));

    /// <summary>A message to this unit itself after <paramref name="delay"/>, then every <paramref name="period"/>, under
    /// <paramref name="key"/>.</summary>
    public void StartPeriodicTimer(object key, object message, TimeSpan delay, TimeSpan period)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        Add(new Effect(EffectKind.Timer, default, key, message, default, null, null, null, delay, period));
    }

    /// <summary>Cancels the timer under <paramref name="key"/>: its message is not delivered, even if already due.</summary>
    public void CancelTimer(object key) => Add(new Effect(EffectKind.Cancel, default, key, null, default, null, null, null));

    /// <summary>Cancels every timer of this unit.</summary>
    public void CancelTimers() => Add(new Effect(EffectKind.Cancel, default, null, null, default, null, null, null));

    private void Add(in Effect e)
    {
        if (Count == _items.Length) Array.Resize(ref _items, Count * 2);
        _items[Count++] = e;
    }
}

/// <summary>What every unit's state carries for its interpreter: how many messages the unit has processed (the actors'
/// quiescence check needs counts that only grow, so the count outlives a restart of the actor).</summary>
public abstract class UnitState
{
    public long Processed { get; set; }
}

/// <summary>A unit of a VM (DESIGN.md §6.3): its one entry point, and what it owes after its interpreter restarted (offers,
/// a fold, an IRQ it asserts), both as effects.</summary>
public interface IVmUnit
{
    /// <summary>One input; false when it is not one of this unit's.</summary>
    bool Handle(object message, VmShape vm, Effects fx);

    /// <summary>After a restart of its interpreter: what the unit re-sends from the state it kept.</summary>
    void Restarted(VmShape vm, Effects fx);
}

/// <summary>What a unit knows of the VM it belongs to: its id, its vCPUs and KVM's policies (design, tracking, notify,
/// DBPM comparison, virtual level).</summary>
public sealed record VmShape(int VmId, int Vcpus, FabricPolicies Policies);
