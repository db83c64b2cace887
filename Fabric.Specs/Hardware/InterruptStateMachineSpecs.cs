using CsCheck;
using Fabric.Hardware.Interrupts;
using Xunit;
using static Fabric.Hardware.Interrupts.IstEffect;

namespace Fabric.Specs.Hardware;

/// <summary>The per-interrupt state machine, SEMANTICS.md §2: states I (!P,!A), P, A, AP, one event per row.</summary>
public class InterruptStateMachineSpecs
{
    private static void AssertOnlyStateChanged(IstEntry before, IstEntry after)
    {
        var state = IstEntry.PendingField.Mask | IstEntry.ActiveField.Mask;
        Assert.Equal(before.Raw & ~state, after.Raw & ~state);
    }

    [Theory]
    [InlineData("I", true, "P", Pended)]
    [InlineData("P", true, "P", Coalesced)]
    [InlineData("A", true, "AP", Pended)]
    [InlineData("AP", true, "AP", Coalesced)]
    [InlineData("I", false, "I", None)]
    [InlineData("P", false, "I", Unpended)]
    [InlineData("A", false, "A", None)]
    [InlineData("AP", false, "A", Unpended)]
    public void SetPending_sets_P_and_coalesces_into_a_pending_state_already_there(string from, bool pending, string to, IstEffect effects)
    {
        foreach (var hm in new[] { HandlingMode.Edge, HandlingMode.Level })
        foreach (var enabled in new[] { true, false })
        {
            var before = StateNotation.Entry(from, hm, enabled);
            var t = InterruptStateMachine.SetPending(before, pending);
            Assert.Equal(to, t.Entry.State());
            Assert.Equal(effects, t.Effects);
            AssertOnlyStateChanged(before, t.Entry);
        }
    }

    [Theory]
    [InlineData("P", HandlingMode.Edge, true, "A", Activated)]
    [InlineData("P", HandlingMode.Level, true, "AP", Activated)]
    [InlineData("I", HandlingMode.Edge, true, "I", None)]
    [InlineData("I", HandlingMode.Level, true, "I", None)]
    [InlineData("A", HandlingMode.Edge, true, "A", None)]
    [InlineData("A", HandlingMode.Level, true, "A", None)]
    [InlineData("AP", HandlingMode.Edge, true, "AP", None)]
    [InlineData("AP", HandlingMode.Level, true, "AP", None)]
    [InlineData("P", HandlingMode.Edge, false, "P", None)]
    [InlineData("P", HandlingMode.Level, false, "P", None)]
    public void Activate_of_edge_clears_pending_of_level_keeps_it_and_refuses_a_non_candidate(string from, HandlingMode hm,
        bool enabled, string to, IstEffect effects)
    {
        var before = StateNotation.Entry(from, hm, enabled);
        var t = InterruptStateMachine.Activate(before);
        Assert.Equal(to, t.Entry.State());
        Assert.Equal(effects, t.Effects);
        AssertOnlyStateChanged(before, t.Entry);
    }

    [Theory]
    [InlineData("P", true, true)]
    [InlineData("P", false, false)]
    [InlineData("I", true, false)]
    [InlineData("A", true, false)]
    [InlineData("AP", true, false)]
    [InlineData("AP", false, false)]
    public void A_candidate_for_acknowledge_is_pending_enabled_and_not_active(string state, bool enabled, bool candidate) =>
        Assert.Equal(candidate, InterruptStateMachine.IsCandidate(StateNotation.Entry(state, HandlingMode.Edge, enabled)));

