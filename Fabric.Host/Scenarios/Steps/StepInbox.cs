using System.Threading.Channels;
using Akka.Actor;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>
/// The host's address in a directed run: every step is sent with it as the sender, so the fabric's answers (a CDIA's
/// result, an MMIO access, a refusal, a state read, a quiescence answer) come back here, where the step runner takes them
/// — off every hot path, and without Ask.
/// </summary>
public sealed class StepInbox : IDisposable
{
    private readonly Channel<object> _channel = Channel.CreateUnbounded<object>();
    private readonly List<object> _kept = new();
    private readonly ActorSystem _system;

    public StepInbox(ActorSystem system)
    {
        _system = system;
        Ref = system.ActorOf(Props.Create(() => new Receiver(_channel.Writer)));
    }

    public IActorRef Ref { get; }

    /// <summary>The next answer of type <typeparamref name="T"/> that <paramref name="match"/> accepts; the others are kept.
    /// Once <paramref name="stop"/> fires (a shutdown request), the wait lasts at most <paramref name="afterStop"/> more:
    /// an answer the stopping fabric no longer sends must not hold the shutdown for the whole timeout.</summary>
    public async Task<T> NextAsync<T>(Func<T, bool> match, TimeSpan timeout, CancellationToken stop = default, TimeSpan afterStop = default) where T : class
    {
        for (var i = 0; i < _kept.Count; i++)
            if (_kept[i] is T kept && match(kept))
            {
                _kept.RemoveAt(i);
                return kept;
            }
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

    public void Dispose() => _system.Stop(Ref);

    private sealed class Receiver(ChannelWriter<object> to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.TryWrite(message);
    }
}
