using System.Collections.Immutable;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Migration;

/// <summary>What the saved VM was built as: the values a VMM gives KVM before restoring state (vCPUs, IRS address,
/// SPI count) plus Fabric's configuration of the IRS slice (priority bits, virtual-level policy).</summary>
public sealed record VmShape(int SpiCount, int VpeCount, int PriorityBits, VirtualLevelPolicy VirtualLevel, ulong IrsBase)
{
    /// <summary>Why no VM can have this shape, or null (KVM's limits: VirtualIrsConfig.Validate).</summary>
    public string? Validate()
    {
        if (!Enum.IsDefined(VirtualLevel)) return $"virtual-level policy {(int)VirtualLevel} is not 0 (edge-emulated) or 1 (hardware-level)";
        return new VirtualIrsConfig(SpiCount, VpeCount, PriorityBits, VirtualLevel).Validate();
    }
}

/// <summary>One IRS register as KVM_DEV_ARM_VGIC_GRP_IRS_REGS GET returns it: its CONFIG_FRAME offset, width in bits, value.</summary>
public readonly record struct IrsRegisterValue(uint Offset, int Width, ulong Value);

/// <summary>KVM's and the IRS's per-vCPU state beyond the CPU-interface registers: <c>db_fired</c> and the doorbell
/// request (ICH_CONTEXTR_EL2.DB/DBPM, IRS_VPE_DBR) of a VPE that went non-resident in WFI.</summary>
public readonly record struct VpeBookkeeping(bool DbFired, DoorbellRequest Doorbell);

/// <summary>One vCPU's saved state: its CPU-interface registers in <see cref="CpuSysreg"/> order, and KVM's bookkeeping.</summary>
public sealed record VpeState(int VpeId, ImmutableArray<ulong> Sysregs, VpeBookkeeping Kvm)
{
    public ulong this[CpuSysreg r] => Sysregs[(int)r];

    public bool Equals(VpeState? other) =>
        other is not null && VpeId == other.VpeId && Kvm == other.Kvm && Sysregs.AsSpan().SequenceEqual(other.Sysregs.AsSpan());

    public override int GetHashCode() => HashCode.Combine(VpeId, Kvm, Sysregs.Length > 0 ? Sysregs[0] : 0);
}

