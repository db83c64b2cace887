using Akka.Actor;
using Fabric.Actors.Protocols;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The shell every unit of a VM shares (its IRS slice, AP list, VPEs, vCPUs): it counts the messages it processes and
/// answers the quiescence check of <see cref="MigrationProtocol"/>, and when frozen hands over the state it owns and
/// processes nothing more. A message that reaches a frozen unit is kept and forwarded to its successor, so a move
/// loses nothing even if something was still on its way.
/// </summary>
public abstract class VmUnitActor : UntypedActor
{
    private long _processed;
    private List<(object Message, IActorRef Sender)>? _afterFreeze;

    /// <summary>The state this unit owns, handed over on <see cref="Freeze"/>.</summary>
    protected abstract object Unit { get; }

    protected override bool AroundReceive(Receive receive, object message)
    {
        switch (message)
        {
            case Quiesce q:
                Sender.Tell(new Quiet(q.Round, _processed));
                return true;
            case Freeze:
                _afterFreeze ??= new();
                Sender.Tell(new Frozen(Unit));
                return true;
            case Retire r:
                foreach (var (m, from) in _afterFreeze ?? []) r.Successor.Tell(m, from);
                Context.Stop(Self);
                return true;
        }
        if (_afterFreeze is not null)
        {
            _afterFreeze.Add((message, Sender));
            return true;
        }
        _processed++;
        return base.AroundReceive(receive, message);
    }
}
