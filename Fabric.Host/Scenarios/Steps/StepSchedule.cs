using System.Diagnostics;
using Fabric.Actors;
using Fabric.Actors.Deterministic;
using Fabric.Actors.Protocols;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>
/// How a directed run lets the fabric work (DESIGN.md §6.4): the one step interpreter (<see cref="DirectedRunner"/>) sends
/// every step from <see cref="Inbox"/>, and the schedule brings the step's answer back, settles the fabric after the step
/// (nothing in flight) and lets time pass for a <c>wait</c>. Two ways to do it: on the threaded fabric
/// (<see cref="ThreadedSteps"/>) and on the deterministic schedule (<see cref="LoopSteps"/>, DESIGN.md §6.5).
/// </summary>
public interface IStepSchedule : IDisposable
{
    /// <summary>The sender of every step: the fabric's answers and refusals come back here.</summary>
    StepInbox Inbox { get; }

    /// <summary>The answer of type <typeparamref name="T"/> that <paramref name="match"/> accepts (a CDIA's result, an
    /// MMIO access, a state read, a move's end); a <see cref="TimeoutException"/> when the fabric does not send it.</summary>
    Task<T> AnswerAsync<T>(Func<T, bool> match) where T : class;

    /// <summary>Returns once nothing is in flight anywhere in the fabric (a timer set for later is not in flight); a
    /// <see cref="TimeoutException"/> when the fabric never settles.</summary>
    Task SettleAsync();

    /// <summary>Lets <paramref name="time"/> pass (a <c>wait</c> step), the timers due meanwhile firing.</summary>
    Task WaitAsync(TimeSpan time);
}

/// <summary>
/// A directed run on the threaded fabric: answers arrive on Akka's threads and are awaited (for at most
/// <see cref="DirectedRunner.ReplyTimeout"/>, or <see cref="ScenarioRunner.DrainAfterSignal"/> past a shutdown request);
/// a settle asks every unit and driver of every VM how many messages it has processed, round after round, each round
/// asked once the previous one is answered, until two rounds count the same: a unit only sends while it processes a
/// message, so nothing is then in flight (the argument of <see cref="MigrationProtocol.Quiesce"/>, extended to the
/// drivers, through which a doorbell passes on its way to the vCPU); a wait is wall time.
/// </summary>
public sealed class ThreadedSteps(FabricRuntime fabric, CancellationToken stop) : IStepSchedule
{
    private const int MaxSettleRounds = 100_000;
    private long _round;

    public StepInbox Inbox { get; } = new(fabric.System);

    public Task<T> AnswerAsync<T>(Func<T, bool> match) where T : class =>
        Inbox.NextAsync(match, DirectedRunner.ReplyTimeout, stop, ScenarioRunner.DrainAfterSignal);

    public async Task SettleAsync()
    {
        long previous = -1;
        for (var i = 0; i < MaxSettleRounds; i++)
        {
            var round = ++_round;
            var asked = 0;
            foreach (var vm in fabric.Vms)
                foreach (var actor in vm.Vpes.Concat(vm.Vcpus).Append(vm.Virs).Append(vm.ApList).Append(vm.Scheduler).Concat(vm.Devices))
                {
                    actor.Tell(new MigrationProtocol.Quiesce(round), Inbox.Ref);
                    asked++;
                }
            long total = 0;
            for (var k = 0; k < asked; k++)
                total += (await AnswerAsync<MigrationProtocol.Quiet>(q => q.Round == round).ConfigureAwait(false)).Processed;
            if (total == previous) return;
            previous = total;
        }
        throw new TimeoutException($"the fabric was still busy after {MaxSettleRounds} quiescence rounds");
    }

    public Task WaitAsync(TimeSpan time) => Task.Delay(time, CancellationToken.None);

    public void Dispose() => Inbox.Dispose();
}

/// <summary>
/// A directed run on the deterministic schedule (DESIGN.md §6.5): every call runs on the loop's own thread, and the loop
/// itself delivers each step, every message the step causes and the answer, in the order the seed chooses — nothing
/// blocks the thread waiting for another. An answer is awaited by running the loop until it has been delivered; the
/// fabric has settled when the loop has no message ready (what is left waits for a timer); a wait moves virtual time on,
/// running the timers due. Each task this returns has completed when it is returned, so the interpreter's awaits go on
/// on the loop's thread. A fabric that stays busy for <see cref="Limit"/> of virtual time (a livelock), or past
/// <see cref="ScenarioRunner.DrainAfterSignal"/> of wall time after a shutdown request, ends the step with a
/// <see cref="TimeoutException"/>.
/// </summary>
public sealed class LoopSteps : IStepSchedule
{
    /// <summary>How much virtual time a step may take to settle or answer: two million deliveries.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly DeterministicRun _run;
    private readonly CancellationToken _stop;
    private readonly Thread _owner = Thread.CurrentThread;
    private long? _stoppedAt;

    /// <summary>Made on the loop's thread, where every call must come from.</summary>
    public LoopSteps(DeterministicRun run, CancellationToken stop)
    {
        _run = run;
        _stop = stop;
        Inbox = new StepInbox(run.System, run.Loop);
    }

    public StepInbox Inbox { get; }

    public Task<T> AnswerAsync<T>(Func<T, bool> match) where T : class
    {
        T found = null!;
        Run(() => Inbox.TryTake(match, out found), $"no {typeof(T).Name} came back");
        return Task.FromResult(found);
    }

    public Task SettleAsync()
    {
        Run(() => _run.Loop.Settled, "the fabric was still busy");
        return Task.CompletedTask;
    }

    public Task WaitAsync(TimeSpan time)
    {
        OnLoop();
        _run.RunUntil(Cut, _run.Now + time);
        return Task.CompletedTask;
    }

    private void Run(Func<bool> done, string failure)
    {
        OnLoop();
        var reached = false;
        _run.RunUntil(() => (reached = done()) || Cut(), _run.Now + Limit);
        if (reached) return;
        throw new TimeoutException(Cut() ? $"{failure} before the shutdown request's {ScenarioRunner.DrainAfterSignal.TotalSeconds:F0} s were up"
            : _run.Loop.Settled ? $"{failure}: the fabric settled without it"
            : $"{failure} within {Limit.TotalSeconds:F0} s of virtual time ({_run.Loop.Steps:N0} deliveries in all)");
    }

    /// <summary>A shutdown request was made, and <see cref="ScenarioRunner.DrainAfterSignal"/> has passed since.</summary>
    private bool Cut()
    {
        if (!_stop.IsCancellationRequested) return false;
        _stoppedAt ??= Stopwatch.GetTimestamp();
        return Stopwatch.GetElapsedTime(_stoppedAt.Value) >= ScenarioRunner.DrainAfterSignal;
    }

    private void OnLoop()
    {
        if (Thread.CurrentThread != _owner)
            throw new InvalidOperationException("a directed step on the deterministic schedule must run on the loop's thread (an await went asynchronous)");
    }

    public void Dispose() => Inbox.Dispose();
}
