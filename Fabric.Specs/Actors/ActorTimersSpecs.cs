using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Vm;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>A unit's actor runs its unit's timers itself, with Akka's timer semantics, and makes nothing until the first
/// timer starts.</summary>
public class ActorTimersSpecs : TestKit
{
    public ActorTimersSpecs() : base("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF") { }

    private sealed record Start(object Key, string Message, TimeSpan Delay, TimeSpan? Period = null);
    private sealed record Cancel(object Key, TimeSpan WaitFirst);
    private sealed record Replace(object Key, string First, string Second);
    private sealed record Crash;
    private sealed record HasTimers;

    /// <summary>Tells the probe what its timers deliver, and whether it has made any.</summary>
    private sealed class Timed(IActorRef probe) : TimedActor
    {
        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Start s when s.Period is { } p: Timers.StartPeriodicTimer(s.Key, s.Message, s.Delay, p); break;
                case Start s: Timers.StartSingleTimer(s.Key, s.Message, s.Delay); break;
                case Cancel c:
                    Thread.Sleep(c.WaitFirst);   // the timer's message reaches the mailbox meanwhile
                    StartedTimers?.Cancel(c.Key);
                    break;
                case Replace r:
                    Timers.StartSingleTimer(r.Key, r.First, TimeSpan.Zero);
                    Thread.Sleep(TimeSpan.FromMilliseconds(100));
                    Timers.StartSingleTimer(r.Key, r.Second, TimeSpan.Zero);
                    break;
                case Crash: throw new InvalidOperationException("crash requested");
                case HasTimers: probe.Tell(StartedTimers is null ? "none" : $"{StartedTimers.Active} active"); break;
                default: probe.Tell(message); break;
            }
        }
    }

    private IActorRef Make() => Sys.ActorOf(Props.Create(() => new Timed(TestActor)));

    [Fact]
    public void An_actor_that_starts_no_timer_makes_none()
    {
        var a = Make();
        a.Tell(new HasTimers());
        ExpectMsg("none");
    }

    [Fact]
    public void A_single_timer_fires_once_and_is_then_over()
    {
        var a = Make();
        a.Tell(new Start("k", "tick", TimeSpan.FromMilliseconds(20)));
        ExpectMsg("tick");
        ExpectNoMsg(TimeSpan.FromMilliseconds(150));
        a.Tell(new HasTimers());
        ExpectMsg("0 active");
    }

    [Fact]
    public void A_periodic_timer_fires_until_cancelled()
    {
        var a = Make();
        a.Tell(new Start("k", "tick", TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)));
        ExpectMsg("tick");
        ExpectMsg("tick");
        ExpectMsg("tick");
        a.Tell(new Cancel("k", TimeSpan.Zero));
        a.Tell(new HasTimers());
        // Ticks told before the cancel may still be on their way to the probe; none comes after it.
        FishForMessage(m => m is "0 active", TimeSpan.FromSeconds(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(150));
    }

    [Fact]
    public void A_cancelled_timer_whose_message_is_already_queued_delivers_nothing()
    {
        var a = Make();
        a.Tell(new Start("k", "late", TimeSpan.Zero));
        a.Tell(new Cancel("k", TimeSpan.FromMilliseconds(100)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_timer_started_under_a_key_in_use_replaces_the_earlier_one_and_drops_its_queued_message()
    {
        var a = Make();
        a.Tell(new Replace("k", "first", "second"));
        ExpectMsg("second");
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_restart_cancels_every_timer()
    {
        var a = Make();
        a.Tell(new Start("k", "tick", TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)));
        ExpectMsg("tick");
        a.Tell(new Crash());
        a.Tell(new HasTimers());
        FishForMessage(m => m is "none", TimeSpan.FromSeconds(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(150));
    }
}
