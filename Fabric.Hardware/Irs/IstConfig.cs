using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Irs;

/// <summary>IRS_IST_CFGR.STRUCTURE[16] (Linux GICV5_IRS_IST_CFGR_STRUCTURE_*).</summary>
public enum IstStructure : byte
{
    Linear = 0,
    TwoLevel = 1,
}

/// <summary>IRS_IST_CFGR.L2SZ[6:5]: size of one L2 table of a two-level IST; 3 is reserved (Linux GICV5_IRS_IST_CFGR_L2SZ_*).</summary>
public enum IstL2Size : byte
{
    Size4K = 0,
    Size16K = 1,
    Size64K = 2,
}

/// <summary>IRS_IST_CFGR.ISTSZ[8:7]: bytes per ISTE, 4 &lt;&lt; ISTSZ; 3 is reserved (Linux GICV5_IRS_IST_CFGR_ISTSZ_*,
/// GICV5_ISTE_SIZE(istsz) = BIT(istsz + 2)).</summary>
public enum IsteSize : byte
{
    Bytes4 = 0,
    Bytes8 = 1,
    Bytes16 = 2,
}

/// <summary>
/// The IRS_IST_CFGR value that shapes an IST (SEMANTICS.md §1 IST; Linux GICV5_IRS_IST_CFGR_*; QEMU FIELD(IRS_IST_CFGR, ...)):
/// <c>LPI_ID_BITS[4:0] L2SZ[6:5] ISTSZ[8:7] STRUCTURE[16]</c>. The same four values describe a VM's IST in its VMTE
/// (see <see cref="IstDescriptor"/>), where LPI_ID_BITS is called ID_BITS.
/// </summary>
public readonly record struct IstConfig(int LpiIdBits, IstL2Size L2Size, IsteSize IsteSize, IstStructure Structure)
{
    public static readonly Field LpiIdBitsField = new("LPI_ID_BITS", 0, 5);
    public static readonly Field L2SzField = new("L2SZ", 5, 2);
    public static readonly Field IstSzField = new("ISTSZ", 7, 2);
    public static readonly Field StructureField = new("STRUCTURE", 16, 1);
    /// <summary>Bits some field defines; the rest of the 32-bit register is RES0.</summary>
    public static readonly ulong DefinedMask = LpiIdBitsField.Mask | L2SzField.Mask | IstSzField.Mask | StructureField.Mask;

    /// <summary>An IST never indexes more than INTID.ID[23:0] (SEMANTICS.md §1 INTID).</summary>
    public const int MaxIdBits = IntId.IdBits;

    /// <summary>The shape KVM gives every guest IST: linear, 4-byte ISTEs, no metadata (SEMANTICS.md §1 IST, S4).</summary>
    public static IstConfig LinearOf(int idBits) => new(idBits, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.Linear);

    /// <summary>ISTE size in bytes: BIT(ISTSZ + 2) (Linux GICV5_ISTE_SIZE).</summary>
    public int IsteSizeBytes => 4 << (int)IsteSize;

    /// <summary>L2 table size in bytes: 4K, 16K, 64K (QEMU irs_ist_baser_write: l2bits 12, 14, 16).</summary>
    public int L2SizeBytes => 4096 << (2 * (int)L2Size);

    /// <summary>Interrupts one L2 table covers: L2 size / ISTE size (QEMU l2_idx_bits = l2bits - istbits).</summary>
    public int EntriesPerL2 => L2SizeBytes / IsteSizeBytes;

    /// <summary>Interrupts the IST covers: 2^LPI_ID_BITS (Linux GICV5_LINEAR_IST_SIZE).</summary>
    public int EntryCount => 1 << LpiIdBits;

    /// <summary>Why this is not a usable IST shape, or null: reserved L2SZ/ISTSZ encodings (3), an unnamed structure,
    /// or more ID bits than INTID.ID has.</summary>
    public string? Validate()
    {
        if (LpiIdBits is < 0 or > MaxIdBits) return $"LPI_ID_BITS {LpiIdBits} is out of range 0..{MaxIdBits} (INTID.ID is {MaxIdBits} bits)";
        if (!Enum.IsDefined(L2Size)) return $"L2SZ {(int)L2Size} is reserved (0 4K, 1 16K, 2 64K)";
        if (!Enum.IsDefined(IsteSize)) return $"ISTSZ {(int)IsteSize} is reserved (0 4-byte, 1 8-byte, 2 16-byte ISTE)";
        if (!Enum.IsDefined(Structure)) return $"STRUCTURE {(int)Structure} is not 0 (linear) or 1 (two-level)";
        return null;
    }

    /// <summary>The IRS_IST_CFGR encoding; an invalid config is refused, never encoded.</summary>
    public ulong Encode()
    {
        var error = Validate();
        if (error is not null) throw new ArgumentOutOfRangeException(nameof(LpiIdBits), error);
        ulong raw = 0;
        raw = LpiIdBitsField.Deposit(raw, (ulong)LpiIdBits);
        raw = L2SzField.Deposit(raw, (ulong)L2Size);
        raw = IstSzField.Deposit(raw, (ulong)IsteSize);
        raw = StructureField.Deposit(raw, (ulong)Structure);
        return raw;
    }

    /// <summary>Decodes IRS_IST_CFGR, refusing RES0 bits and reserved values with the reason.</summary>
    public static bool TryDecode(ulong raw, out IstConfig config, out string error)
    {
        config = default;
        if ((raw & ~DefinedMask) != 0)
        {
            error = $"IRS_IST_CFGR 0x{raw:X} has RES0 bits set (defined: LPI_ID_BITS[4:0] L2SZ[6:5] ISTSZ[8:7] STRUCTURE[16])";
            return false;
        }
        var candidate = new IstConfig(
            (int)LpiIdBitsField.Extract(raw),
            (IstL2Size)L2SzField.Extract(raw),
            (IsteSize)IstSzField.Extract(raw),
            (IstStructure)StructureField.Extract(raw));
        var why = candidate.Validate();
        if (why is not null) { error = $"IRS_IST_CFGR 0x{raw:X}: {why}"; return false; }
        config = candidate;
        error = "";
        return true;
    }

    public static IstConfig Decode(ulong raw) =>
        TryDecode(raw, out var c, out var error) ? c : throw new ArgumentOutOfRangeException(nameof(raw), error);

    public override string ToString() =>
        $"IST{{{Structure} ID_BITS={LpiIdBits} ISTE={IsteSizeBytes}B L2={L2SizeBytes / 1024}K}}";
}
