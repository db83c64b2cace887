using Fabric.Hardware.Interrupts;

namespace Fabric.Specs.Hardware;

/// <summary>
/// The four states of SEMANTICS.md §2 written as in the table: <c>I</c> (!P,!A), <c>P</c>, <c>A</c>, <c>AP</c>,
/// so that the spec tables read like the semantics table.
/// </summary>
internal static class StateNotation
{
    public static IstEntry WithState(this IstEntry e, string state) => state switch
    {
        "I" => e.WithPending(false).WithActive(false),
        "P" => e.WithPending(true).WithActive(false),
        "A" => e.WithPending(false).WithActive(true),
        "AP" => e.WithPending(true).WithActive(true),
        _ => throw new ArgumentOutOfRangeException(nameof(state), $"'{state}' is not one of I, P, A, AP"),
    };

    public static string State(this IstEntry e) => (e.Pending, e.Active) switch
    {
        (false, false) => "I",
        (true, false) => "P",
        (false, true) => "A",
        (true, true) => "AP",
    };

    /// <summary>An enabled, edge, priority-5, IAFFID-2 entry in <paramref name="state"/>: non-zero fields that a
    /// transition must leave alone.</summary>
    public static IstEntry Entry(string state, HandlingMode hm = HandlingMode.Edge, bool enabled = true) =>
        IstEntry.Zero.WithEnabled(enabled).WithHandlingMode(hm).WithPriority(Priority.Of(5)).WithIaffid(2).WithState(state);
}
