using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;
using Xunit;

namespace Fabric.Specs.Hardware;

/// <summary>
/// The AP list unit judges a report of an SPI's end against KVM's injections of it (policies.injection-sequence): a
/// deactivation the IRS reported before it applied KVM's next VDPEND must not take the SPI off the list, or that
/// injection is pending untracked. Driven unit to unit in the race's order: KVM injects (seq 1), the guest acknowledges;
/// KVM injects again (seq 2) while the guest's CDDI is on its way; the IRS deactivates first and reports with seq 1.
/// </summary>
public class InjectionSequenceSpecs
{
    private const uint Spi = 5;

    private static (ApListState List, Effects Fx, VmShape Vm) Unit(InjectionSequence sequence)
    {
        var vm = new VmShape(0, 1, new FabricPolicies(Sequence: sequence));
        return (new ApListState(new SpiApList(32, vm.Policies.Notify, vm.Policies.Kvm)), new Effects(), vm);
    }

    private static List<Effect> Step(ApListState list, object message, VmShape vm, Effects fx)
    {
        fx.Begin(null);
        Assert.True(list.Handle(message, vm, fx));
        var done = fx.Items.ToArray().ToList();
        fx.Clear();
        return done;
    }

    /// <summary>The race: injections 1 and 2 sent; the IRS's report of the deactivation speaks for injection 1 (idle then).</summary>
    private static List<Effect> StaleReport(InjectionSequence sequence)
    {
        var (list, fx, vm) = Unit(sequence);
        Step(list, new ApListProtocol.SetIrq(Spi, true), vm, fx);
        Step(list, new ApListProtocol.SetIrq(Spi, true), vm, fx);
        return Step(list, new ApListProtocol.Deactivated(Spi, default, Deactivation: true, AppliedSeq: 1), vm, fx);
    }

    [Fact]
    public void A_report_that_predates_the_last_injection_notifies_the_consumption_and_keeps_the_spi_tracked()
    {
        var effects = StaleReport(InjectionSequence.Checked);
        Assert.Contains(effects, e => e is { Kind: EffectKind.Log, Ev: Ev.Notify });
        Assert.DoesNotContain(effects, e => e is { Kind: EffectKind.Log, Ev: Ev.Untrack });
    }

    [Fact]
    public void Ignoring_the_sequence_takes_the_spi_off_the_list_under_an_injection_still_in_flight()
    {
        var effects = StaleReport(InjectionSequence.Ignored);
        Assert.Contains(effects, e => e is { Kind: EffectKind.Log, Ev: Ev.Untrack, IntId: { } id } && id == IntId.Spi(Spi));
    }

    [Fact]
    public void A_current_report_of_an_idle_spi_takes_it_off_the_list_under_either_policy()
    {
        foreach (var sequence in new[] { InjectionSequence.Checked, InjectionSequence.Ignored })
        {
            var (list, fx, vm) = Unit(sequence);
            Step(list, new ApListProtocol.SetIrq(Spi, true), vm, fx);
            var effects = Step(list, new ApListProtocol.Deactivated(Spi, default, Deactivation: true, AppliedSeq: 1), vm, fx);
            Assert.Contains(effects, e => e is { Kind: EffectKind.Log, Ev: Ev.Untrack });
        }
    }
}
