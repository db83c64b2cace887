using Fabric.Hardware.Protocol;
using System.Globalization;
using CsCheck;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Migration;
using Fabric.Hardware.Reference;
using Xunit;

namespace Fabric.Specs.Hardware.Migration;

/// <summary>One random thing that happens to a VM: a device, the guest, or KVM acting (see <see cref="MigrationKit.Apply"/>).</summary>
public readonly record struct VmOp(int Kind, int A, int B, int C)
{
    public override string ToString() => MigrationKit.Describe(this);
}

/// <summary>Shared builders for the migration specs: VMs driven through <see cref="VmModel"/>, random operation sequences,
/// quiescing, and a fingerprint of everything a restore in progress holds.</summary>
internal static class MigrationKit
{
    public const int LpiIdBits = 14;   // the smallest LPI IST a guest may configure (IDR2.MIN_LPI_ID_BITS)

    public static FabricPolicies Policies(TrackingPolicy tracking = TrackingPolicy.Push, VirtualLevelPolicy level = VirtualLevelPolicy.EdgeEmulated,
        NotifyPolicy notify = NotifyPolicy.OnDeactivate, DbpmComparison dbpm = DbpmComparison.Inclusive) => new(tracking, notify, level, dbpm);

    public static VmModel Vm(int spis = 32, int vpes = 2, FabricPolicies? policies = null, int priorityBits = Priority.Bits) =>
        new(0, new VirtualIrsConfig(spis, vpes, priorityBits), policies ?? Policies());

    /// <summary>The guest's boot programming of one SPI.</summary>
    public static void Boot(VmModel vm, uint spi, int priority, int vpe = 0, bool enabled = true, HandlingMode tm = HandlingMode.Edge)
    {
        Assert.Null(vm.ConfigureSpi(spi, tm));
        Assert.Null(vm.Guest(new IrsProtocol.CdPriority(IntId.Spi(spi), priority)));
        Assert.Null(vm.Guest(new IrsProtocol.CdAffinity(IntId.Spi(spi), vpe)));
        Assert.Null(vm.Guest(new IrsProtocol.CdEnable(IntId.Spi(spi), enabled)));
    }

    /// <summary>Every vCPU stopped (non-resident), as a VMM stops them before saving; <paramref name="wfiMask"/> bit v puts
    /// VPE v into WFI with a doorbell request rather than exiting to userspace.</summary>
    public static void Quiesce(VmModel vm, int wfiMask = 0)
    {
        for (var v = 0; v < vm.Cpus.Length; v++) vm.Put(v, wfi: ((wfiMask >> v) & 1) != 0);
    }

    public static VmState Save(VmModel vm, ulong irsBase = VmSave.DefaultIrsBase)
    {
        var saved = VmSave.Save(vm, irsBase);
        Assert.True(saved.Ok, saved.Status.ToString());
        return saved.State!;
    }

    /// <summary>A VM with SPIs in every state, an LPI IST with pending LPIs, a PPI, and a VPE in WFI: quiesced and saved.</summary>
    public static (VmModel Vm, VmState State) Busy(bool lpis = true, FabricPolicies? policies = null)
    {
        var vm = Vm(policies: policies);
        if (lpis) Assert.True(vm.Irs.ConfigureLpiIst(LpiIdBits).Ok);
        Boot(vm, 3, priority: 4);
        Boot(vm, 5, priority: 9, vpe: 1, tm: HandlingMode.Level);
        Boot(vm, 7, priority: 12, enabled: false);
        vm.Load(0);
        vm.Load(1);
        vm.Inject(3, true);
        vm.Inject(5, true);
        vm.Inject(7, true);
        Assert.Equal(IntId.Spi(3), vm.Cdia(0));                           // spi:3 active on VPE 0
        vm.Inject(3, true);                                                // ...and pending again: AP
        if (lpis)
        {
            Assert.Null(vm.Guest(new IrsProtocol.CdAffinity(IntId.Lpi(9), 1)));
            Assert.Null(vm.Guest(new IrsProtocol.CdPriority(IntId.Lpi(9), 20)));
            Assert.Null(vm.Guest(new IrsProtocol.CdPend(IntId.Lpi(9), true)));
        }
        CpuInterfaceRules.ApplyPpi(vm.Cpus[0], IntId.Ppi(23), e => InterruptStateMachine.SetPending(e, true));
        vm.Cpus[1].Pcr = Priority.Of(16);
        Quiesce(vm, wfiMask: 0b10);
        return (vm, Save(vm));
    }

