using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using CsCheck;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Reference;
using Xunit;

namespace Fabric.Specs.ModelBased;

public enum OpKind { Inject, Lower, Enable, Disable, Priority, Affinity, Cdia, Cdeoi, Cddi, Load, Put, Wfi, Exit }

/// <summary>One operation of a generated sequence; Cddi deactivates the oldest interrupt the VPE acknowledged.</summary>
public readonly record struct Op(OpKind Kind, int Vpe, uint Spi, int Value)
{
    public override string ToString() => Kind switch
    {
        OpKind.Inject or OpKind.Lower or OpKind.Enable or OpKind.Disable => $"{Kind}(spi:{Spi})",
        OpKind.Priority => $"Priority(spi:{Spi}, {Value})",
        OpKind.Affinity => $"Affinity(spi:{Spi}, vpe {Value})",
        OpKind.Exit => "Exit",
        _ => $"{Kind}(vpe {Vpe})",
    };
}

/// <summary>
/// Model-based: random sequences of operations applied to <see cref="VmModel"/> (the sequential oracle) and to one VM's
/// actors (VirtualIrsActor, PeActors whose guests never boot, SpiApListActor; TestProbes play the guests and the host), which run on the
/// calling thread so that every operation's cascade of messages completes before the next: each point between
/// operations is a quiescent point. There the whole observable state must be equal: every ISTE, the AP list and
/// KVM's per-SPI state, every CPU interface (APR, PCR, offer, residency, doorbell request, db_fired), what every CDIA
/// returned, and the notifier and doorbell counts. A failure shrinks to a minimal sequence and prints it.
/// </summary>
public class ActorFabricMatchesReferenceSpecs : TestKit
{
    private const int VpeCount = 2, Spis = 32, Used = 8;

