using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Deterministic;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Deterministic;

/// <summary>A fabric on the deterministic schedule (DESIGN.md §6.5), whichever interpreter runs it: the actors on the
/// deterministic loop (<see cref="DeterministicRun"/>) or the units without Akka (<see cref="UnitRun"/>). One thread
/// makes it, drives it and disposes it.</summary>
public interface IDeterministicRun : IDisposable
{
    IFabric Fabric { get; }
    EventLog Log { get; }
    /// <summary>Which interpreter runs the units: "units" (their own schedule) or "actors" (the deterministic loop).</summary>
    string Interpreter { get; }
    /// <summary>Virtual time since the fabric was built.</summary>
    TimeSpan Now { get; }
    /// <summary>Deliveries made so far.</summary>
    long Steps { get; }
    /// <summary>Nothing left to do: no message ready or arriving, no timer set.</summary>
    bool Idle { get; }
    /// <summary>Runs until <paramref name="done"/> holds, virtual time reaches <paramref name="until"/> or nothing is left
    /// to do.</summary>
    bool RunUntil(Func<bool> done, TimeSpan until);

    /// <summary>The interpreter for <paramref name="vms"/> VMs of <paramref name="spec"/>: the units' own (thousands of
    /// schedules a second) for what it runs, a storm's build, boot, devices and drain; the actors on the deterministic
    /// loop for the rest (a VM that moves). <paramref name="log"/> makes the event log, stamped with the run's virtual
    /// time (read through the function it is given).</summary>
    static IDeterministicRun Start(int vms, VmSpec spec, long seed, ScheduleStrategy strategy, Akka.Configuration.Config? akka,
        Func<Func<TimeSpan>, EventLog> log) =>
        UnitFabric.Runs(spec) ? new UnitRun(vms, spec, seed, strategy, log)
            : DeterministicRun.Start(vms, spec, seed, strategy, akka, log: scheduler => log(() => scheduler.Now));
}

/// <summary>
/// The units on their own deterministic schedule (<see cref="UnitFabric"/>, Fabric.Hardware), behind the host's fabric
/// interface: the devices start and stop, events go to the event log. It takes no injection from outside and no move
/// (those scenarios run on the actors' loop, <see cref="IDeterministicRun.Start"/>).
/// </summary>
public sealed class UnitRun : IDeterministicRun, IFabric
{
    private readonly UnitFabric _units;

    public UnitRun(int vms, VmSpec spec, long seed, ScheduleStrategy strategy, Func<Func<TimeSpan>, EventLog> log)
    {
        UnitFabric? units = null;
        Log = log(() => units?.Now ?? TimeSpan.Zero);
        var events = Log;
        _units = units = new UnitFabric(vms, spec, seed, strategy, (ev, vm, vpe, id, arg) => events.Log(ev, vm, vpe, id, arg));
    }

    /// <summary>A run whose events go to <paramref name="observe"/> as they happen, numbered by a log that keeps none (what
    /// explore checks at thousands of schedules a second: no queue between the units and the checks).</summary>
    public UnitRun(int vms, VmSpec spec, long seed, ScheduleStrategy strategy, Action<FabricEvent> observe)
    {
        UnitFabric? units = null;
        var events = Log = new EventLog(record: false, sequenced: true);
        _units = units = new UnitFabric(vms, spec, seed, strategy, (ev, vm, vpe, id, arg) =>
            observe(new FabricEvent(events.Log(ev, vm, vpe, id, arg), (long)units!.Now.TotalNanoseconds, ev, vm, vpe, id, arg)));
    }

    public IFabric Fabric => this;
    public EventLog Log { get; }
    public string Interpreter => "units";
    public int VmCount => _units.VmCount;
    public TimeSpan Now => _units.Now;
    public long Steps => _units.Steps;
    public bool Idle => _units.Idle;

    public bool RunUntil(Func<bool> done, TimeSpan until) => _units.RunUntil(done, until);
    public void StartDevices() => _units.StartDevices();
    public void StopDevices() => _units.StopDevices();

    public string? Inject(int vm, uint spi, bool level, IActorRef? replyTo = null) =>
        "an injection from outside runs on the actors' deterministic loop, not on the units' schedule";

    public string? Migrate(int vm, IActorRef? replyTo = null) =>
        "a move runs on the actors' deterministic loop, not on the units' schedule";

    /// <summary>Quiescent when nothing is left to do; the caller's thread drives the schedule, so this only asks.</summary>
    public Task<bool> AwaitQuiescenceAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default) => Task.FromResult(_units.Idle);

    public void Dispose() { }
}
