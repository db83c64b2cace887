using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.Dispatch.MessageQueues;
using Akka.TestKit.Xunit2;
using Fabric.Actors;
using Fabric.Hardware;
using Fabric.Actors.Vm;
using Xunit;

namespace Fabric.Specs.Actors;

/// <summary>The fabric's mailbox (akka.hocon: every actor's, and the stashing actors' deque): a lock-free linked queue.
/// It keeps each producer's order, loses and duplicates nothing under concurrent producers, puts an unstashed message
/// first, hands what is left to dead letters, and runs the fabric — moves and their stash included — with every
/// invariant kept.</summary>
public class LinkedMailboxSpecs() : TestKit(FabricMailboxes)
{
    /// <summary>The two lines of akka.hocon that make the linked queue every actor's mailbox.</summary>
    private const string FabricMailboxes = """
        akka.actor.default-mailbox.mailbox-type = "Fabric.Actors.LinkedMailbox, Fabric.Actors"
        akka.actor.mailbox.unbounded-deque-based.mailbox-type = "Fabric.Actors.LinkedMailbox, Fabric.Actors"
        """;

    private static Envelope E(object message) => new(message, ActorRefs.NoSender);

    [Fact]
    public void An_empty_queue_has_no_messages_and_gives_none()
    {
        var q = new LinkedMessageQueue();
        Assert.False(q.HasMessages);
        Assert.Equal(0, q.Count);
        Assert.False(q.TryDequeue(out _));
    }

    [Fact]
    public void Messages_leave_in_the_order_they_came_and_an_enqueue_first_goes_before_them()
    {
        var q = new LinkedMessageQueue();
        foreach (var i in new[] { 1, 2, 3 }) q.Enqueue(ActorRefs.Nobody, E(i));
        Assert.True(q.TryDequeue(out var first));
        q.EnqueueFirst(E(0));
        q.EnqueueFirst(first);   // an actor unstashing puts back, first to last, what it stashed
        Assert.Equal(4, q.Count);
        var order = new List<object>();
        while (q.TryDequeue(out var e)) order.Add(e.Message);
        Assert.Equal([1, 0, 2, 3], order);
        Assert.False(q.HasMessages);
    }

    [Fact]
    public void Enqueue_first_on_an_empty_queue_is_then_followed_by_what_producers_add()
    {
        var q = new LinkedMessageQueue();
        q.EnqueueFirst(E("stashed"));
        q.Enqueue(ActorRefs.Nobody, E("new"));
        Assert.True(q.TryDequeue(out var a));
        Assert.True(q.TryDequeue(out var b));
        Assert.Equal(("stashed", "new"), (a.Message, b.Message));
    }

    [Fact]
    public void Clean_up_hands_every_message_left_to_dead_letters_in_order()
    {
        var q = new LinkedMessageQueue();
        var dead = new LinkedMessageQueue();
        foreach (var i in new[] { 1, 2, 3 }) q.Enqueue(ActorRefs.Nobody, E(i));
        q.CleanUp(ActorRefs.Nobody, dead);
        Assert.False(q.HasMessages);
        var order = new List<object>();
        while (dead.TryDequeue(out var e)) order.Add(e.Message);
        Assert.Equal([1, 2, 3], order);
    }

    [Fact]
    public async Task Concurrent_producers_lose_and_duplicate_nothing_and_each_keeps_its_order()
    {
        const int producers = 4, each = 50_000;
        var q = new LinkedMessageQueue();
        using var start = new ManualResetEventSlim();
        var writers = Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            start.Wait();
            for (var i = 0; i < each; i++) q.Enqueue(ActorRefs.Nobody, E((p, i)));
        })).ToArray();
        var next = new int[producers];
        var taken = 0;
        var reader = Task.Run(() =>
        {
            start.Wait();
            while (taken < producers * each)
            {
                if (!q.TryDequeue(out var e)) { Thread.Yield(); continue; }
                var (p, i) = ((int, int))e.Message;
                Assert.Equal(next[p], i);   // per producer: in order, once
                next[p]++;
                taken++;
            }
        });
        start.Set();
        await Task.WhenAll([.. writers, reader]);
        Assert.All(next, n => Assert.Equal(each, n));
        Assert.False(q.HasMessages);
    }

    [Fact]
    public async Task The_fabric_on_the_linked_mailbox_keeps_every_invariant_through_moves_that_stash()
    {
        var run = await FabricHarness.MovedStormServedToTheLastAsync(Sys, moves: 10, every: TimeSpan.FromMilliseconds(20), perDevice: 2000);
        Assert.True(run.Checker.Acknowledged > 2000, run.Describe());
    }

    [Fact]
    public async Task A_vm_actor_which_stashes_and_its_units_all_get_the_linked_queue()
    {
        var rt = await FabricRuntime.BuildAsync(Sys, 1, VmSpec.Simple(vcpus: 2), new Fabric.Actors.Observation.EventLog(record: false));
        var t = rt.Vms[0];
        foreach (var actor in new[] { t.Vm, t.Virs, t.ApList, t.Scheduler, t.Vpes[0], t.Vcpus[1] })
            Assert.IsType<LinkedMessageQueue>(((ActorCell)((ActorRefWithCell)actor).Underlying).Mailbox!.MessageQueue);
    }
}
