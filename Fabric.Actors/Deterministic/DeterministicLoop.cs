using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Fabric.Hardware.Deterministic;

namespace Fabric.Actors.Deterministic;

/// <summary>
/// The deterministic schedule of DESIGN.md §6.5: every fabric actor's mailbox runs on this loop's one thread, one message
/// per run (<c>throughput = 1</c>), and the seed decides which ready actor runs next; when none is ready, virtual time
/// (<see cref="VirtualScheduler"/>) moves to the next timer. Messages to one actor keep Akka's order (its mailbox is a
/// FIFO queue: per sender-receiver pair, and here also across senders, in the order they were sent), so the orders the
/// loop produces are orders Akka allows, and the same seed, scenario and design give the same order every time.
/// <para>The loop is driven by its owner's thread (<see cref="RunUntil"/>); nothing runs between two calls.</para>
/// </summary>
public sealed class DeterministicLoop
{
    /// <summary>The dispatcher id the fabric's actors are deployed on in a deterministic actor system.</summary>
    public const string DispatcherId = "fabric-deterministic-dispatcher";

    /// <summary>The virtual time one delivery takes: the units' schedule's (<see cref="UnitFabric.DeliveryCost"/>).</summary>
    public static readonly TimeSpan DeliveryCost = UnitFabric.DeliveryCost;

    private readonly ReadySet<IRunnable> _ready;
    private readonly System.Collections.Concurrent.ConcurrentQueue<IRunnable> _foreign = new();
    private readonly Thread _owner = Thread.CurrentThread;

    public DeterministicLoop(ActorSystem system, long seed, ScheduleStrategy strategy = ScheduleStrategy.Random, long expectedSteps = 100_000)
    {
        Scheduler = system.Scheduler as VirtualScheduler
            ?? throw new InvalidOperationException($"a deterministic loop needs akka.scheduler.implementation = \"{typeof(VirtualScheduler).AssemblyQualifiedName}\"");
        _ready = new ReadySet<IRunnable>(seed, strategy, expectedSteps);
        var prerequisites = system.Dispatchers.Prerequisites;
        system.Dispatchers.RegisterConfigurator(DispatcherId, new Configurator(this,
            ConfigurationFactory.ParseString($"id = {DispatcherId}").WithFallback(system.Dispatchers.DefaultDispatcherConfig),
            prerequisites));
    }

    /// <summary>The actor system's settings for a deterministic run: virtual time, and every actor under
    /// <paramref name="root"/> (the IRS, the VMs and their units) deployed on the loop.</summary>
    public static Config SystemConfig(string root = "irs") => ConfigurationFactory.ParseString($$"""
        akka.scheduler.implementation = "{{typeof(VirtualScheduler).AssemblyQualifiedName}}"
        akka.actor.deployment {
          "/{{root}}" { dispatcher = {{DispatcherId}} }
          "/{{root}}/*" { dispatcher = {{DispatcherId}} }
          "/{{root}}/*/*" { dispatcher = {{DispatcherId}} }
        }
        """);

    public VirtualScheduler Scheduler { get; }

    /// <summary>Deliveries made so far.</summary>
    public long Steps => _ready.Steps;

    /// <summary>Runs deliveries, and timers when nothing is ready, until <paramref name="done"/> holds (true), virtual time
    /// would pass <paramref name="until"/>, or nothing is left to do (false for either).</summary>
    public bool RunUntil(Func<bool> done, TimeSpan until)
    {
        while (!done())
        {
            TakeInForeign();
            if (_ready.Count > 0)
            {
                // Each delivery takes a little virtual time, and timers fall due between deliveries as they do while
                // real actors are busy: a fabric that never goes idle (a livelock) still reaches the deadline.
                Step();
                Scheduler.Charge(DeliveryCost);
                if (Scheduler.Now >= until) return false;
                Scheduler.AdvanceToNext(Scheduler.Now);
                continue;
            }
            if (!Scheduler.AdvanceToNext(until)) return false;
        }
        return true;
    }

    /// <summary>Creates a top-level actor deployed on the loop and runs the loop until it has started. Akka starts a
    /// top-level actor from its guardian's thread, so its first run reaches the loop from outside; one at a time, and
    /// settled before the next, the start is still the same every run.</summary>
    public IActorRef Spawn(Func<IActorRef> create)
    {
        var actor = create();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_foreign.IsEmpty && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Yield();
        RunUntil(() => false, Scheduler.Now);
        return actor;
    }

    /// <summary>Whether an actor has a message ready.</summary>
    public bool Busy => _ready.Count > 0;

    /// <summary>No message ready or arriving: whatever is left to do waits for a timer (a directed run's settle between
    /// two steps, DESIGN.md §6.4).</summary>
    public bool Settled => _ready.Count == 0 && _foreign.IsEmpty;

    /// <summary>Nothing left to do: no message ready or arriving, no timer set.</summary>
    public bool Idle => Settled && Scheduler.NextDue() is null;

    private void Step() => _ready.Take().Run();

    /// <summary>A mailbox with something to run. From the loop's own thread it joins the ready set at once; from another
    /// thread (Akka's system actors stopping the fabric at shutdown) it waits to be taken in by the loop.</summary>
    private void Ready(IRunnable run)
    {
        if (Thread.CurrentThread == _owner) _ready.Add(run);
        else _foreign.Enqueue(run);
    }

    private void TakeInForeign()
    {
        while (_foreign.TryDequeue(out var run)) _ready.Add(run);
    }

    /// <summary>Runs the loop until <paramref name="task"/> completes (the actor system's termination, whose messages come
    /// from Akka's own threads), for at most <paramref name="timeout"/> of real time.</summary>
    public bool RunUntilCompleted(Task task, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!task.IsCompleted && clock.Elapsed < timeout)
        {
            TakeInForeign();
            if (_ready.Count > 0) Step();
            else if (!Scheduler.AdvanceToNext(Scheduler.Now + TimeSpan.FromSeconds(1))) Thread.Sleep(1);
        }
        return task.IsCompleted;
    }

    private sealed class Dispatcher : MessageDispatcher
    {
        private readonly DeterministicLoop loop;

        /// <summary>One message per mailbox run: a custom dispatcher starts at Akka's default of 100 (only Akka's own
        /// configurators copy a config's <c>throughput</c>), which made each delivery a batch of up to 100 messages and
        /// left every order inside a batch unexplored.</summary>
        public Dispatcher(DeterministicLoop loop, MessageDispatcherConfigurator configurator) : base(configurator)
        {
            this.loop = loop;
            Throughput = 1;
            ThroughputDeadlineTime = null;
        }

        protected override void ExecuteTask(IRunnable run) => loop.Ready(run);

        protected override void Shutdown() { }
    }

    private sealed class Configurator : MessageDispatcherConfigurator
    {
        private readonly Dispatcher _dispatcher;

        public Configurator(DeterministicLoop loop, Config config, IDispatcherPrerequisites prerequisites) : base(config, prerequisites) =>
            _dispatcher = new Dispatcher(loop, this);

        public override MessageDispatcher Dispatcher() => _dispatcher;
    }
}
