using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.TestKit;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Specs.ModelBased;

/// <summary>One VM's actors on the calling thread, with probes for the vCPUs' guests and the host scheduler.</summary>
public sealed class ActorVm
{
    private readonly TestKitBase _kit;
    private readonly TestProbe[] _vcpus;
    private readonly EventLog _log = new();
    private readonly List<FabricEvent> _events = new();
    private readonly List<IActorRef> _actors = new();

    public ActorVm(TestKitBase kit, FabricPolicies policies, int vpes, int spis, int vmId = 0)
    {
        _kit = kit;
        var vm = new VmTopology(vmId, vpes, policies);
        _vcpus = Enumerable.Range(0, vpes).Select(_ => kit.CreateTestProbe()).ToArray();
        var irs = new VirtualIrs(new VirtualIrsConfig(spis, vpes, VirtualLevel: policies.VirtualLevel));
        irs.EnableIrs();
        Irs = new VirtualIrsState(irs);
        ApList = new ApListState(new SpiApList(spis, policies.Notify, policies.Kvm));
        Cpus = Enumerable.Range(0, vpes).Select(v => CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(v) { IrsEnabled = true }, Priority.Lowest)).ToArray();
        vm.Scheduler = kit.CreateTestProbe().Ref;
        for (var v = 0; v < vpes; v++)
        {
            // A PE whose guest never boots: the probes play the guest (their CDIAs reach its VPE from outside), and its
            // vCPU unit ignores the IRQ its VPE asserts, as a vCPU that is not running does.
            vm.Vpes[v] = vm.Vcpus[v] = Spawn(PeActor.Props(new VpeState(Cpus[v]), new VcpuState(v, VmSpec.Simple(vpes, spis, policies)), vm, _log));
        }
        vm.Virs = Spawn(VirtualIrsActor.Props(Irs, vm, policies, _log));
        vm.ApList = Spawn(SpiApListActor.Props(ApList, vm, policies, _log));
        Vm = vm;
    }

    public VmTopology Vm { get; }
    public VirtualIrsState Irs { get; }
    public ApListState ApList { get; }
    public VirtualCpuInterface[] Cpus { get; }
    public IActorRef Virs => Vm.Virs;
    public IActorRef[] Vpes => Vm.Vpes;

    private IActorRef Spawn(Props props)
    {
        var a = _kit.Sys.ActorOf(props.WithDispatcher(CallingThreadDispatcher.Id));
        _actors.Add(a);
        // Creation is asynchronous; once the actor answers, every message to it runs on the sender's thread.
        var started = _kit.CreateTestProbe();
        a.Tell(new Identify(null), started.Ref);
        started.ExpectMsg<ActorIdentity>();
        return a;
    }

    /// <summary>Everything this VM's actors own, canonically: ISTEs, IRS registers, AP list and KVM state, CPU interfaces.</summary>
    public string State()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var (id, e) in Irs.Irs.Entries()) if (e.Raw != 0) sb.Append(id).Append('=').Append(e.Raw.ToString("X")).Append(';');
        foreach (var (name, value) in Irs.Irs.Frame.Snapshot().OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append(name).Append('=').Append(value.ToString("X")).Append(';');
        sb.Append("ap=").Append(string.Join(",", ApList.List.Entries)).Append(';');
        for (uint s = 0; s < ApList.List.SpiCount; s++) if (ApList.List[s] != default) sb.Append("kvm").Append(s).Append('=').Append(ApList.List[s]).Append(';');
        foreach (var c in Cpus)
        {
            sb.Append($"vpe{c.VpeId}:{c.Apr:X},{c.Pcr},{c.Offered},{c.Resident},{c.Doorbell},{c.DbFired};");
            for (var i = 0; i < c.Ppis.Count; i++) if (c.Ppis[i].Raw != 0) sb.Append($"ppi{i}={c.Ppis[i].Raw:X};");
        }
        return sb.ToString();
    }

    public int Count(Ev ev)
    {
        _log.Drain(_events);
        return _events.Count(e => e.Ev == ev);
    }

    public void Apply(Op op, Queue<IntId>[] acked)
    {
        var id = IntId.Spi(op.Spi);
        switch (op.Kind)
        {
            case OpKind.Inject: Vm.ApList.Tell(new ApListProtocol.SetIrq(op.Spi, true)); break;
            case OpKind.Lower: Vm.ApList.Tell(new ApListProtocol.SetIrq(op.Spi, false)); break;
            case OpKind.Enable: Virs.Tell(new IrsProtocol.CdEnable(id, true)); break;
            case OpKind.Disable: Virs.Tell(new IrsProtocol.CdEnable(id, false)); break;
            case OpKind.Priority: Virs.Tell(new IrsProtocol.CdPriority(id, op.Value)); break;
            case OpKind.Affinity: Virs.Tell(new IrsProtocol.CdAffinity(id, op.Value)); break;
            case OpKind.Cdia:
                var probe = _vcpus[op.Vpe];
                Drain(probe);
                Vpes[op.Vpe].Tell(CpuInterfaceProtocol.Cdia.Instance, probe.Ref);
                if (probe.FishForMessage<CpuInterfaceProtocol.CdiaResult>(_ => true, TimeSpan.FromSeconds(5)).Id is { } got) acked[op.Vpe].Enqueue(got);
                break;
            case OpKind.Cdeoi: Vpes[op.Vpe].Tell(CpuInterfaceProtocol.Cdeoi.Instance); break;
            case OpKind.Cddi: if (acked[op.Vpe].TryDequeue(out var d)) Virs.Tell(new IrsProtocol.Cddi(d, op.Vpe)); break;
            case OpKind.Load: Vpes[op.Vpe].Tell(ResidencyProtocol.MakeResident.Instance); break;
            case OpKind.Put:
            case OpKind.Wfi:
                // vgic_v5_put then kvm_vgic_sync_hwstate: the model's Put folds only when the VPE was resident.
                var wasResident = Cpus[op.Vpe].Resident;
                Vpes[op.Vpe].Tell(new ResidencyProtocol.MakeNonResident(op.Kind == OpKind.Wfi));
                if (wasResident) Vm.ApList.Tell(new ApListProtocol.VcpuExit(op.Vpe));
                break;
            case OpKind.Exit: Vm.ApList.Tell(new ApListProtocol.VcpuExit(-1)); break;
        }
    }

    private static void Drain(TestProbe p)
    {
        while (p.HasMessages) p.ReceiveOne(TimeSpan.Zero);
    }

    public void Stop()
    {
        foreach (var a in _actors) _kit.Sys.Stop(a);
    }
}