    [Theory]
    [InlineData("A", HandlingMode.Edge, "I", Deactivated)]
    [InlineData("AP", HandlingMode.Edge, "P", Deactivated)]
    [InlineData("A", HandlingMode.Level, "I", Deactivated)]
    [InlineData("AP", HandlingMode.Level, "P", Deactivated)]
    [InlineData("I", HandlingMode.Edge, "I", None)]
    [InlineData("P", HandlingMode.Edge, "P", None)]
    [InlineData("P", HandlingMode.Level, "P", None)]
    public void Deactivate_clears_active_only(string from, HandlingMode hm, string to, IstEffect effects)
    {
        var before = StateNotation.Entry(from, hm);
        var t = InterruptStateMachine.Deactivate(before);
        Assert.Equal(to, t.Entry.State());
        Assert.Equal(effects, t.Effects);
        AssertOnlyStateChanged(before, t.Entry);
    }

    [Theory]
    [InlineData("I", false, true, Enabled)]
    [InlineData("P", false, true, Enabled)]
    [InlineData("A", false, true, Enabled)]
    [InlineData("AP", false, true, Enabled)]
    [InlineData("I", true, false, Disabled)]
    [InlineData("P", true, false, Disabled)]
    [InlineData("A", true, false, Disabled)]
    [InlineData("AP", true, false, Disabled)]
    [InlineData("P", true, true, None)]
    [InlineData("P", false, false, None)]
    public void SetEnabled_changes_E_and_never_touches_P_or_A(string state, bool was, bool on, IstEffect effects)
    {
        var before = StateNotation.Entry(state, HandlingMode.Edge, was);
        var t = InterruptStateMachine.SetEnabled(before, on);
        Assert.Equal(state, t.Entry.State());
        Assert.Equal(on, t.Entry.Enabled);
        Assert.Equal(effects, t.Effects);
        Assert.Equal(before.WithEnabled(on), t.Entry);
    }

    [Theory]
    [InlineData("I", 5, 5, 9, 9, Reprioritised)]
    [InlineData("P", 5, 5, 0, 0, Reprioritised)]
    [InlineData("A", 5, 5, 31, 31, Reprioritised)]
    [InlineData("AP", 5, 5, 6, 6, Reprioritised)]
    [InlineData("P", 5, 5, 5, 5, None)]
    [InlineData("P", 3, 5, 7, 4, Reprioritised)]
    [InlineData("P", 3, 4, 7, 4, None)]
    [InlineData("P", 1, 0, 15, 0, None)]
    [InlineData("P", 1, 0, 16, 16, Reprioritised)]
    public void SetPriority_stores_the_implemented_bits_and_never_touches_P_or_A(string state, int bits, int was, int requested,
        int stored, IstEffect effects)
    {
        var before = StateNotation.Entry(state).WithPriority(Priority.Of(was));
        var t = InterruptStateMachine.SetPriority(before, Priority.Of(requested), bits);
        Assert.Equal(stored, t.Entry.Priority.Value);
        Assert.Equal(effects, t.Effects);
        Assert.Equal(before.WithPriority(Priority.Of(stored)), t.Entry);
    }

    [Theory]
    [InlineData("I", 2, 7, Retargeted)]
    [InlineData("P", 2, 0, Retargeted)]
    [InlineData("A", 2, 65535, Retargeted)]
    [InlineData("AP", 2, 3, Retargeted)]
    [InlineData("P", 2, 2, None)]
    public void SetAffinity_changes_IAFFID_and_never_touches_P_or_A(string state, int was, int iaffid, IstEffect effects)
    {
        var before = StateNotation.Entry(state).WithIaffid((ushort)was);
        var t = InterruptStateMachine.SetAffinity(before, (ushort)iaffid);
        Assert.Equal(effects, t.Effects);
        Assert.Equal(before.WithIaffid((ushort)iaffid), t.Entry);
    }

    [Theory]
    [InlineData("I", HandlingMode.Edge, HandlingMode.Level, HandlingModeChanged)]
    [InlineData("P", HandlingMode.Level, HandlingMode.Edge, HandlingModeChanged)]
    [InlineData("A", HandlingMode.Edge, HandlingMode.Level, HandlingModeChanged)]
    [InlineData("AP", HandlingMode.Level, HandlingMode.Edge, HandlingModeChanged)]
    [InlineData("P", HandlingMode.Edge, HandlingMode.Edge, None)]
    [InlineData("AP", HandlingMode.Level, HandlingMode.Level, None)]
    public void SetHandlingMode_changes_HM_and_never_touches_P_or_A(string state, HandlingMode was, HandlingMode hm, IstEffect effects)
    {
        var before = StateNotation.Entry(state, was);
        var t = InterruptStateMachine.SetHandlingMode(before, hm);
        Assert.Equal(effects, t.Effects);
        Assert.Equal(before.WithHandlingMode(hm), t.Entry);
    }

