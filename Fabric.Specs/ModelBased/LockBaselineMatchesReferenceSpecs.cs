using CsCheck;
using Fabric.Actors.Vm;
using Fabric.Bench.Baseline;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Protocol;
using Fabric.Hardware.Reference;
using Xunit;

namespace Fabric.Specs.ModelBased;

/// <summary>
/// The bench's lock baseline (<see cref="KvmVm"/>) interprets the same units as the sequential reference
/// (<see cref="VmModel"/>): called from one thread, operation by operation, the two count the same coalesces,
/// acknowledges, deactivations, notifications, doorbells and residency changes, and every CDIA returns the same INTID.
/// Under threads, the baseline's locks keep its checks clean.
/// </summary>
public class LockBaselineMatchesReferenceSpecs
{
    private const int Vcpus = 2, Spis = 32, Used = 8;

    /// <summary>What the baseline's guest and KVM do: no reprogramming (its guest programs its SPIs once, at boot).</summary>
    private static readonly OpKind[] Kinds = [OpKind.Inject, OpKind.Lower, OpKind.Cdia, OpKind.Cdeoi, OpKind.Cddi, OpKind.Load, OpKind.Put, OpKind.Wfi, OpKind.Exit];

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Int[0, Kinds.Length - 1].Select(k => Kinds[k]), Gen.Int[0, Vcpus - 1], Gen.UInt[0, Used - 1]).Select(t => new Op(t.Item1, t.Item2, t.Item3, 0));

    /// <summary>The seed's fold tracking (the baseline's only tracking), either KVM design, every notify, level and DBPM policy.</summary>
    private static readonly Gen<FabricPolicies> GenPolicies =
        Gen.Select(Gen.Enum<NotifyPolicy>(), Gen.Enum<VirtualLevelPolicy>(), Gen.Enum<DbpmComparison>(), Gen.Enum<KvmDesign>())
            .Select(t => new FabricPolicies(TrackingPolicy.Fold, t.Item1, t.Item2, t.Item3, t.Item4));

    /// <summary>Half the SPIs edge, half level, priority 8, spread over the vCPUs; one irqfd holds a notifier for each.</summary>
    private static VmSpec Spec(FabricPolicies policies) =>
        VmSpec.Simple(Vcpus, Spis, policies) with
        {
            Interrupts =
            [
                new InterruptSpec(new IntIdRange(IntIdType.Spi, 0, Used / 2 - 1), HandlingMode.Edge, 8, null, true),
                new InterruptSpec(new IntIdRange(IntIdType.Spi, Used / 2, Used - 1), HandlingMode.Level, 8, null, true),
            ],
            Devices = [new DeviceSpec(DeviceKind.Irqfd, new IntIdRange(IntIdType.Spi, 0, Used - 1))],
        };

    [Fact]
    public void The_lock_baseline_and_the_reference_count_the_same_at_every_step() =>
        Gen.Select(GenPolicies, GenOp.List[1, 60]).Sample(t => Agree(t.Item1, t.Item2),
            iter: int.TryParse(Environment.GetEnvironmentVariable("FABRIC_MODEL_ITER"), out var n) ? n : 150,
            threads: 1,
            print: t => $"{t.Item1}\n  " + string.Join("\n  ", t.Item2));

    private static void Agree(FabricPolicies policies, List<Op> ops)
    {
        var spec = Spec(policies);
        var baseline = new KvmVm(0, spec);
        var reference = Reference(spec);
        var resident = new bool[Vcpus];
        var refAcked = Enumerable.Range(0, Vcpus).Select(_ => new Queue<IntId>()).ToArray();
        var lockAcked = Enumerable.Range(0, Vcpus).Select(_ => new Queue<IntId>()).ToArray();
        for (var v = 0; v < Vcpus; v++)
        {
            reference.Load(v);
            baseline.Load(v);
            resident[v] = true;
        }
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            var where = $"after op #{i} {op}";
            switch (op.Kind)
            {
                case OpKind.Inject: reference.Inject(op.Spi, true); baseline.Inject(op.Spi, true); break;
                case OpKind.Lower: reference.Inject(op.Spi, false); baseline.Inject(op.Spi, false); break;
                case OpKind.Cdia:
                    var (r, b) = (reference.Cdia(op.Vpe), baseline.Cdia(op.Vpe));
                    Assert.True(r == b, $"{where}: CDIA reference {r} baseline {b}");
                    if (r is { } id) { refAcked[op.Vpe].Enqueue(id); lockAcked[op.Vpe].Enqueue(id); }
                    break;
                case OpKind.Cdeoi: reference.Cdeoi(op.Vpe); baseline.Cdeoi(op.Vpe); break;
                case OpKind.Cddi:
                    if (refAcked[op.Vpe].TryDequeue(out var d)) reference.Cddi(op.Vpe, d);
                    if (lockAcked[op.Vpe].TryDequeue(out var e)) baseline.Cddi(op.Vpe, e);
                    break;
                case OpKind.Load: reference.Load(op.Vpe); baseline.Load(op.Vpe); resident[op.Vpe] = true; break;
                case OpKind.Put or OpKind.Wfi:
                    // The baseline's vCPU threads put only a running vCPU (the reference ignores a put of one that is not).
                    reference.Put(op.Vpe, wfi: op.Kind == OpKind.Wfi);
                    if (resident[op.Vpe]) baseline.Put(op.Vpe, wfi: op.Kind == OpKind.Wfi);
                    resident[op.Vpe] = false;
                    break;
                case OpKind.Exit: reference.Exit(); baseline.Exit(); break;
            }
            Compare(reference.Counters, baseline.Check(), where);
        }
    }

    /// <summary>The reference, built from the same units a fresh VM has and booted with the same program.</summary>
    private static VmModel Reference(VmSpec spec)
    {
        var units = VmUnits.Fresh(0, spec);
        var model = new VmModel(0, spec.Policies, units.Virs.Irs, units.Vpes.Select(v => v.Cpu).ToArray(), units.ApList.List);
        foreach (var op in VmUnits.IrsBootProgram(spec))
            Assert.Null(model.Guest((IUnitMessage)op));
        return model;
    }

    /// <summary>The counts both keep. (Injected is not among them: the reference counts every raise it is given, the
    /// baseline those KVM accepts — they differ for a level line raised twice.)</summary>
    private static void Compare(FabricCounters r, BaselineCounts b, string where)
    {
        Assert.True((r.Coalesced, r.Acknowledged, r.Deactivated, r.Notified, r.Doorbells, r.ResidencyChanges) ==
                    (b.Coalesced, b.Acknowledged, b.Deactivated, b.Notified, b.Doorbells, b.ResidencyChanges),
            $"{where}: reference (coalesced {r.Coalesced}, acked {r.Acknowledged}, deactivated {r.Deactivated}, notified {r.Notified}, doorbells {r.Doorbells}, residency {r.ResidencyChanges}) " +
            $"baseline (coalesced {b.Coalesced}, acked {b.Acknowledged}, deactivated {b.Deactivated}, notified {b.Notified}, doorbells {b.Doorbells}, residency {b.ResidencyChanges})");
    }

    [Theory]
    [InlineData(KvmDesign.ApList)]
    [InlineData(KvmDesign.Merged)]
    public void A_drained_edge_workload_leaves_the_baseline_clean_and_every_consumption_reaches_its_device(KvmDesign design)
    {
        var vm = new KvmVm(0, Spec(new FabricPolicies(TrackingPolicy.Fold, Kvm: design)));
        var callbacks = 0;
        vm.Notifier = (_, _) => callbacks++;
        for (var v = 0; v < Vcpus; v++) vm.Load(v);
        for (uint spi = 0; spi < Used / 2; spi++) vm.Inject(spi, true);
        vm.Inject(0, true);   // coalesces: spi:0 is still pending
        vm.Put(1, wfi: true);   // vCPU 1 has spi:1 and spi:3 pending: its doorbell rings at once
        Assert.True(vm.Woken(1), "a WFI put with an interrupt pending rings the doorbell at once");
        for (var v = 0; v < Vcpus; v++)
        {
            vm.Load(v);
            while (vm.Cdia(v) is { } id)
            {
                vm.Cdeoi(v);
                vm.Cddi(v, id);
            }
        }
        vm.Exit();   // the seed's design folds the consumed SPIs off its list and notifies them
        var counts = vm.Check();
        Assert.Empty(counts.Violations);
        Assert.True(vm.Quiescent());
        Assert.Equal((5L, 1L, 4L, 4L), (counts.Injected, counts.Coalesced, counts.Acknowledged, counts.Deactivated));
        Assert.Equal(1L, counts.Doorbells);
        // The seed's notifier, once per SPI (a coalesced edge is one consumption); the merged design's device sees each
        // consumption on its own completion path, and KVM notifies nothing.
        Assert.Equal(design == KvmDesign.ApList ? (4L, 4) : (0L, 4), (counts.Notified, callbacks));
    }

    [Theory]
    [InlineData(KvmDesign.ApList, BaselineThreading.ThreadPerVcpu)]
    [InlineData(KvmDesign.ApList, BaselineThreading.ThreadsPerCore)]
    [InlineData(KvmDesign.Merged, BaselineThreading.ThreadPerVcpu)]
    public void Under_threads_the_locks_keep_the_baseline_s_checks_clean(KvmDesign design, BaselineThreading threading)
    {
        var spec = Fabric.Bench.Workloads.Workloads.EdgeStorm(wfi: true, TrackingPolicy.Fold, injectors: 4, vcpus: 2, spis: 32);
        spec = spec with { Policies = spec.Policies with { Kvm = design } };
        var r = BaselineRun.Measure(2, spec, threading, maxInjectorThreads: 4, TimeSpan.Zero, TimeSpan.FromMilliseconds(300));
        Assert.Null(r.Failure);
        Assert.True(r.Lifecycles > 0, "the storm ran");
        Assert.Equal(r.Counts.Acknowledged, r.Counts.Deactivated);
        if (design == KvmDesign.ApList) Assert.Equal(r.Counts.Deactivated, r.Counts.Notified);
    }

    [Fact]
    public void The_baseline_refuses_push_tracking_which_has_no_KVM_lock_design() =>
        Assert.Contains("tracking = fold",
            Assert.Throws<ArgumentException>(() => new KvmVm(0, Spec(new FabricPolicies(TrackingPolicy.Push)))).Message);
}
