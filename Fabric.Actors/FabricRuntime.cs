using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Irs;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;

namespace Fabric.Actors;

/// <summary>
/// The façade the host and the specs drive the fabric through: build VMs from a spec, start and stop the devices,
/// reach any VM's actors, watch the event log, await quiescence. Nothing here is on an interrupt's hot path, and
/// nothing uses Ask: replies are collected by a small actor that completes a task.
/// </summary>
public sealed class FabricRuntime : IFabric
{
    private FabricRuntime(ActorSystem system, IActorRef irs, EventLog log, VmTopology[] vms)
    {
        System = system;
        Irs = irs;
        Log = log;
        Vms = vms;
    }

    public ActorSystem System { get; }
    public IActorRef Irs { get; }
    public EventLog Log { get; }
    public VmTopology[] Vms { get; }
    public int VmCount => Vms.Length;

    /// <summary>How many VMs are asked for at once while building: between two batches the build reports its progress
    /// and sees a cancellation, so that Ctrl-C stops a large build within a batch's time (well under a second).</summary>
    public const int BuildBatch = 1024;

    /// <summary>Builds <paramref name="vms"/> VMs, each from <paramref name="spec"/> (with a per-VM seed), and boots them,
    /// <see cref="BuildBatch"/> at a time, reporting the VMs built so far to <paramref name="progress"/>. When
    /// <paramref name="cancel"/> fires, the build stops after the batch in flight and the runtime holds the VMs built.</summary>
    public static async Task<FabricRuntime> BuildAsync(ActorSystem system, int vms, VmSpec spec, EventLog log, TimeSpan? timeout = null, string name = "irs",
        IProgress<int>? progress = null, CancellationToken cancel = default)
    {
        var irs = system.ActorOf(IrsActor.Props(Math.Max(vms, 1), log), name);
        var collector = system.ActorOf(Props.Create(() => new Collector(vms)));
        var deadline = timeout ?? TimeSpan.FromMinutes(2);
        var (asked, built) = (0, 0);
        // Two batches in flight, so that the IRS always has VMs to create while the previous batch is counted.
        var inFlight = new Queue<(int End, Task Done)>();
        try
        {
            while (built < vms)
            {
                while (asked < vms && inFlight.Count < 2 && !cancel.IsCancellationRequested)
                {
                    var end = Math.Min(vms, asked + BuildBatch);
                    var batch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    collector.Tell(new Collector.Expect(end, batch));
                    for (var v = asked; v < end; v++)
                        irs.Tell(new HostIrsProtocol.CreateVm(v, spec with { Seed = spec.Seed + v }), collector);
                    inFlight.Enqueue((end, batch.Task));
                    asked = end;
                }
                if (inFlight.Count == 0) break;   // cancelled: nothing more was asked for
                var (upTo, task) = inFlight.Dequeue();
                await task.WaitAsync(deadline).ConfigureAwait(false);
                built = upTo;
                progress?.Report(built);
            }
            var taken = new TaskCompletionSource<VmTopology[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            collector.Tell(new Collector.Take(built, taken));
            return new FabricRuntime(system, irs, log, await taken.Task.ConfigureAwait(false));
        }
        finally
        {
            system.Stop(collector);
        }
    }

    /// <summary>Builds the fabric on a deterministic loop (DESIGN.md §6.5): every VM asked for at once from the loop's
    /// thread, then the loop runs until each has answered. The IRS and the VMs are deployed on the loop by
    /// <see cref="Deterministic.DeterministicLoop.SystemConfig"/>; the collector is put there too.</summary>
    public static FabricRuntime BuildOn(Deterministic.DeterministicLoop loop, ActorSystem system, int vms, VmSpec spec, EventLog log, string name = "irs")
    {
        var irs = loop.Spawn(() => system.ActorOf(IrsActor.Props(Math.Max(vms, 1), log), name));
        var collector = loop.Spawn(() => system.ActorOf(Props.Create(() => new Collector(vms)).WithDispatcher(Deterministic.DeterministicLoop.DispatcherId)));
        var all = new TaskCompletionSource();
        var taken = new TaskCompletionSource<VmTopology[]>();
        collector.Tell(new Collector.Expect(vms, all));
        for (var v = 0; v < vms; v++)
            irs.Tell(new HostIrsProtocol.CreateVm(v, spec with { Seed = spec.Seed + v }), collector);
        if (!loop.RunUntil(() => all.Task.IsCompleted, TimeSpan.MaxValue))
            throw new InvalidOperationException($"the fabric was not built: {vms} VMs asked for, the loop ran out of work first after {loop.Steps} deliveries");
        if (all.Task.IsFaulted) all.Task.GetAwaiter().GetResult();
        collector.Tell(new Collector.Take(vms, taken));
        if (!loop.RunUntil(() => taken.Task.IsCompleted, TimeSpan.MaxValue))
            throw new InvalidOperationException("the fabric was built but its collector never handed the VMs over");
        // Stopped by a message it takes on the loop: system.Stop would go through the guardian's thread and reach the
        // loop at a moment no seed decides.
        collector.Tell(PoisonPill.Instance);
        return new FabricRuntime(system, irs, log, taken.Task.GetAwaiter().GetResult());
    }

    /// <summary>A device outside the scenario drives an SPI line of VM <paramref name="vm"/> (kvm_set_irq), through the VM's
    /// front door, so that an injection during a move waits for it. A VM that does not exist is refused here; the VM's
    /// AP list refuses an SPI it does not have (answering <paramref name="replyTo"/>).</summary>
    public string? Inject(int vm, uint spi, bool level, IActorRef? replyTo = null)
    {
        if (Missing("kvm_set_irq", vm) is { } error) return error;
        Vms[vm].Vm.Tell(new ApListProtocol.SetIrq(spi, level), replyTo ?? ActorRefs.NoSender);
        return null;
    }

    /// <summary>Move VM <paramref name="vm"/> now (live migration); it answers <see cref="MigrationProtocol.Migrated"/> to
    /// <paramref name="replyTo"/>, or <see cref="IrsProtocol.Refused"/> if the move could not be made.</summary>
    public string? Migrate(int vm, IActorRef? replyTo = null)
    {
        if (Missing("migrate", vm) is { } error) return error;
        Vms[vm].Vm.Tell(new MigrationProtocol.Migrate(vm), replyTo ?? ActorRefs.NoSender);
        return null;
    }

    private string? Missing(string operation, int vm) => IFabric.MissingVm(operation, vm, Vms.Length);

    /// <summary>Start every VM's devices (and the moves its scenario asks for).</summary>
    public void StartDevices()
    {
        foreach (var vm in Vms) vm.Vm.Tell(DeviceProtocol.Start.Instance);
    }

    /// <summary>Stop injecting everywhere (the drain begins); the host schedulers stop preempting, the guests stop
    /// reprogramming and sending IPIs, and no more moves begin.</summary>
    public void StopDevices()
    {
        foreach (var vm in Vms) vm.Vm.Tell(DeviceProtocol.Stop.Instance);
    }

    /// <summary>Waits until nothing has been logged anywhere for <paramref name="quiet"/>; false on timeout.</summary>
    public Task<bool> AwaitQuiescenceAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken ct = default) =>
        Quiescence.AwaitAsync(Log, quiet, timeout, ct);