    /// <summary>A restore of <paramref name="state"/> carried up to the last step before the ISTs: (a) to (e).</summary>
    public static VmRestore UpToRegisters(VmState state, FabricPolicies? policies = null)
    {
        var r = Initialised(state, policies);
        foreach (var reg in state.IrsRegisters) Assert.Equal(KvmStatus.Success, r.SetIrsRegister(reg.Offset, reg.Value));
        return r;
    }

    /// <summary>A restore of <paramref name="state"/> carried through (a) to (d).</summary>
    public static VmRestore Initialised(VmState state, FabricPolicies? policies = null)
    {
        var r = new VmRestore(state.Shape.VpeCount, policies ?? Policies(level: state.Shape.VirtualLevel), state.Shape.PriorityBits);
        Assert.Equal(KvmStatus.Success, r.SetIrsAddress(state.Shape.IrsBase));
        Assert.Equal(KvmStatus.Success, r.SetSpiCount(state.Shape.SpiCount));
        Assert.Equal(KvmStatus.Success, r.Init());
        return r;
    }

    public static IstBuffers Buffers(VmState s) => new(s.SpiIst.ToArray(), s.LpiIst.IsEmpty ? null : s.LpiIst.ToArray());

    /// <summary>A restore that has done everything but run.</summary>
    public static VmRestore Prepared(VmState state, FabricPolicies? policies = null)
    {
        var status = VmRestore.Prepare(state, policies ?? Policies(level: state.Shape.VirtualLevel), out var r);
        Assert.True(status.Ok, status.ToString());
        return r!;
    }

    /// <summary>Everything a restore in progress holds, as text: a refused call must leave it identical.</summary>
    public static string Fingerprint(VmRestore r)
    {
        var parts = new List<string>
        {
            $"base={r.IrsBase} spis={r.SpiCount} init={r.Initialised} ists={r.IstsRestored} ran={r.HasRun}",
            "pending=" + string.Join(",", r.PendingReplay),
            "kvm=" + string.Join(",", r.KvmIrqs),
            "ap=" + string.Join(",", r.ApOrder),
        };
        parts.AddRange(r.Cpus.Select(c =>
            $"vpe{c.VpeId}={string.Join(",", CpuInterfaceSysregs.ReadAll(c))} db={c.DbFired}/{c.Doorbell} offered={c.Offered} resident={c.Resident}"));
        if (r.Irs is { } irs)
        {
            parts.Add("regs=" + string.Join(",", VmSave.IrsRegisterValues(irs.Frame)));
            parts.Add("trigger=" + string.Join("", Enumerable.Range(0, irs.Config.SpiCount).Select(s => (int)irs.TriggerMode((uint)s))));
            parts.Add("spi=" + Convert.ToHexString(irs.Spis.SaveEntries()));
            parts.Add("lpi=" + (irs.Lpis is { } l ? Convert.ToHexString(l.SaveEntries()) : "none"));
            parts.Add("offers=" + string.Join(",", Enumerable.Range(0, irs.Config.VpeCount).Select(v => irs.Offered(v))));
        }
        return string.Join("\n", parts);
    }

