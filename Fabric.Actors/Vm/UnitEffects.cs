using Akka.Actor;
using Fabric.Actors.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Actors.Vm;

/// <summary>
/// The actor interpreter of a unit's effects (DESIGN.md §6.3): a message to a unit is a Tell to the actor the VM's
/// topology names for its address, a message to a party outside the units is a Tell to the actor reference the unit was
/// given, and an event goes to the log with the VM's id. Effects are performed in the order the unit produced them.
/// </summary>
public static class UnitEffects
{
    [ThreadStatic] private static Effects? _spare;

    /// <summary>A cleared buffer for one step of a unit, its replies going to <paramref name="sender"/> (none for Nobody).</summary>
    public static Effects Begin(IActorRef sender)
    {
        var fx = _spare ?? new Effects();
        _spare = null;
        return fx.Begin(sender.IsNobody() ? null : sender);
    }

    /// <summary>One step of <paramref name="unit"/>, the actor <paramref name="self"/>'s, on <paramref name="message"/> from
    /// <paramref name="sender"/>, its effects performed; false (nothing done) when the unit does not take the message.</summary>
    public static bool Step(IVmUnit unit, object message, IActorRef sender, VmShape shape, VmTopology vm, EventLog log, IActorRef self)
    {
        var fx = Begin(sender);
        var handled = unit.Handle(message, shape, fx);
        Perform(fx, vm, log, self);   // nothing to perform when unhandled: a unit changes nothing for a message it does not take
        return handled;
    }

    /// <summary>After the actor <paramref name="self"/> restarted: what its unit owes from the state it kept, performed.</summary>
    public static void Restarted(IVmUnit unit, VmShape shape, VmTopology vm, EventLog log, IActorRef self)
    {
        var fx = Begin(ActorRefs.Nobody);
        unit.Restarted(shape, fx);
        Perform(fx, vm, log, self);
    }

    /// <summary>Performs the step's effects and returns the buffer for the next step on this thread.</summary>
    public static void Perform(Effects fx, VmTopology vm, EventLog log, IActorRef self)
    {
        foreach (ref readonly var e in fx.Items)
        {
            switch (e.Kind)
            {
                case EffectKind.Send: Resolve(vm, e.To).Tell(e.Message, self); break;
                case EffectKind.Tell: ((IActorRef)e.Target!).Tell(e.Message, self); break;
                default: log.Log(e.Ev, vm.VmId, e.Vpe, e.IntId, e.Arg); break;
            }
        }
        fx.Clear();
        _spare = fx;
    }

    /// <summary>The wiring of the actor fabric: which actor a unit's address is.</summary>
    public static IActorRef Resolve(VmTopology vm, UnitAddress to) => to.Kind switch
    {
        UnitKind.Irs => vm.Virs,
        UnitKind.ApList => vm.ApList,
        UnitKind.Vpe => vm.Vpes[to.Index],
        UnitKind.Vcpu => vm.Vcpus[to.Index],
        _ => vm.Scheduler,
    };
}