    [Theory]
    // rising (or high) input: P := 1 and HM := TM
    [InlineData("I", HandlingMode.Edge, true, HandlingMode.Edge, "P", HandlingMode.Edge, Pended)]
    [InlineData("I", HandlingMode.Edge, true, HandlingMode.Level, "P", HandlingMode.Level, Pended | HandlingModeChanged)]
    [InlineData("P", HandlingMode.Edge, true, HandlingMode.Edge, "P", HandlingMode.Edge, Coalesced)]
    [InlineData("P", HandlingMode.Level, true, HandlingMode.Edge, "P", HandlingMode.Edge, Coalesced | HandlingModeChanged)]
    [InlineData("A", HandlingMode.Edge, true, HandlingMode.Edge, "AP", HandlingMode.Edge, Pended)]
    [InlineData("A", HandlingMode.Level, true, HandlingMode.Level, "AP", HandlingMode.Level, Pended)]
    [InlineData("AP", HandlingMode.Level, true, HandlingMode.Level, "AP", HandlingMode.Level, Coalesced)]
    // falling input: TM Level clears P; TM Edge ignores it
    [InlineData("P", HandlingMode.Level, false, HandlingMode.Level, "I", HandlingMode.Level, Unpended)]
    [InlineData("AP", HandlingMode.Level, false, HandlingMode.Level, "A", HandlingMode.Level, Unpended)]
    [InlineData("I", HandlingMode.Level, false, HandlingMode.Level, "I", HandlingMode.Level, None)]
    [InlineData("A", HandlingMode.Level, false, HandlingMode.Level, "A", HandlingMode.Level, None)]
    [InlineData("P", HandlingMode.Edge, false, HandlingMode.Edge, "P", HandlingMode.Edge, None)]
    [InlineData("AP", HandlingMode.Edge, false, HandlingMode.Edge, "AP", HandlingMode.Edge, None)]
    [InlineData("I", HandlingMode.Edge, false, HandlingMode.Edge, "I", HandlingMode.Edge, None)]
    public void SampleSpiLine_pends_on_a_high_input_and_unpends_on_a_low_one_only_in_level_mode(string from, HandlingMode hm,
        bool high, HandlingMode tm, string to, HandlingMode hmAfter, IstEffect effects)
    {
        var before = StateNotation.Entry(from, hm);
        var t = InterruptStateMachine.SampleSpiLine(before, high, tm);
        Assert.Equal(to, t.Entry.State());
        Assert.Equal(hmAfter, t.Entry.HandlingMode);
        Assert.Equal(effects, t.Effects);
        Assert.Equal(before.Enabled, t.Entry.Enabled);
        Assert.Equal(before.Priority, t.Entry.Priority);
        Assert.Equal(before.Iaffid, t.Entry.Iaffid);
    }

    [Theory]
    [InlineData(Pended)]
    [InlineData(Activated)]
    public void Transition_Has_reports_exactly_the_flags_set(IstEffect flag)
    {
        var t = new Transition(IstEntry.Zero, flag | Retargeted);
        Assert.True(t.Has(flag));
        Assert.True(t.Has(Retargeted));
        Assert.False(t.Has(Deactivated));
    }

    // ---- Any sequence of events: an independent model of SEMANTICS.md §2 -------------------------------------------