/// <summary>
/// A saved VM (SEMANTICS.md §4), immutable: everything a restore needs to rebuild it exactly —
/// the IRS registers (GRP_IRS_REGS), the SPI and LPI ISTs (GRP_IST: one little-endian 32-bit ISTE per interrupt, in
/// INTID order; <see cref="LpiIst"/> empty when the guest has none), every vCPU's CPU-interface registers
/// (GRP_CPU_SYSREGS) and bookkeeping, and KVM's per-SPI bookkeeping with the SPI AP list in list order.
/// <para>Its bytes are <see cref="Encode"/>'s, documented in docs/vm-state-format.md: versioned, little-endian,
/// CRC-32 protected, and deterministic — equal states encode to equal bytes, so two states are equal exactly when
/// their encodings are.</para>
/// </summary>
public sealed record VmState(
    VmShape Shape,
    ImmutableArray<IrsRegisterValue> IrsRegisters,
    ImmutableArray<byte> SpiIst,
    ImmutableArray<byte> LpiIst,
    ImmutableArray<VpeState> Vpes,
    ImmutableArray<KvmIrq> Spis,
    ImmutableArray<uint> ApList)
{
    /// <summary>The bytes of this state (docs/vm-state-format.md); an inconsistent state is refused with the reason.</summary>
    public byte[] Encode() => VmStateFormat.Encode(this);

    /// <summary>Reads a state from <paramref name="bytes"/>; never throws: anything else than a well-formed state of a known
    /// version is refused with the reason.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VmState? state, out string error) =>
        VmStateFormat.TryDecode(bytes, out state, out error);

    /// <summary>The saved ISTE of an SPI (its Pending bit as saved).</summary>
    public IstEntry SpiEntry(uint spi) => IstEntry.ReadLittleEndian(SpiIst.AsSpan().Slice(checked((int)spi * Ist.SavedEntryBytes), Ist.SavedEntryBytes));

    /// <summary>The saved value of the IRS register <paramref name="id"/>, or null when the state does not hold it.</summary>
    public ulong? Register(IrsRegisterId id)
    {
        var offset = (uint)Fabric.Hardware.Irs.IrsRegisters.Get(id).Offset;
        foreach (var r in IrsRegisters)
            if (r.Offset == offset) return r.Value;
        return null;
    }

    /// <summary>Why this state is not well formed, or null: the structural rules of the format (sizes and counts agree with
    /// the shape, registers in strictly increasing offset order, values that fit their width). Whether the values make
    /// sense for a VM is the restore's to judge, with KVM's errors.</summary>
    public string? Validate()
    {
        if (Shape is null) return "the state has no shape";
        if (Shape.Validate() is { } shape) return shape;
        if (IrsRegisters.IsDefault || SpiIst.IsDefault || LpiIst.IsDefault || Vpes.IsDefault || Spis.IsDefault || ApList.IsDefault)
            return "a section of the state is missing (default ImmutableArray)";
        for (var i = 0; i < IrsRegisters.Length; i++)
        {
            var r = IrsRegisters[i];
            if (i > 0 && r.Offset <= IrsRegisters[i - 1].Offset)
                return $"IRS registers must be in strictly increasing offset order: 0x{r.Offset:X} follows 0x{IrsRegisters[i - 1].Offset:X}";
            if (r.Width is not (32 or 64)) return $"IRS register at 0x{r.Offset:X} has width {r.Width}, not 32 or 64";
            if (r.Width == 32 && r.Value > uint.MaxValue) return $"IRS register at 0x{r.Offset:X} is 32-bit but holds 0x{r.Value:X}";
        }
        if (SpiIst.Length != Shape.SpiCount * Ist.SavedEntryBytes)
            return $"the SPI IST is {SpiIst.Length} bytes; {Shape.SpiCount} SPIs need {Shape.SpiCount * Ist.SavedEntryBytes}";
        if (LpiIst.Length != 0)
        {
            var entries = LpiIst.Length / Ist.SavedEntryBytes;
            if (LpiIst.Length % Ist.SavedEntryBytes != 0 || !System.Numerics.BitOperations.IsPow2(entries) || entries > 1 << IstConfig.MaxIdBits)
                return $"the LPI IST is {LpiIst.Length} bytes: not 4 × 2^n entries (n <= {IstConfig.MaxIdBits})";
        }
        if (Vpes.Length != Shape.VpeCount) return $"the state holds {Vpes.Length} vCPUs; the shape says {Shape.VpeCount}";
        for (var v = 0; v < Vpes.Length; v++)
        {
            if (Vpes[v] is null) return $"vCPU {v} is missing";
            if (Vpes[v].VpeId != v) return $"vCPU record {v} names VPE {Vpes[v].VpeId}: records are in VPE_ID order";
            if (Vpes[v].Sysregs.IsDefault || Vpes[v].Sysregs.Length != CpuInterfaceSysregs.Count)
                return $"vCPU {v} holds {(Vpes[v].Sysregs.IsDefault ? 0 : Vpes[v].Sysregs.Length)} CPU-interface registers, not {CpuInterfaceSysregs.Count}";
        }
        if (Spis.Length != Shape.SpiCount) return $"the state holds KVM records for {Spis.Length} SPIs; the shape says {Shape.SpiCount}";
        if (ApList.Length > Shape.SpiCount) return $"the AP list holds {ApList.Length} entries; a VM of {Shape.SpiCount} SPIs tracks at most that many";
        return null;
    }

    public bool Equals(VmState? other) =>
        other is not null && Shape == other.Shape &&
        Same(IrsRegisters, other.IrsRegisters) && Same(SpiIst, other.SpiIst) && Same(LpiIst, other.LpiIst) &&
        Same(Vpes, other.Vpes) && Same(Spis, other.Spis) && Same(ApList, other.ApList);

    public override int GetHashCode() => HashCode.Combine(Shape, IrsRegisters.Length, SpiIst.Length, LpiIst.Length, ApList.Length);

    private static bool Same<T>(ImmutableArray<T> a, ImmutableArray<T> b) =>
        a.IsDefault || b.IsDefault ? a.IsDefault == b.IsDefault : a.AsSpan().SequenceEqual(b.AsSpan());
}
