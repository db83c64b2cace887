using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>The per-VM SPI AP list (SEMANTICS.md §3.2): in-flight SPIs in list_add_tail order, one entry per SPI, and
/// per-SPI sequence numbers that keep a stale IRS report from taking an SPI off the list.</summary>
public class SpiApListSpecs
{
    private static Icsr Idle => Icsr.From(IstEntry.Zero.WithEnabled(true));
    private static Icsr PendingIcsr => Icsr.From(IstEntry.Zero.WithEnabled(true).WithPending(true));

    [Fact]
    public void Entries_keep_injection_order()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        foreach (var spi in new uint[] { 5, 2, 9, 0 }) list.Inject(spi, true);
        Assert.Equal(new uint[] { 5, 2, 9, 0 }, list.Entries);
        Assert.Equal(4, list.Count);
    }

    [Fact]
    public void An_SPI_has_one_entry_however_often_it_is_injected()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        list.Inject(5, true);
        list.Inject(7, true);
        list.Inject(5, true);
        list.Inject(5, true);
        Assert.Equal(new uint[] { 5, 7 }, list.Entries);
        Assert.True(list[5].OnApList);
        Assert.False(list[6].OnApList);
    }

    [Fact]
    public void Each_accepted_injection_gets_the_next_sequence_number_of_its_SPI()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        Assert.Equal(0, list.LastSent(5));
        Assert.Equal(1, list.Inject(5, true).Seq);
        Assert.Equal(2, list.Inject(5, true).Seq);
        Assert.Equal(1, list.Inject(6, true).Seq);
        Assert.Equal(3, list.Inject(5, true).Seq);
        Assert.Equal((3L, 1L), (list.LastSent(5), list.LastSent(6)));
    }

    [Fact]
    public void A_refused_injection_gets_no_sequence_number_and_no_entry()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        var (inj, seq) = list.Inject(5, false);                 // edge line lowered: dropped by validation
        Assert.False(inj.Accepted);
        Assert.Equal(0, seq);
        Assert.Equal(0, list.LastSent(5));
        Assert.Empty(list.Entries);

        list.Configure(6, HandlingMode.Level);
        list.Inject(6, true);
        Assert.Equal(0, list.Inject(6, true).Seq);              // level already high: no change, dropped
        Assert.Equal(1, list.LastSent(6));
    }

    [Fact]
    public void Configure_records_the_trigger_mode_as_KVM_config()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        list.Configure(3, HandlingMode.Level);
        Assert.Equal(HandlingMode.Level, list[3].Config);
        var (inj, _) = list.Inject(3, true);
        Assert.True(list[3].LineLevel);
        Assert.False(list[3].PendingLatch);
        Assert.Equal(true, inj.Vdpend);
    }

    [Fact]
    public void A_lowering_that_leaves_a_level_SPI_not_pending_is_not_queued()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        list.Configure(6, HandlingMode.Level);
        list.Inject(6, true);
        Assert.True(list.Pushed(6, Idle, deactivated: true, list.LastSent(6)).Untrack);   // consumed, line still high
        var (inj, seq) = list.Inject(6, false);                                          // the resampler lowers it
        Assert.Equal(false, inj.Vdpend);
        Assert.False(inj.Queued);
        Assert.Equal(2, seq);
        Assert.Empty(list.Entries);
    }

    [Fact]
    public void A_fold_that_finds_an_SPI_consumed_removes_only_that_entry()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        foreach (var spi in new uint[] { 5, 2, 9 }) list.Inject(spi, true);
        var kept = list.Fold(5, PendingIcsr, list.LastSent(5));
        Assert.False(kept.Notify);
        var gone = list.Fold(2, Idle, list.LastSent(2));
        Assert.True(gone.Notify && gone.Untrack);
        Assert.Equal(new uint[] { 5, 9 }, list.Entries);
        Assert.False(list[2].OnApList);
    }

    [Fact]
    public void A_push_report_of_a_deactivation_removes_the_idle_entry_and_a_reinjection_appends_it_again()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        foreach (var spi in new uint[] { 5, 2, 9 }) list.Inject(spi, true);
        var step = list.Pushed(5, Idle, deactivated: true, list.LastSent(5));
        Assert.True(step.Notify && step.Untrack);
        Assert.Equal(new uint[] { 2, 9 }, list.Entries);
        Assert.True(list.Inject(5, true).Injection.Queued);
        Assert.Equal(new uint[] { 2, 9, 5 }, list.Entries);
    }

    [Fact]
    public void A_stale_fold_report_keeps_the_entry()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        list.Inject(5, true);
        var (_, seq2) = list.Inject(5, true);
        var step = list.Fold(5, Idle, appliedSeq: seq2 - 1);    // VDRCFG read before the second VDPEND was applied
        Assert.False(step.Notify);
        Assert.False(step.Untrack);
        Assert.Equal(new uint[] { 5 }, list.Entries);
    }

    [Fact]
    public void A_stale_push_report_notifies_the_deactivation_but_keeps_the_entry()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        list.Inject(5, true);
        var (_, seq2) = list.Inject(5, true);
        var step = list.Pushed(5, Idle, deactivated: true, appliedSeq: seq2 - 1);
        Assert.True(step.Notify);
        Assert.False(step.Untrack);
        Assert.Equal(new uint[] { 5 }, list.Entries);
        Assert.True(list.Pushed(5, Idle, deactivated: false, appliedSeq: seq2).Untrack);
        Assert.Empty(list.Entries);
    }

    [Fact]
    public void A_push_report_for_an_SPI_not_on_the_list_does_nothing()
    {
        var list = new SpiApList(32, NotifyPolicy.OnDeactivate);
        var step = list.Pushed(5, Idle, deactivated: true, appliedSeq: 0);
        Assert.False(step.Notify || step.Untrack);
        Assert.Empty(list.Entries);
    }

    [Theory]
    [InlineData(32, 31u, true)]
    [InlineData(32, 32u, false)]
    [InlineData(64, 63u, true)]
    [InlineData(64, 1000u, false)]
    public void Validate_refuses_an_SPI_beyond_the_VM(int spis, uint spi, bool valid)
    {
        var error = new SpiApList(spis, NotifyPolicy.OnDeactivate).Validate(spi);
        Assert.Equal(valid, error is null);
        if (!valid) Assert.Contains($"spi:{spi}", error);
    }
}