    /// <summary>One event of §2: Kind 0 SetPending, 1 SetEnabled, 2 SetPriority, 3 SetAffinity, 4 SetHandlingMode,
    /// 5 Activate, 6 Deactivate, 7 SampleSpiLine.</summary>
    public sealed record Event(int Kind, bool Flag, int Value, bool Level)
    {
        public override string ToString() => Kind switch
        {
            0 => $"SetPending({Flag})",
            1 => $"SetEnabled({Flag})",
            2 => $"SetPriority({Value})",
            3 => $"SetAffinity({Value})",
            4 => $"SetHandlingMode({(Level ? "Level" : "Edge")})",
            5 => "Activate",
            6 => "Deactivate",
            _ => $"SampleSpiLine(high={Flag}, tm={(Level ? "Level" : "Edge")})",
        };
    }

    private sealed record Model(bool P, bool A, bool E, bool Level, int Pri, int Aff);

    private static readonly Gen<Event> AnyEvent =
        Gen.Select(Gen.Int[0, 7], Gen.Bool, Gen.Int[0, 31], Gen.Bool, (k, f, v, l) => new Event(k, f, v, l));

    private static (Transition, Model) Step(IstEntry e, Model m, Event ev, int bits) => ev.Kind switch
    {
        0 => (InterruptStateMachine.SetPending(e, ev.Flag), m with { P = ev.Flag }),
        1 => (InterruptStateMachine.SetEnabled(e, ev.Flag), m with { E = ev.Flag }),
        2 => (InterruptStateMachine.SetPriority(e, Priority.Of(ev.Value), bits), m with { Pri = ev.Value >> (5 - bits) << (5 - bits) }),
        3 => (InterruptStateMachine.SetAffinity(e, (ushort)ev.Value), m with { Aff = ev.Value }),
        4 => (InterruptStateMachine.SetHandlingMode(e, ev.Level ? HandlingMode.Level : HandlingMode.Edge), m with { Level = ev.Level }),
        5 => (InterruptStateMachine.Activate(e),
              m.P && m.E && !m.A ? m with { A = true, P = m.Level } : m),
        6 => (InterruptStateMachine.Deactivate(e), m with { A = false }),
        _ => (InterruptStateMachine.SampleSpiLine(e, ev.Flag, ev.Level ? HandlingMode.Level : HandlingMode.Edge),
              ev.Flag ? m with { P = true, Level = ev.Level } : ev.Level ? m with { P = false } : m),
    };

    [Fact]
    public void Any_sequence_of_events_keeps_res0_clear_and_follows_the_state_table() =>
        Gen.Select(AnyEvent.Array[1, 40], Gen.Int[1, 5]).Sample((events, bits) =>
        {
            var e = IstEntry.Zero;
            var m = new Model(false, false, false, false, 0, 0);
            foreach (var ev in events)
            {
                var (t, next) = Step(e, m, ev, bits);
                Assert.Equal(0u, t.Entry.Raw & ~IstEntry.DefinedMask);
                Assert.Equal(0u, t.Entry.Hwu);
                Assert.False(t.Entry.Irm);
                Assert.Equal((next.P, next.A, next.E, next.Level, next.Pri, next.Aff),
                    (t.Entry.Pending, t.Entry.Active, t.Entry.Enabled, t.Entry.HandlingMode == HandlingMode.Level,
                     (int)t.Entry.Priority.Value, (int)t.Entry.Iaffid));
                // The effects name exactly what changed.
                Assert.Equal(!e.Active && t.Entry.Active, t.Has(Activated));
                Assert.Equal(e.Active && !t.Entry.Active, t.Has(Deactivated));
                Assert.Equal(!e.Pending && t.Entry.Pending, t.Has(Pended));
                Assert.Equal(e.Pending && !t.Entry.Pending && !t.Has(Activated), t.Has(Unpended));
                Assert.Equal(e.Pending && t.Entry.Pending && (ev.Kind == 0 || (ev.Kind == 7 && ev.Flag)), t.Has(Coalesced));
                Assert.Equal((t.Effects & ~Coalesced) == None, t.Entry == e);
                e = t.Entry;
                m = next;
            }
        });
}
