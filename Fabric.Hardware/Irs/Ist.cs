using System.Buffers.Binary;
using System.Numerics;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Irs;

/// <summary>
/// An Interrupt State Table (SEMANTICS.md §1 IST): the memory that holds one ISTE per interrupt, owned by one
/// actor. Linear (one array of L2 ISTEs) or two-level (an L1 table of 8-byte L1 ISTEs <c>{Valid[0],
/// L2_ADDR[55:12]}</c> pointing at L2 tables that software maps one by one with IRS_MAP_L2_ISTR).
/// <para>Simplifications: only the architected 32 bits of each ISTE are kept; the IMPDEF metadata of 8- and
/// 16-byte ISTEs only changes how many entries fit an L2 table. L2 tables are .NET arrays allocated when mapped;
/// the L2_ADDR recorded in the L1 entry is whatever the caller says, it is never dereferenced.</para>
/// Not thread-safe: an IST has one owner. Reads and writes do not allocate.
/// </summary>
public sealed class Ist
{
    /// <summary>L1 ISTE fields (Linux GICV5_ISTL1E_VALID, GICV5_ISTL1E_L2_ADDR_MASK; QEMU FIELD(L1_ISTE, ...)).</summary>
    public static readonly Field L1ValidField = new("VALID", 0, 1);
    public static readonly Field L1L2AddrField = new("L2_ADDR", 12, 44);

    /// <summary>Bytes per interrupt in a save/restore buffer: the architected ISTE, little-endian (SEMANTICS.md §4).</summary>
    public const int SavedEntryBytes = 4;

    // Linear: one table holding every entry, index = id. Two-level: table id >> _shift, index id & _mask.
    private readonly IstEntry[]?[] _tables;
    // One bit per entry that is Pending or Active, so that NonIdle() skips idle stretches 64 at a time.
    private readonly ulong[]?[] _busy;
    private readonly ulong[] _l1;
    private readonly int _shift;
    private readonly uint _mask;

    public IstStructure Structure { get; }
    /// <summary>Interrupts the table covers: ids 0..Capacity-1.</summary>
    public int Capacity { get; }
    /// <summary>Bits needed to name every id: 2^IdBits >= Capacity (LPI_ID_BITS for a configured IST).</summary>
    public int IdBits { get; }
    public int IsteSizeBytes { get; }
    /// <summary>Entries one L2 table holds (two-level); the whole capacity for a linear table.</summary>
    public int EntriesPerL2 { get; }
    /// <summary>L1 ISTEs of a two-level table; 0 for a linear table.</summary>
    public int L1EntryCount => _l1.Length;
    /// <summary>Entries that are Pending or Active.</summary>
    public int NonIdleCount { get; private set; }

    private Ist(IstStructure structure, int capacity, int idBits, int isteSizeBytes, int entriesPerL2)
    {
        Structure = structure;
        Capacity = capacity;
        IdBits = idBits;
        IsteSizeBytes = isteSizeBytes;
        EntriesPerL2 = entriesPerL2;
        if (structure == IstStructure.Linear)
        {
            _shift = 31;                    // every valid id (< 2^24) lands in table 0
            _mask = 0x7FFF_FFFFu;
            _l1 = [];
            _tables = [new IstEntry[capacity]];
            _busy = [new ulong[Words(capacity)]];
        }
        else
        {
            _shift = BitOperations.Log2((uint)entriesPerL2);
            _mask = (uint)entriesPerL2 - 1;
            var l1Count = (capacity + entriesPerL2 - 1) / entriesPerL2;
            _l1 = new ulong[l1Count];
            _tables = new IstEntry[]?[l1Count];
            _busy = new ulong[]?[l1Count];
        }
    }

