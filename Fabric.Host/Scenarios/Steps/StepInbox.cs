using System.Threading.Channels;
using Akka.Actor;
using Fabric.Actors.Deterministic;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>
/// The host's address in a directed run: every step is sent with it as the sender, so the fabric's answers (a CDIA's
/// result, an MMIO access, a refusal, a state read, a quiescence answer) come back here, where the step runner takes them
/// — off every hot path, and without Ask. On the deterministic schedule the inbox is an actor of the loop, so an answer
/// is a delivery the loop makes like any other.
/// </summary>
public sealed class StepInbox : IDisposable
{
    private readonly Channel<object> _channel = Channel.CreateUnbounded<object>();
    private readonly List<object> _kept = new();
    private readonly ActorSystem _system;
    private readonly DeterministicLoop? _loop;

    /// <summary>An inbox in <paramref name="system"/>; on <paramref name="loop"/>, the deterministic schedule's loop, when
    /// there is one.</summary>
    public StepInbox(ActorSystem system, DeterministicLoop? loop = null)
    {
        _system = system;
        _loop = loop;
        var props = Props.Create(() => new Receiver(_channel.Writer));
        Ref = loop is null ? system.ActorOf(props) : loop.Spawn(() => system.ActorOf(props.WithDispatcher(DeterministicLoop.DispatcherId)));
    }

    public IActorRef Ref { get; }

    /// <summary>The first answer received and not yet taken that is a <typeparamref name="T"/> <paramref name="match"/>
    /// accepts, without waiting; the others are kept.</summary>
    public bool TryTake<T>(Func<T, bool> match, out T found) where T : class
    {
        while (_channel.Reader.TryRead(out var m)) _kept.Add(m);
        for (var i = 0; i < _kept.Count; i++)
            if (_kept[i] is T kept && match(kept))
            {
                _kept.RemoveAt(i);
                found = kept;
                return true;
            }
        found = null!;
        return false;
    }

    /// <summary>The next answer of type <typeparamref name="T"/> that <paramref name="match"/> accepts; the others are kept.
    /// Once <paramref name="stop"/> fires (a shutdown request), the wait lasts at most <paramref name="afterStop"/> more:
    /// an answer the stopping fabric no longer sends must not hold the shutdown for the whole timeout.</summary>
    public async Task<T> NextAsync<T>(Func<T, bool> match, TimeSpan timeout, CancellationToken stop = default, TimeSpan afterStop = default) where T : class
    {
        if (TryTake(match, out var taken)) return taken;
        using var cts = new CancellationTokenSource(timeout);
        using var onStop = stop.Register(() => { try { cts.CancelAfter(afterStop); } catch (ObjectDisposedException) { } });
        try
        {
            while (true)
            {
                var m = await _channel.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
                if (m is T t && match(t)) return t;
                _kept.Add(m);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no {typeof(T).Name} came back within {timeout.TotalSeconds:F0} s");
        }
    }

    /// <summary>Every answer received and not yet taken, in arrival order.</summary>
    public List<object> TakeAll()
    {
        while (_channel.Reader.TryRead(out var m)) _kept.Add(m);
        var all = _kept.ToList();
        _kept.Clear();
        return all;
    }

    /// <summary>Stops the inbox; on the loop by a message the loop delivers (<see cref="ActorSystem.Stop"/> would reach it
    /// through the guardian's thread, at a moment no seed decides).</summary>
    public void Dispose()
    {
        if (_loop is null) _system.Stop(Ref);
        else Ref.Tell(PoisonPill.Instance);
    }

    private sealed class Receiver(ChannelWriter<object> to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.TryWrite(message);
    }
}