    /// <summary>Re-seals bytes altered on purpose with a correct CRC, so that a decoder's structural checks are reached.</summary>
    public static byte[] Resealed(byte[] bytes)
    {
        var copy = bytes.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(copy.Length - 4), Crc32.Compute(copy.AsSpan(0, copy.Length - 4)));
        return copy;
    }

    /// <summary>Where the payload of section <paramref name="tag"/> starts, walking the sections as the format document says.</summary>
    public static int PayloadOffset(byte[] bytes, string tag)
    {
        var at = VmStateFormat.HeaderBytes;
        while (at < bytes.Length - VmStateFormat.CrcBytes)
        {
            var name = System.Text.Encoding.ASCII.GetString(bytes, at, 4);
            var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            if (name == tag) return at + VmStateFormat.SectionHeaderBytes;
            at += VmStateFormat.SectionHeaderBytes + length;
        }
        throw new ArgumentException($"no section {tag}");
    }

    // ---- Random VMs ------------------------------------------------------------------------------------

    /// <summary>The interrupt an operand names: 0..7 SPIs, 8..15 LPIs (refused while the guest has no LPI IST).</summary>
    private static IntId Target(int a) => a < 8 ? IntId.Spi((uint)a) : IntId.Lpi((uint)(a - 8));

    private static Gen<VmOp> OfKind(int kind) => Gen.Select(Gen.Int[0, 15], Gen.Int[0, 31], Gen.Int[0, 1], (a, b, c) => new VmOp(kind, a, b, c));

    /// <summary>Any operation, weighted so that interrupts get injected, enabled, delivered and acknowledged often.</summary>
    public static readonly Gen<VmOp> AnyOp = Gen.Frequency(
        (4, OfKind(0)), (1, OfKind(1)), (4, OfKind(2)), (1, OfKind(3)), (1, OfKind(4)), (2, OfKind(5)), (6, OfKind(6)), (1, OfKind(7)),
        (1, OfKind(8)), (4, OfKind(9)), (1, OfKind(10)), (1, OfKind(11)), (2, OfKind(12)), (1, OfKind(13)), (1, OfKind(14)),
        (1, OfKind(15)), (2, OfKind(16)));

    public static readonly Gen<FabricPolicies> AnyPolicies =
        Gen.Select(Gen.Enum<TrackingPolicy>(), Gen.Enum<NotifyPolicy>(), Gen.Enum<VirtualLevelPolicy>(), Gen.Enum<DbpmComparison>(), Gen.Enum<KvmDesign>())
            .Select(t => new FabricPolicies(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5));

    /// <summary>A VM's size: SPIs, VPEs, priority bits.</summary>
    public static readonly Gen<(int Spis, int Vpes, int Bits)> AnyShape =
        Gen.Select(Gen.OneOf(Gen.Const(32), Gen.Const(64)), Gen.Int[1, 3], Gen.Int[3, 5]);

    /// <summary>Applies one operation as the reference does; the text it returns is what an observer sees.</summary>
    public static string Apply(VmModel vm, VmOp op)
    {
        var vpe = op.A % vm.Cpus.Length;
        var cpu = vm.Cpus[vpe];
        var id = Target(op.A);
        switch (op.Kind)
        {
            case 0: return "inject " + vm.Inject((uint)(op.A % 8), op.C == 1);
            case 1: return "trigger " + vm.ConfigureSpi((uint)(op.A % 8), op.C == 1 ? HandlingMode.Level : HandlingMode.Edge);
            case 2: return "enable " + vm.Guest(new IrsProtocol.CdEnable(id, op.C == 1));
            case 3: return "priority " + vm.Guest(new IrsProtocol.CdPriority(id, op.B));
            case 4: return "affinity " + vm.Guest(new IrsProtocol.CdAffinity(id, op.B % vm.Cpus.Length));
            case 5: return "cdpend " + vm.Guest(new IrsProtocol.CdPend(id, op.C == 1));
            case 6: return "cdia " + vm.Cdia(vpe);
            case 7: return "cdeoi " + vm.Cdeoi(vpe);
            case 8: return "cddi " + vm.Cddi(vpe, op.C == 1 ? IntId.Ppi((uint)(op.B % 4)) : id);
            case 9: vm.Load(vpe); return "load";
            case 10: vm.Put(vpe, wfi: op.C == 1); return "put";
            case 11: vm.Exit(); return "exit";
            case 12:
                var ppi = IntId.Ppi((uint)(op.B % 4));
                var t = CpuInterfaceRules.ApplyPpi(cpu, ppi, e => op.C == 1 ? InterruptStateMachine.SetPending(e, true)
                    : op.B % 2 == 0 ? InterruptStateMachine.SetEnabled(e, !e.Enabled) : InterruptStateMachine.SetPriority(e, Priority.Of(op.B)));
                var raised = CpuInterfaceRules.TryRaiseDoorbell(cpu, vm.Policies.Dbpm);   // the VPE evaluates after a PPI change
                return $"ppi {t.Effects} {raised}";
            case 13 when cpu.Resident: cpu.Pcr = Priority.Of(op.B); return "pcr";
            case 14 when cpu.Resident: cpu.Enabled = op.C == 1 || op.B % 4 != 0; return "cr0";
            case 15 when cpu.Resident: cpu.Icsr = vm.Irs.Vdrcfg(id); return "cdrcfg";
            case 16:
                return (op.B % 5) switch
                {
                    0 => "spi_selr " + vm.MmioWrite(IrsRegisters.SpiSelr.Offset, (ulong)op.A, 4),
                    1 => "pe_selr " + vm.MmioWrite(IrsRegisters.PeSelr.Offset, (ulong)(op.A % 4), 4),
                    2 => "cr1 " + vm.MmioWrite(IrsRegisters.Cr1.Offset, (ulong)(op.A * 0x111), 4),
                    3 => "irsen " + vm.MmioWrite(IrsRegisters.Cr0.Offset, (ulong)op.C, 4),
                    _ => vm.Irs.Lpis is null ? "lpi-ist " + vm.WriteAll(LpiIstWrites()) : "cdhm " + vm.Guest(new IrsProtocol.CdHandlingMode(IntId.Lpi((uint)(op.A % 8)), (HandlingMode)op.C)),
                };
            default: return "noop";
        }
    }

    /// <summary>The guest's boot writes for an LPI IST: IRS_IST_CFGR, then IRS_IST_BASER.VALID=1.</summary>
    private static (ulong Offset, ulong Value, int Size)[] LpiIstWrites() =>
    [
        (IrsRegisters.IstCfgr.Offset, IstConfig.LinearOf(LpiIdBits).Encode(), 4),
        (IrsRegisters.IstBaser.Offset, IrsRegisters.IstBaserAddr.Deposit(IrsRegisters.IstBaserValid.Set(0, true), 0x8000_0000 >> 6), 8),
    ];

    private static string? WriteAll(this VmModel vm, (ulong Offset, ulong Value, int Size)[] writes)
    {
        foreach (var (offset, value, size) in writes)
            if (vm.MmioWrite(offset, value, size) is { } error) return error;
        return null;
    }

    public static string Describe(VmOp op) => op.Kind switch
    {
        0 => $"Inject(spi:{op.A % 8}, {op.C == 1})",
        1 => $"ConfigureSpi(spi:{op.A % 8}, {(op.C == 1 ? "Level" : "Edge")})",
        2 => $"CdEnable({Target(op.A)}, {op.C == 1})",
        3 => $"CdPriority({Target(op.A)}, {op.B})",
        4 => $"CdAffinity({Target(op.A)}, {op.B}%vpes)",
        5 => $"CdPend({Target(op.A)}, {op.C == 1})",
        6 => $"Cdia(vpe {op.A}%vpes)",
        7 => $"Cdeoi(vpe {op.A}%vpes)",
        8 => $"Cddi(vpe {op.A}%vpes, {(op.C == 1 ? IntId.Ppi((uint)(op.B % 4)) : Target(op.A))})",
        9 => $"Load(vpe {op.A}%vpes)",
        10 => $"Put(vpe {op.A}%vpes, wfi={op.C == 1})",
        11 => "Exit",
        12 => $"Ppi(vpe {op.A}%vpes, ppi:{op.B % 4}, {(op.C == 1 ? "pend" : op.B % 2 == 0 ? "toggle enable" : $"priority {op.B}")})",
        13 => $"Pcr(vpe {op.A}%vpes, {op.B})",
        14 => $"Cr0En(vpe {op.A}%vpes, {op.C == 1 || op.B % 4 != 0})",
        15 => $"Cdrcfg(vpe {op.A}%vpes, {Target(op.A)})",
        _ => $"Mmio(kind {op.B % 5}, {op.A}, {op.C})",
    };

    /// <summary>A VM of the given shape and policies after <paramref name="ops"/>, quiesced with <paramref name="wfiMask"/>.</summary>
    public static VmModel Run((int Spis, int Vpes, int Bits) shape, FabricPolicies policies, IEnumerable<VmOp> ops, int wfiMask)
    {
        var vm = Vm(shape.Spis, shape.Vpes, policies, shape.Bits);
        foreach (var op in ops) Apply(vm, op);
        Quiesce(vm, wfiMask);
        return vm;
    }

    public static string Hex(ulong v) => "0x" + v.ToString("X", CultureInfo.InvariantCulture);
}
