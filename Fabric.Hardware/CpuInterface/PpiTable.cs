using System.Collections;
using System.Runtime.CompilerServices;
using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.CpuInterface;

/// <summary>
/// A PE's 128 PPIs as ISTE-shaped state (<see cref="IstEntry"/>, so the same state machine applies), indexed by PPI
/// number. A PPI the guest never programmed is all-zero (disabled, inactive, not pending, priority 0, edge), as at reset.
/// <para>Simplification: the hardware holds these as the CPU interface's registers (ICC_PPI_*), always present. Fabric
/// holds them in <see cref="BankCount"/> banks of <see cref="BankSize"/>, each allocated on the first write of a non-zero
/// entry into it, because most guests program a few PPIs of the first bank (SW_PPI, the timers) and a fabric holds
/// tens of thousands of CPU interfaces: an untouched bank reads as zero and costs nothing. Reads and writes mean exactly
/// what they would on a full array; a bank, once allocated, stays (a write of zero keeps it).</para>
/// </summary>
public sealed class PpiTable : IReadOnlyList<IstEntry>
{
    /// <summary>PPIs per bank.</summary>
    public const int BankSize = 32;
    public const int BankCount = IntId.PpiCount / BankSize;

    private Banks _banks;

    /// <summary>The number of PPIs: <see cref="IntId.PpiCount"/>, whether or not their banks are allocated.</summary>
    public int Count => IntId.PpiCount;

    /// <summary>How many banks hold storage (a diagnostic of this table's memory: 0 for a CPU interface whose guest
    /// programmed no PPI).</summary>
    public int BanksAllocated
    {
        get
        {
            var n = 0;
            for (var b = 0; b < BankCount; b++) if (_banks[b] is not null) n++;
            return n;
        }
    }

    /// <summary>PPI <paramref name="ppi"/>'s state; a PPI outside 0..127 is refused, naming it.</summary>
    public IstEntry this[int ppi]
    {
        get => _banks[BankOf(ppi)] is { } bank ? bank[ppi % BankSize] : IstEntry.Zero;
        set
        {
            ref var bank = ref _banks[BankOf(ppi)];
            if (bank is null)
            {
                if (value.Raw == 0) return;
                bank = new IstEntry[BankSize];
            }
            bank[ppi % BankSize] = value;
        }
    }

    /// <summary>PPI <paramref name="id"/>'s state; an INTID that is not a PPI is refused, naming it.</summary>
    public IstEntry this[IntId id]
    {
        get => this[Index(id)];
        set => this[Index(id)] = value;
    }

    /// <summary>Bank <paramref name="bank"/>'s PPIs (PPI <c>BankSize * bank + i</c> at i), or an empty span when the bank was
    /// never written: every PPI of it is zero. For scans that may skip what the guest never programmed.</summary>
    public ReadOnlySpan<IstEntry> Bank(int bank) =>
        (uint)bank < BankCount
            ? _banks[bank]
            : throw new ArgumentOutOfRangeException(nameof(bank), bank, $"PPI bank {bank} does not exist (a PE has {BankCount} banks of {BankSize})");

    /// <summary>Every PPI's state, PPI 0 first.</summary>
    public IEnumerator<IstEntry> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static int BankOf(int ppi) =>
        (uint)ppi < IntId.PpiCount
            ? ppi / BankSize
            : throw new ArgumentOutOfRangeException(nameof(ppi), ppi, $"ppi:{ppi} is out of range (a PE has {IntId.PpiCount} PPIs)");

    private static int Index(IntId id) => id.IsPpi ? (int)id.Id : throw new ArgumentException($"{id} is not a PPI", nameof(id));

    /// <summary>The banks' references, inline in the table (no array object of its own).</summary>
    [InlineArray(BankCount)]
    private struct Banks
    {
        private IstEntry[]? _bank0;
    }
}