    /// <summary>A linear IST of exactly <paramref name="entries"/> interrupts. Any count from 1 to 2^24 is allowed:
    /// KVM's SPI IST has nr_spis entries (S4, kvm_vgic_v5_irs_init), not a power of two in general.</summary>
    public static Ist Linear(int entries, int isteSizeBytes = 4)
    {
        if (entries is < 1 or > 1 << IstConfig.MaxIdBits)
            throw new ArgumentOutOfRangeException(nameof(entries), $"an IST holds 1..{1 << IstConfig.MaxIdBits} interrupts, not {entries}");
        if (isteSizeBytes is not (4 or 8 or 16))
            throw new ArgumentOutOfRangeException(nameof(isteSizeBytes), $"an ISTE is 4, 8 or 16 bytes (ISTSZ 0..2), not {isteSizeBytes}");
        var idBits = entries == 1 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)entries - 1);
        return new Ist(IstStructure.Linear, entries, idBits, isteSizeBytes, entries);
    }

    /// <summary>The IST an IRS builds when IRS_IST_BASER.VALID is set over this IRS_IST_CFGR: 2^LPI_ID_BITS interrupts,
    /// linear, or two-level with no L2 table mapped yet (QEMU irs_ist_baser_write).</summary>
    public static Ist FromConfig(IstConfig config)
    {
        var error = config.Validate();
        if (error is not null) throw new ArgumentOutOfRangeException(nameof(config), error);
        return config.Structure == IstStructure.Linear
            ? new Ist(IstStructure.Linear, config.EntryCount, config.LpiIdBits, config.IsteSizeBytes, config.EntryCount)
            : new Ist(IstStructure.TwoLevel, config.EntryCount, config.LpiIdBits, config.IsteSizeBytes, config.EntriesPerL2);
    }

    /// <summary>Reads the ISTE of <paramref name="id"/>. Fails when the id is beyond the table or its L2 table is not
    /// mapped (QEMU get_l2_iste_addr: id >= 1 &lt;&lt; id_bits, or L1 ISTE not VALID).</summary>
    public bool TryGet(uint id, out IstEntry entry, out string error)
    {
        if (id >= (uint)Capacity) { entry = default; error = OutOfRange(id); return false; }
        var table = _tables[id >> _shift];
        if (table is null) { entry = default; error = NotMapped(id); return false; }
        entry = table[id & _mask];
        error = "";
        return true;
    }

    /// <summary>Writes the ISTE of <paramref name="id"/>, under the same conditions as <see cref="TryGet"/>.</summary>
    public bool TrySet(uint id, IstEntry entry, out string error)
    {
        if (id >= (uint)Capacity) { error = OutOfRange(id); return false; }
        var t = id >> _shift;
        var table = _tables[t];
        if (table is null) { error = NotMapped(id); return false; }
        Store(table, _busy[t]!, id & _mask, entry);
        error = "";
        return true;
    }

    /// <summary>The ISTE of <paramref name="id"/>; an id out of range or unmapped throws ArgumentOutOfRangeException with the reason.</summary>
    public IstEntry this[uint id]
    {
        get => TryGet(id, out var e, out var error) ? e : throw new ArgumentOutOfRangeException(nameof(id), error);
        set
        {
            if (!TrySet(id, value, out var error)) throw new ArgumentOutOfRangeException(nameof(id), error);
        }
    }

    /// <summary>Whether <paramref name="id"/> has storage: in range and, for a two-level table, its L2 table mapped.</summary>
    public bool IsMapped(uint id) => id < (uint)Capacity && _tables[id >> _shift] is not null;

    /// <summary>IRS_MAP_L2_ISTR {ID}: makes the L1 ISTE covering <paramref name="id"/> valid, so that its L2 table
    /// (zeroed) backs the ids it covers (QEMU irs_map_l2_istr_write). Mapping an already mapped L2 table changes
    /// nothing. Refused for a linear table (QEMU: WI unless two-level) or an id beyond the table.</summary>
    public bool MapL2(uint id, out string error) => MapL2(id, 0, out error);

    /// <summary>As <see cref="MapL2(uint, out string)"/>, recording <paramref name="l2Address"/> as the L1 ISTE's
    /// L2_ADDR; it must be aligned to the L2 table size and fit L2_ADDR[55:12].</summary>
    public bool MapL2(uint id, ulong l2Address, out string error)
    {
        if (Structure == IstStructure.Linear) { error = $"IRS_MAP_L2_ISTR {id}: the IST is linear, only a two-level IST has L2 tables to map"; return false; }
        if (id >= (uint)Capacity) { error = $"IRS_MAP_L2_ISTR {id}: {OutOfRange(id)}"; return false; }
        var l2Bytes = (ulong)EntriesPerL2 * (ulong)IsteSizeBytes;
        if ((l2Address & ~L1L2AddrField.Mask) != 0 || l2Address % l2Bytes != 0)
        {
            error = $"IRS_MAP_L2_ISTR {id}: L2 table address 0x{l2Address:X} is not {l2Bytes}-byte aligned within L2_ADDR[55:12]";
            return false;
        }
        var t = id >> _shift;
        if (_tables[t] is null)
        {
            _tables[t] = new IstEntry[EntriesPerL2];
            _busy[t] = new ulong[Words(EntriesPerL2)];
            _l1[t] = L1ValidField.Set(l2Address, true);
        }
        error = "";
        return true;
    }

    /// <summary>The raw 64-bit L1 ISTE at <paramref name="l1Index"/> of a two-level table.</summary>
    public ulong L1Entry(int l1Index)
    {
        if ((uint)l1Index >= (uint)_l1.Length)
            throw new ArgumentOutOfRangeException(nameof(l1Index), $"L1 index {l1Index} is out of range 0..{_l1.Length - 1}" + (_l1.Length == 0 ? " (a linear IST has no L1 table)" : ""));
        return _l1[l1Index];
    }

    /// <summary>Every Pending or Active entry with its id, in id order; skips idle entries 64 at a time.</summary>
    public IEnumerable<(uint Id, IstEntry Entry)> NonIdle()
    {
        for (var t = 0; t < _tables.Length; t++)
        {
            var table = _tables[t];
            var busy = _busy[t];
            if (table is null || busy is null) continue;
            var baseId = Structure == IstStructure.Linear ? 0u : (uint)t << _shift;
            for (var w = 0; w < busy.Length; w++)
            {
                var word = busy[w];
                while (word != 0)
                {
                    var bit = BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                    var index = (uint)(w * 64 + bit);
                    yield return (baseId + index, table[index]);
                }
            }
        }
    }

    /// <summary>KVM's IST save format (SEMANTICS.md §4, S5/S6): one little-endian 32-bit architected ISTE per
    /// interrupt, in INTID order, Capacity * 4 bytes. Ids whose L2 table is not mapped save as zero.</summary>
    public byte[] SaveEntries()
    {
        var buffer = new byte[checked(Capacity * SavedEntryBytes)];
        for (var t = 0; t < _tables.Length; t++)
        {
            var table = _tables[t];
            if (table is null) continue;
            var baseId = Structure == IstStructure.Linear ? 0 : t << _shift;
            var count = Math.Min(table.Length, Capacity - baseId);
            for (var i = 0; i < count; i++)
                table[i].WriteLittleEndian(buffer.AsSpan((baseId + i) * SavedEntryBytes, SavedEntryBytes));
        }
        return buffer;
    }

    /// <summary>Loads a buffer in the <see cref="SaveEntries"/> format. All or nothing: a buffer of the wrong length,
    /// an entry with RES0 bits set, or a non-zero entry for an id whose L2 table is not mapped is refused with the
    /// reason and the table is left as it was.</summary>
    public bool TryRestoreEntries(ReadOnlySpan<byte> buffer, out string error)
    {
        var expected = (long)Capacity * SavedEntryBytes;
        if (buffer.Length != expected)
        {
            error = $"IST restore buffer is {buffer.Length} bytes but this IST of {Capacity} interrupts needs exactly {expected} " +
                    $"(one {SavedEntryBytes}-byte ISTE per interrupt): too {(buffer.Length < expected ? "short" : "long")}";
            return false;
        }
        for (var id = 0u; id < (uint)Capacity; id++)
        {
            var raw = BinaryPrimitives.ReadUInt32LittleEndian(buffer.Slice((int)id * SavedEntryBytes, SavedEntryBytes));
            if ((raw & ~IstEntry.DefinedMask) != 0) { error = $"IST restore: ISTE of id {id} is 0x{raw:X8}, with RES0 bits [8:5] set"; return false; }
            if (raw != 0 && !IsMapped(id)) { error = $"IST restore: id {id} has state 0x{raw:X8} but {NotMapped(id)}"; return false; }
        }
        for (var t = 0; t < _tables.Length; t++)
        {
            var table = _tables[t];
            if (table is null) continue;
            var busy = _busy[t]!;
            var baseId = Structure == IstStructure.Linear ? 0 : t << _shift;
            var count = Math.Min(table.Length, Capacity - baseId);
            for (var i = 0; i < count; i++)
            {
                var raw = BinaryPrimitives.ReadUInt32LittleEndian(buffer.Slice((baseId + i) * SavedEntryBytes, SavedEntryBytes));
                Store(table, busy, (uint)i, new IstEntry(raw));
            }
        }
        error = "";
        return true;
    }

    /// <summary>As <see cref="TryRestoreEntries"/>, throwing ArgumentException with the reason.</summary>
    public void RestoreEntries(ReadOnlySpan<byte> buffer)
    {
        if (!TryRestoreEntries(buffer, out var error)) throw new ArgumentException(error, nameof(buffer));
    }

    /// <summary>A linear IST of <paramref name="entries"/> interrupts loaded from a saved buffer, as KVM restores the
    /// SPI IST (buffer = nr_spis * 4 bytes, SEMANTICS.md §4).</summary>
    public static bool TryRestoreLinear(ReadOnlySpan<byte> buffer, int entries, out Ist? ist, out string error)
    {
        ist = null;
        if (entries is < 1 or > 1 << IstConfig.MaxIdBits) { error = $"an IST holds 1..{1 << IstConfig.MaxIdBits} interrupts, not {entries}"; return false; }
        var candidate = Linear(entries);
        if (!candidate.TryRestoreEntries(buffer, out error)) return false;
        ist = candidate;
        return true;
    }

    public static Ist RestoreLinear(ReadOnlySpan<byte> buffer, int entries) =>
        TryRestoreLinear(buffer, entries, out var ist, out var error) ? ist! : throw new ArgumentException(error, nameof(buffer));

    private void Store(IstEntry[] table, ulong[] busy, uint index, IstEntry entry)
    {
        var wasBusy = !table[index].Idle;
        table[index] = entry;
        var isBusy = !entry.Idle;
        if (wasBusy == isBusy) return;
        busy[index >> 6] ^= 1UL << (int)(index & 63);
        NonIdleCount += isBusy ? 1 : -1;
    }

    private static int Words(int entries) => (entries + 63) / 64;

    private string OutOfRange(uint id) => $"id {id} is beyond this IST of {Capacity} interrupts (ids 0..{Capacity - 1})";

    private string NotMapped(uint id)
    {
        var first = (id >> _shift) << _shift;
        var last = Math.Min(first + (uint)EntriesPerL2, (uint)Capacity) - 1;
        return $"the L2 table for ids {first}..{last} is not mapped (L1 ISTE {id >> _shift} not VALID; map it with IRS_MAP_L2_ISTR)";
    }

    public override string ToString() => $"IST{{{Structure} {Capacity} entries, ID_BITS={IdBits}, ISTE={IsteSizeBytes}B, non-idle={NonIdleCount}}}";
}
