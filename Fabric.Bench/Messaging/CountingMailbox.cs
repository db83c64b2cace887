using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Fabric.Bench.Messaging;

/// <summary>
/// Counts every user message enqueued into any actor's mailbox of an actor system configured with
/// <see cref="CountingMailbox"/> (Tells, replies, timer messages; not Akka's system messages). Each thread counts into
/// its own cell, so counting adds no shared write to the hot path; <see cref="Total"/> sums the cells. Bench only.
/// </summary>
public static class MessageCounter
{
    private sealed class Cell
    {
        public long Count;
        public Dictionary<Type, long>? ByType;
    }

    [ThreadStatic] private static Cell? t_cell;
    private static readonly ConcurrentBag<Cell> Cells = new();
    private static volatile bool s_byType;

    /// <summary>When set, also counts per message type (slower: a dictionary lookup per message). Only for the breakdown run.</summary>
    public static bool ByType
    {
        get => s_byType;
        set => s_byType = value;
    }

    public static void Count(object message)
    {
        var cell = t_cell ?? Register();
        cell.Count++;
        if (!s_byType) return;
        var by = cell.ByType ??= new Dictionary<Type, long>();
        var t = message.GetType();
        by[t] = by.GetValueOrDefault(t) + 1;
    }

    private static Cell Register()
    {
        var cell = new Cell();
        Cells.Add(cell);
        t_cell = cell;
        return cell;
    }

    /// <summary>Messages counted since the process started (exact once the counted system is quiescent).</summary>
    public static long Total
    {
        get
        {
            long n = 0;
            foreach (var c in Cells) n += Volatile.Read(ref c.Count);
            return n;
        }
    }

    /// <summary>The per-type counts so far (only those taken while <see cref="ByType"/> was set); read when quiescent.</summary>
    public static Dictionary<Type, long> SnapshotByType()
    {
        var all = new Dictionary<Type, long>();
        foreach (var c in Cells)
            if (c.ByType is { } by)
                foreach (var (t, n) in by) all[t] = all.GetValueOrDefault(t) + n;
        return all;
    }

    public static void ResetByType()
    {
        foreach (var c in Cells) c.ByType = null;
    }
}

/// <summary>The fabric's mailbox (<see cref="Fabric.Actors.LinkedMailbox"/>, akka.hocon's default), counting each enqueue
/// (<see cref="MessageCounter"/>). Configured as <c>akka.actor.default-mailbox.mailbox-type</c> in the bench's actor
/// systems only.</summary>
public sealed class CountingMailbox : MailboxType, IProducesMessageQueue<CountingMessageQueue>
{
    public CountingMailbox(Settings settings, Config config) : base(settings, config) { }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CountingMessageQueue();
}

public sealed class CountingMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    private readonly Fabric.Actors.LinkedMessageQueue _queue = new();

    public bool HasMessages => _queue.HasMessages;
    public int Count => _queue.Count;

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        MessageCounter.Count(envelope.Message);
        _queue.Enqueue(receiver, envelope);
    }

    public bool TryDequeue(out Envelope envelope) => _queue.TryDequeue(out envelope);

    /// <summary>An unstashed message: counted when it was first enqueued.</summary>
    public void EnqueueFirst(Envelope envelope) => _queue.EnqueueFirst(envelope);

    public void CleanUp(IActorRef owner, IMessageQueue deadletters) => _queue.CleanUp(owner, deadletters);
}
