using Akka.Actor;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Protocol;
using static Fabric.Actors.Protocols.MigrationProtocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The shell every unit actor of a VM shares (its IRS slice, AP list, PEs): it counts the messages it processes and
/// answers the quiescence check of <see cref="MigrationProtocol"/>, and when frozen hands over the state it owns and
/// processes nothing more. A message that reaches a frozen unit is kept and forwarded to its successor, so a move
/// loses nothing even if something was still on its way.
/// </summary>
public abstract class VmUnitActor : TimedActor
{
    private List<(object Message, IActorRef Sender)>? _afterFreeze;

    /// <summary>The state this unit owns, handed over on <see cref="Freeze"/>. Its message count lives there too, so a
    /// restart does not reset it: the quiescence check needs counts that only grow.</summary>
    protected abstract UnitState Unit { get; }

    /// <summary>Hands the state this actor owns to the move that froze it: one <see cref="Frozen"/> per unit it hosts.</summary>
    protected virtual void HandOver(IActorRef to) => to.Tell(new Frozen(Unit));

    /// <summary>A restart is activity: the restarted unit re-sends what it owes (offers, a fold, an IRQ), so it counts
    /// as a message processed, and a quiescence round that spans it cannot end the check.</summary>
    public override void AroundPostRestart(Exception cause, object message)
    {
        Unit.Processed++;
        base.AroundPostRestart(cause, message);
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        switch (message)
        {
            case Quiesce q:
                Sender.Tell(new Quiet(q.Round, Unit.Processed));
                return true;
            case Freeze:
                _afterFreeze ??= new();
                HandOver(Sender);
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
        Unit.Processed++;
        return base.AroundReceive(receive, message);
    }
}
