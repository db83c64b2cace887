using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Fabric.Actors;

/// <summary>
/// The fabric's mailbox type (<c>akka.actor.default-mailbox.mailbox-type</c> in akka.hocon): an unbounded mailbox whose
/// queue is <see cref="LinkedMessageQueue"/>. Akka's own unbounded mailbox keeps a <c>ConcurrentQueue</c> whose first
/// segment holds 32 envelope slots (about 0.8 KB) from the actor's creation on, although most of the fabric's mailboxes
/// hold one message at a time and 13 of them sit idle per VM; the linked queue holds one node when empty.
/// </summary>
public sealed class LinkedMailbox : MailboxType, IProducesMessageQueue<LinkedMessageQueue>
{
    public LinkedMailbox(Settings settings, Config config) : base(settings, config) { }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new LinkedMessageQueue();
}

/// <summary>
/// A lock-free multi-producer, single-consumer linked queue (D. Vyukov's intrusive MPSC queue): a producer swaps its node
/// in as the tail with one <see cref="Interlocked.Exchange{T}(ref T, T)"/> and then links the previous tail to it; the
/// consumer (the mailbox's one running thread) follows the links from a stub node. No locks and no shared counter:
/// the empty queue is the queue object and one node, and each message costs one node. Between a producer's exchange
/// and its link the consumer sees the queue as ending before that node, so <see cref="HasMessages"/> is not "the head has
/// a successor" but "a producer has swapped in a node the consumer has not reached" (tail != head): the mailbox that
/// finishes a run in that window asks again whether it has messages before it goes idle, and with the successor test it
/// went idle on a message whose producer had found it still running — a lost wake-up that left the message in the queue
/// for ever (the PE actor's storm lost one message in a few seconds; with this test, in no run). In the window the
/// mailbox is rescheduled and finds nothing until the link lands.
/// It is also a deque (<see cref="EnqueueFirst"/>), so an actor with a stash (the VmActor) gets it too, where Akka's
/// deque mailbox is again a <c>ConcurrentQueue</c>.
/// </summary>
public sealed class LinkedMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    private sealed class Node
    {
        public Envelope Envelope;
        public Node? Next;
    }

    private Node _head;   // the consumer's: the node whose successor is the next message
    private Node _tail;   // the producers': the last node swapped in

    public LinkedMessageQueue() => _head = _tail = new Node();

    /// <summary>A node swapped in that the consumer has not taken, linked yet or not (see the class).</summary>
    public bool HasMessages => Volatile.Read(ref _tail) != Volatile.Read(ref _head);

    /// <summary>Walks the queue (Akka reads it only for diagnostics).</summary>
    public int Count
    {
        get
        {
            var n = 0;
            for (var node = Volatile.Read(ref Volatile.Read(ref _head).Next); node is not null; node = Volatile.Read(ref node.Next)) n++;
            return n;
        }
    }

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        var node = new Node { Envelope = envelope };
        var previous = Interlocked.Exchange(ref _tail, node);
        Volatile.Write(ref previous.Next, node);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        var next = Volatile.Read(ref _head.Next);
        if (next is null)
        {
            envelope = default;
            return false;
        }
        envelope = next.Envelope;
        next.Envelope = default;   // the node becomes the stub: it keeps nothing alive
        Volatile.Write(ref _head, next);
        return true;
    }

    /// <summary>Puts a message back at the front: called only by the consumer (an actor unstashing), which owns the
    /// head. The stub takes the envelope and a new stub goes before it; producers, at the tail, are not disturbed.</summary>
    public void EnqueueFirst(Envelope envelope)
    {
        var head = _head;
        head.Envelope = envelope;
        Volatile.Write(ref _head, new Node { Next = head });
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
    }
}