    public ActorFabricMatchesReferenceSpecs() : base("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF") { }

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Enum<OpKind>(), Gen.Int[0, VpeCount - 1], Gen.UInt[0, Used - 1], Gen.OneOf(Gen.Const(2), Gen.Const(8), Gen.Const(16), Gen.Const(31)))
            .Select(t => new Op(t.Item1, t.Item2, t.Item3, t.Item1 == OpKind.Affinity ? t.Item2 : t.Item4));

    private static readonly Gen<FabricPolicies> GenPolicies =
        Gen.Select(Gen.Enum<TrackingPolicy>(), Gen.Enum<NotifyPolicy>(), Gen.Enum<VirtualLevelPolicy>(), Gen.Enum<DbpmComparison>(), Gen.Enum<KvmDesign>())
            .Select(t => new FabricPolicies(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5));

    [Fact]
    public void The_actor_fabric_and_the_reference_agree_at_every_quiescent_point() =>
        Gen.Select(GenPolicies, GenOp.List[1, 60]).Sample(t => Agree(t.Item1, t.Item2),
            iter: int.TryParse(Environment.GetEnvironmentVariable("FABRIC_MODEL_ITER"), out var n) ? n : 150,
            threads: 1,
            print: t => $"{t.Item1}\n  " + string.Join("\n  ", t.Item2));

    private void Agree(FabricPolicies policies, List<Op> ops)
    {
        var reference = new VmModel(0, new VirtualIrsConfig(Spis, VpeCount), policies);
        var fabric = new ActorVm(this, policies, VpeCount, Spis);
        try
        {
            Boot(reference, fabric);
            var refAcked = Enumerable.Range(0, VpeCount).Select(_ => new Queue<IntId>()).ToArray();
            var actAcked = Enumerable.Range(0, VpeCount).Select(_ => new Queue<IntId>()).ToArray();
            for (var i = 0; i < ops.Count; i++)
            {
                var op = ops[i];
                Apply(reference, op, refAcked);
                fabric.Apply(op, actAcked);
                Compare(reference, fabric, $"after op #{i} {op}");
            }
        }
        finally { fabric.Stop(); }
    }

    private static void Boot(VmModel r, ActorVm a)
    {
        for (uint s = 0; s < Used; s++)
        {
            var mode = s < Used / 2 ? HandlingMode.Edge : HandlingMode.Level;
            r.ConfigureSpi(s, mode);
            r.Guest(new IrsProtocol.CdPriority(IntId.Spi(s), 8));
            r.Guest(new IrsProtocol.CdAffinity(IntId.Spi(s), (int)(s % VpeCount)));
            r.Guest(new IrsProtocol.CdEnable(IntId.Spi(s), true));
            a.Virs.Tell(new IrsProtocol.ConfigureSpi(s, mode));
            a.Virs.Tell(new IrsProtocol.CdPriority(IntId.Spi(s), 8));
            a.Virs.Tell(new IrsProtocol.CdAffinity(IntId.Spi(s), (int)(s % VpeCount)));
            a.Virs.Tell(new IrsProtocol.CdEnable(IntId.Spi(s), true));
        }
        for (var v = 0; v < VpeCount; v++)
        {
            r.Load(v);
            a.Vpes[v].Tell(ResidencyProtocol.MakeResident.Instance);
        }
    }

    private static void Apply(VmModel r, Op op, Queue<IntId>[] acked)
    {
        var id = IntId.Spi(op.Spi);
        switch (op.Kind)
        {
            case OpKind.Inject: r.Inject(op.Spi, true); break;
            case OpKind.Lower: r.Inject(op.Spi, false); break;
            case OpKind.Enable: r.Guest(new IrsProtocol.CdEnable(id, true)); break;
            case OpKind.Disable: r.Guest(new IrsProtocol.CdEnable(id, false)); break;
            case OpKind.Priority: r.Guest(new IrsProtocol.CdPriority(id, op.Value)); break;
            case OpKind.Affinity: r.Guest(new IrsProtocol.CdAffinity(id, op.Value)); break;
            case OpKind.Cdia: if (r.Cdia(op.Vpe) is { } got) acked[op.Vpe].Enqueue(got); break;
            case OpKind.Cdeoi: r.Cdeoi(op.Vpe); break;
            case OpKind.Cddi: if (acked[op.Vpe].TryDequeue(out var d)) r.Cddi(op.Vpe, d); break;
            case OpKind.Load: r.Load(op.Vpe); break;
            case OpKind.Put: r.Put(op.Vpe, wfi: false); break;
            case OpKind.Wfi: r.Put(op.Vpe, wfi: true); break;
            case OpKind.Exit: r.Exit(); break;
        }
    }

    private static void Compare(VmModel r, ActorVm a, string where)
    {
        for (uint s = 0; s < Spis; s++)
        {
            var id = IntId.Spi(s);
            Assert.True(r.Irs.Entry(id) == a.Irs.Irs.Entry(id), $"{where}: {id} ISTE reference {r.Irs.Entry(id)} actors {a.Irs.Irs.Entry(id)}");
            Assert.True(r.ApList[s] == a.ApList.List[s], $"{where}: {id} KVM state reference {r.ApList[s]} actors {a.ApList.List[s]}");
        }
        Assert.True(r.ApList.Entries.SequenceEqual(a.ApList.List.Entries),
            $"{where}: AP list reference [{string.Join(",", r.ApList.Entries)}] actors [{string.Join(",", a.ApList.List.Entries)}]");
        for (var v = 0; v < VpeCount; v++)
        {
            var (x, y) = (r.Cpus[v], a.Cpus[v]);
            Assert.True((x.Apr, x.Pcr, x.Offered, x.Resident, x.Doorbell, x.DbFired) == (y.Apr, y.Pcr, y.Offered, y.Resident, y.Doorbell, y.DbFired),
                $"{where}: vpe {v} reference (APR {x.Apr:X}, offer {x.Offered}, resident {x.Resident}, db {x.Doorbell}, fired {x.DbFired}) " +
                $"actors (APR {y.Apr:X}, offer {y.Offered}, resident {y.Resident}, db {y.Doorbell}, fired {y.DbFired})");
        }
        Assert.True(r.Counters.Doorbells == a.Count(Ev.Doorbell), $"{where}: doorbells reference {r.Counters.Doorbells} actors {a.Count(Ev.Doorbell)}");
        Assert.True(r.Counters.Notified == a.Count(Ev.Notify), $"{where}: notifications reference {r.Counters.Notified} actors {a.Count(Ev.Notify)}");
        Assert.True(r.Counters.Acknowledged == a.Count(Ev.Ack), $"{where}: acknowledges reference {r.Counters.Acknowledged} actors {a.Count(Ev.Ack)}");
    }
}