    /// <summary>Collects the VMs' <see cref="HostIrsProtocol.VmCreated"/>; completes a batch's task once the VMs up to its end are
    /// built, and hands over the first VMs built.</summary>
    private sealed class Collector(int expected) : UntypedActor
    {
        public sealed record Expect(int Built, TaskCompletionSource Done) : ILocalMessage;
        public sealed record Take(int Count, TaskCompletionSource<VmTopology[]> Done) : ILocalMessage;

        private readonly VmTopology[] _vms = new VmTopology[expected];
        private int _count;
        private readonly Queue<Expect> _waiting = new();

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Expect e:
                    _waiting.Enqueue(e);
                    Check();
                    break;
                case HostIrsProtocol.VmCreated c:
                    _vms[c.VmId] = c.Topology;
                    _count++;
                    Check();
                    break;
                case Take t:
                    t.Done.TrySetResult(t.Count == _vms.Length ? _vms : _vms[..t.Count]);
                    break;
                case IrsProtocol.Refused r:
                    foreach (var w in _waiting) w.Done.TrySetException(new InvalidOperationException($"{r.Operation}: {r.Reason}"));
                    break;
            }
        }

        private void Check()
        {
            // VMs are built in any order; a batch is done once as many VMs as its end are.
            while (_waiting.TryPeek(out var w) && _count >= w.Built) _waiting.Dequeue().Done.TrySetResult();
        }
    }
}
