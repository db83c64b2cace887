using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>One unit of a VM fed inputs one at a time with no interpreter (DESIGN.md §6.3): each step returns the unit's
/// effects as data, to assert on.</summary>
public sealed class UnitRun(IVmUnit unit, VmShape vm)
{
    private readonly Effects _fx = new();

    /// <summary>One input from <paramref name="sender"/> (the token a reply is told to); the unit must take it.</summary>
    public Effect[] Step(object message, object? sender = null)
    {
        _fx.Begin(sender);
        Assert.True(unit.Handle(message, vm, _fx), $"{unit.GetType().Name} does not take {message.GetType().Name}");
        var done = _fx.Items.ToArray();
        _fx.Clear();
        return done;
    }
}

public static class EffectAsserts
{
    /// <summary>The messages a step sends to the unit at <paramref name="to"/> (a Send, or a Tell whose token is that
    /// address), in order.</summary>
    public static object[] To(this IEnumerable<Effect> fx, UnitAddress to) =>
        [.. fx.Where(e => (e.Kind == EffectKind.Send && e.To == to) || (e.Kind == EffectKind.Tell && e.Target is UnitAddress a && a == to)).Select(e => e.Message!)];

    /// <summary>The messages a step tells the party outside the units whose token is <paramref name="target"/>.</summary>
    public static object[] TellsTo(this IEnumerable<Effect> fx, object target) =>
        [.. fx.Where(e => e.Kind == EffectKind.Tell && Equals(e.Target, target)).Select(e => e.Message!)];

    /// <summary>The events a step logs, in order.</summary>
    public static Ev[] Logged(this IEnumerable<Effect> fx) => [.. fx.Where(e => e.Kind == EffectKind.Log).Select(e => e.Ev)];

    /// <summary>Where a step's messages go, in order: "Vpe0 Cdeoi", "Irs Cddi", ...</summary>
    public static string[] Sends(this IEnumerable<Effect> fx) =>
        [.. fx.Where(e => e.Kind == EffectKind.Send).Select(e => $"{e.To} {e.Message!.GetType().Name}")];
}
