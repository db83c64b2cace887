using Akka.Actor;
using Fabric.Actors.Irs;
using Fabric.Actors.Observation;
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

    /// <summary>Builds <paramref name="vms"/> VMs, each from <paramref name="spec"/> (with a per-VM seed), and boots them.</summary>
    public static async Task<FabricRuntime> BuildAsync(ActorSystem system, int vms, VmSpec spec, EventLog log, TimeSpan? timeout = null, string name = "irs")
    {
        var irs = system.ActorOf(IrsActor.Props(Math.Max(vms, 1), log), name);
        var done = new TaskCompletionSource<VmTopology[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collector = system.ActorOf(Props.Create(() => new Collector(vms, done)));
        for (var v = 0; v < vms; v++)
            irs.Tell(new IrsActor.CreateVm(v, spec with { Seed = spec.Seed + v }), collector);
        var built = await done.Task.WaitAsync(timeout ?? TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        system.Stop(collector);
        return new FabricRuntime(system, irs, log, built);
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

    private sealed class Collector(int expected, TaskCompletionSource<VmTopology[]> done) : UntypedActor
    {
        private readonly VmTopology[] _vms = new VmTopology[expected];
        private int _count;

        protected override void PreStart()
        {
            if (expected == 0) done.TrySetResult(_vms);
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case VmActor.Created c:
                    _vms[c.VmId] = c.Topology;
                    if (++_count == expected) done.TrySetResult(_vms);
                    break;
                case IrsProtocol.Refused r:
                    done.TrySetException(new InvalidOperationException($"{r.Operation}: {r.Reason}"));
                    break;
            }
        }
    }
}
