using System.Diagnostics;
using Akka.Actor;
using Fabric.Bench.Messaging;

namespace Fabric.Bench.Raw;

/// <summary>What the raw Akka limit run measured.</summary>
/// <paramref name="Counted"/>: balls the counting mailbox saw; <paramref name="Delivered"/>: balls the players received (equal
/// when the counter is exact).
public sealed record RawResult(int Pairs, int InFlightPerPair, double MessagesPerSecond, long Counted, long Delivered);

/// <summary>
/// The raw Akka message rate of this machine: many pairs of actors bounce a preallocated message back and forth with
/// Tell, each pair keeping <c>inFlight</c> messages in flight, on the same dispatcher settings and counting mailbox
/// as the fabric runs. Nothing is done per message but the Tell back: the ceiling any actor design reaches here.
/// </summary>
public static class PingPong
{
    private sealed class Ball
    {
        public static readonly Ball Instance = new();
    }

    private sealed class Stats
    {
        public volatile bool Stop;
        public long Delivered;
    }

    private sealed class Player(Stats stats) : UntypedActor
    {
        private long _delivered;

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Ball:
                    _delivered++;
                    SharedAtomic.Touch();
                    if (!stats.Stop) Sender.Tell(Ball.Instance);
                    break;
                case IActorRef partner:
                    partner.Tell(Ball.Instance);
                    break;
            }
        }

        protected override void PostStop() => Interlocked.Add(ref stats.Delivered, _delivered);
    }

    public static async Task<RawResult> RunAsync(int pairs, int inFlight, TimeSpan warmup, TimeSpan measure, bool sharedAtomic = false)
    {
        SharedAtomic.Enabled = sharedAtomic;
        using var system = BenchSystems.Create("raw", countMessages: true);
        var start = MessageCounter.Total;
        var stats = new Stats();
        var players = new List<IActorRef>();
        for (var p = 0; p < pairs; p++)
        {
            var a = system.ActorOf(Props.Create(() => new Player(stats)));
            var b = system.ActorOf(Props.Create(() => new Player(stats)));
            players.Add(a);
            players.Add(b);
            // a serves the first ball to b, inFlight times: b answers a, a answers b, ...
            for (var i = 0; i < inFlight; i++) a.Tell(b, ActorRefs.NoSender);
        }
        await Task.Delay(warmup).ConfigureAwait(false);
        var m0 = MessageCounter.Total;
        var t0 = Stopwatch.GetTimestamp();
        await Task.Delay(measure).ConfigureAwait(false);
        var m1 = MessageCounter.Total;
        var seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        stats.Stop = true;
        await Task.Delay(50).ConfigureAwait(false);
        // The analytic count: one serve per ball, then one Tell per delivery; the counting mailbox must agree.
        var counted = MessageCounter.Total - start - (long)pairs * inFlight;
        foreach (var p in players) await p.GracefulStop(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        await system.Terminate().ConfigureAwait(false);
        SharedAtomic.Enabled = false;
        return new RawResult(pairs, inFlight, (m1 - m0) / seconds, counted, Interlocked.Read(ref stats.Delivered));
    }
}
