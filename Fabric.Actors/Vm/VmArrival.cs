using Fabric.Hardware.Migration;

namespace Fabric.Actors.Vm;

/// <summary>A VM that arrives from another node: the snapshot it was handed, and the hardware's restore of its interrupt
/// state (<see cref="VmRestore.RestoreAndRun"/>, done by its entity, which judged it sound); when its load began (UTC
/// ticks), the blackout's start when the snapshot does not say when it was saved.</summary>
public sealed record VmArrival(VmSnapshot Snapshot, RunOutcome FirstRun, long LoadStartedTicks);
