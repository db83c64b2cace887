using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Hardware.Interrupts;
using Fabric.Host.Reporting;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>The events of each VM since the start, by kind and by INTID: what <c>count</c> and <c>count-of</c> compare.</summary>
public sealed class StepEventCounts : IEventSink
{
    private readonly Dictionary<(int Vm, Ev Ev), long> _byKind = new();
    private readonly Dictionary<(int Vm, IntId Id, Ev Ev), long> _byInterrupt = new();

    public void Observe(in FabricEvent e)
    {
        _byKind[(e.Vm, e.Ev)] = _byKind.GetValueOrDefault((e.Vm, e.Ev)) + 1;
        if (e.IntId is { } id) _byInterrupt[(e.Vm, id, e.Ev)] = _byInterrupt.GetValueOrDefault((e.Vm, id, e.Ev)) + 1;
    }

    public long Of(int vm, Ev ev) => _byKind.GetValueOrDefault((vm, ev));

    public long Of(int vm, IntId id, Ev ev) => _byInterrupt.GetValueOrDefault((vm, id, ev));
}
