using System.Buffers.Binary;
using CsCheck;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Xunit;

namespace Fabric.Specs.Hardware.Irs;

public class IstSpecs
{
    /// <summary>Any architected ISTE: every defined bit random, RES0 bits [8:5] clear.</summary>
    internal static readonly Gen<IstEntry> AnyEntry = Gen.UInt.Select(raw => new IstEntry(raw & IstEntry.DefinedMask));

    private static IstEntry Pending(ushort iaffid = 0) => IstEntry.Zero.WithPending(true).WithIaffid(iaffid);

    // 12 ID bits, 4 KiB L2 tables of 4-byte ISTEs: 1024 ids per L2 table, 4 L1 entries.
    private static Ist TwoLevel4K() => Ist.FromConfig(new IstConfig(12, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.TwoLevel));

    [Theory]
    [InlineData(1, 0)]
    [InlineData(32, 5)]
    [InlineData(96, 7)]
    [InlineData(1000, 10)]
    [InlineData(1024, 10)]
    public void A_linear_ist_holds_exactly_the_requested_entries_even_when_not_a_power_of_two(int entries, int idBits)
    {
        var ist = Ist.Linear(entries);
        Assert.Equal((entries, idBits, IstStructure.Linear), (ist.Capacity, ist.IdBits, ist.Structure));
        Assert.True(ist.TryGet((uint)entries - 1, out _, out _));
        Assert.False(ist.TryGet((uint)entries, out _, out var error));
        Assert.Contains("beyond this IST", error);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(-1, 4)]
    [InlineData((1 << 24) + 1, 4)]
    [InlineData(32, 3)]
    [InlineData(32, 32)]
    public void Linear_refuses_impossible_sizes(int entries, int isteBytes) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ist.Linear(entries, isteBytes));

    [Fact]
    public void Ids_beyond_the_table_are_refused_with_the_reason_and_change_nothing()
    {
        var ist = Ist.Linear(64);
        Assert.False(ist.TrySet(64, Pending(), out var error));
        Assert.Contains("id 64 is beyond this IST of 64 interrupts", error);
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => ist[uint.MaxValue]);
        Assert.Contains("beyond this IST", thrown.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ist[64] = Pending());
        Assert.Equal(0, ist.NonIdleCount);
    }

    [Fact]
    public void An_entry_reads_back_as_written()
    {
        var ist = Ist.Linear(40);
        var entry = Pending(3).WithPriority(Priority.Of(9)).WithEnabled(true);
        ist[39] = entry;
        Assert.Equal(entry, ist[39]);
        Assert.Equal(IstEntry.Zero, ist[38]);
    }

    [Theory]
    [InlineData(14, 16384)]
    [InlineData(16, 65536)]
    public void From_config_a_linear_ist_covers_two_to_the_lpi_id_bits(int bits, int capacity)
    {
        var ist = Ist.FromConfig(IstConfig.LinearOf(bits));
        Assert.Equal((capacity, bits), (ist.Capacity, ist.IdBits));
        Assert.True(ist.IsMapped((uint)capacity - 1));
        Assert.False(ist.IsMapped((uint)capacity));
    }

    [Fact]
    public void From_config_refuses_a_reserved_shape() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ist.FromConfig(new IstConfig(8, (IstL2Size)3, IsteSize.Bytes4, IstStructure.TwoLevel)));

    [Fact]
    public void Two_level_ids_have_no_storage_until_their_l2_table_is_mapped()
    {
        var ist = TwoLevel4K();
        Assert.Equal((4096, 4, 1024), (ist.Capacity, ist.L1EntryCount, ist.EntriesPerL2));
        Assert.False(ist.TryGet(1500, out _, out var error));
        Assert.Contains("L2 table for ids 1024..2047 is not mapped", error);
        Assert.False(ist.TrySet(1500, Pending(), out _));

        Assert.True(ist.MapL2(1500, out _));
        Assert.True(ist.IsMapped(1024));
        Assert.True(ist.IsMapped(2047));
        Assert.False(ist.IsMapped(1023));
        Assert.False(ist.IsMapped(2048));
        ist[1500] = Pending();
        Assert.True(ist[1500].Pending);
    }

    [Theory]
    [InlineData(IstL2Size.Size4K, IsteSize.Bytes4, 1024)]
    [InlineData(IstL2Size.Size4K, IsteSize.Bytes8, 512)]
    [InlineData(IstL2Size.Size4K, IsteSize.Bytes16, 256)]
    [InlineData(IstL2Size.Size16K, IsteSize.Bytes4, 4096)]
    [InlineData(IstL2Size.Size64K, IsteSize.Bytes16, 4096)]
    public void One_mapped_l2_table_backs_l2_size_over_iste_size_ids(IstL2Size l2, IsteSize sz, int perL2)
    {
        var ist = Ist.FromConfig(new IstConfig(16, l2, sz, IstStructure.TwoLevel));
        var id = (uint)perL2 * 3 + 1;
        Assert.True(ist.MapL2(id, out _));
        Assert.True(ist.IsMapped((uint)perL2 * 3));
        Assert.True(ist.IsMapped((uint)perL2 * 4 - 1));
        Assert.False(ist.IsMapped((uint)perL2 * 3 - 1));
        Assert.False(ist.IsMapped((uint)perL2 * 4));
    }

    [Fact]
    public void A_two_level_ist_smaller_than_one_l2_table_has_one_l1_entry()
    {
        var ist = Ist.FromConfig(new IstConfig(5, IstL2Size.Size4K, IsteSize.Bytes4, IstStructure.TwoLevel));
        Assert.Equal((32, 1), (ist.Capacity, ist.L1EntryCount));
        Assert.True(ist.MapL2(31, out _));
        Assert.True(ist.IsMapped(31));
        Assert.False(ist.IsMapped(32));
        Assert.Equal(128, ist.SaveEntries().Length);
    }

    [Fact]
    public void Map_l2_is_refused_for_a_linear_table()
    {
        var ist = Ist.Linear(64);
        Assert.False(ist.MapL2(3, out var error));
        Assert.Contains("linear", error);
    }

    [Fact]
    public void Map_l2_is_refused_for_an_id_beyond_the_table()
    {
        var ist = TwoLevel4K();
        Assert.False(ist.MapL2(4096, out var error));
        Assert.Contains("beyond this IST", error);
        Assert.All(Enumerable.Range(0, ist.L1EntryCount), i => Assert.Equal(0UL, ist.L1Entry(i)));
    }

    [Fact]
    public void Map_l2_records_the_address_in_a_valid_l1_iste()
    {
        var ist = TwoLevel4K();
        Assert.True(ist.MapL2(2048, 0x8_0000_3000UL, out _));
        var l1 = ist.L1Entry(2);
        Assert.True(Ist.L1ValidField.Flag(l1));
        Assert.Equal(0x8_0000_3000UL, l1 & Ist.L1L2AddrField.Mask);
        Assert.Equal(0UL, ist.L1Entry(1));
    }

    [Theory]
    [InlineData(0x1800UL)]
    [InlineData(0x0100_0000_0000_0000UL)]
    public void Map_l2_refuses_an_l2_address_that_is_not_table_aligned_within_55_12(ulong address)
    {
        var ist = TwoLevel4K();
        Assert.False(ist.MapL2(0, address, out var error));
        Assert.Contains("aligned", error);
        Assert.False(ist.IsMapped(0));
    }

    [Fact]
    public void Mapping_an_l2_table_again_keeps_its_state()
    {
        var ist = TwoLevel4K();
        Assert.True(ist.MapL2(5, out _));
        ist[5] = Pending();
        Assert.True(ist.MapL2(6, out _));
        Assert.True(ist[5].Pending);
        Assert.Equal(1, ist.NonIdleCount);
    }

    [Fact]
    public void L1_entry_refuses_an_index_beyond_the_l1_table()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ist.Linear(8).L1Entry(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => TwoLevel4K().L1Entry(4));
    }

    [Fact]
    public void Non_idle_lists_exactly_the_pending_or_active_entries_in_id_order() =>
        Gen.Select(Gen.Int[1, 700], Gen.Select(Gen.UInt[0, 699], AnyEntry).Array[0, 60])
            .Sample((capacity, writes) =>
            {
                var ist = Ist.Linear(capacity);
                foreach (var (id, entry) in writes) ist.TrySet(id, entry, out _);
                var expected = Enumerable.Range(0, capacity).Select(i => ((uint)i, ist[(uint)i])).Where(t => !t.Item2.Idle).ToList();
                Assert.Equal(expected, ist.NonIdle().ToList());
                Assert.Equal(expected.Count, ist.NonIdleCount);
            });

    [Fact]
    public void Non_idle_of_a_two_level_ist_reports_ids_not_l2_indices()
    {
        var ist = TwoLevel4K();
        ist.MapL2(3000, out _);
        ist[3000] = IstEntry.Zero.WithActive(true);
        ist[3001] = IstEntry.Zero.WithEnabled(true);
        Assert.Equal(new[] { (3000u, IstEntry.Zero.WithActive(true)) }, ist.NonIdle().ToArray());
    }

    [Fact]
    public void Save_writes_one_little_endian_architected_iste_per_interrupt_in_intid_order()
    {
        var ist = Ist.Linear(3);
        var entry = new IstEntry(0xABCD_F81Bu & IstEntry.DefinedMask);
        ist[1] = entry;
        var saved = ist.SaveEntries();
        Assert.Equal(12, saved.Length);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(saved.AsSpan(0, 4)));
        Assert.Equal(entry.Raw, BinaryPrimitives.ReadUInt32LittleEndian(saved.AsSpan(4, 4)));
        Assert.Equal(new byte[] { 0x1B, 0xF8, 0xCD, 0xAB }, saved[4..8]);
    }

    [Fact]
    public void Unmapped_l2_ranges_save_as_zero()
    {
        var ist = TwoLevel4K();
        ist.MapL2(1024, out _);
        ist[1024] = Pending(7);
        var saved = ist.SaveEntries();
        Assert.Equal(4096 * 4, saved.Length);
        Assert.Equal(Pending(7).Raw, BinaryPrimitives.ReadUInt32LittleEndian(saved.AsSpan(1024 * 4, 4)));
        Assert.Equal(1, Enumerable.Range(0, 4096).Count(i => BinaryPrimitives.ReadUInt32LittleEndian(saved.AsSpan(i * 4, 4)) != 0));
    }

    [Fact]
    public void Save_and_restore_round_trip_a_linear_ist() =>
        Gen.Select(Gen.Int[1, 300], Gen.Select(Gen.UInt[0, 299], AnyEntry).Array[0, 40])
            .Sample((capacity, writes) =>
            {
                var ist = Ist.Linear(capacity);
                foreach (var (id, entry) in writes) ist.TrySet(id, entry, out _);
                var copy = Ist.RestoreLinear(ist.SaveEntries(), capacity);
                Assert.Equal(ist.SaveEntries(), copy.SaveEntries());
                Assert.Equal(ist.NonIdle().ToList(), copy.NonIdle().ToList());
            });

    [Fact]
    public void Save_and_restore_round_trip_a_two_level_ist_with_the_same_l2_tables_mapped() =>
        Gen.Select(Gen.UInt[0, 4095].Array[0, 4], Gen.Select(Gen.UInt[0, 4095], AnyEntry).Array[0, 40])
            .Sample((maps, writes) =>
            {
                var ist = TwoLevel4K();
                var copy = TwoLevel4K();
                foreach (var id in maps) { ist.MapL2(id, out _); copy.MapL2(id, out _); }
                foreach (var (id, entry) in writes) ist.TrySet(id, entry, out _);
                Assert.True(copy.TryRestoreEntries(ist.SaveEntries(), out var error), error);
                Assert.Equal(ist.SaveEntries(), copy.SaveEntries());
                Assert.Equal(ist.NonIdleCount, copy.NonIdleCount);
            });

    [Theory]
    [InlineData(0, "too short")]
    [InlineData(63 * 4, "too short")]
    [InlineData(64 * 4 + 1, "too long")]
    [InlineData(65 * 4, "too long")]
    public void Restore_refuses_a_short_or_long_buffer_and_changes_nothing(int length, string reason)
    {
        var ist = Ist.Linear(64);
        ist[2] = Pending();
        Assert.False(ist.TryRestoreEntries(new byte[length], out var error));
        Assert.Contains(reason, error);
        Assert.Contains("needs exactly 256", error);
        Assert.True(ist[2].Pending);
        Assert.Throws<ArgumentException>(() => ist.RestoreEntries(new byte[length]));
        Assert.False(Ist.TryRestoreLinear(new byte[length], 64, out var none, out _));
        Assert.Null(none);
    }

    [Fact]
    public void Restore_refuses_an_iste_with_res0_bits_and_changes_nothing()
    {
        var ist = Ist.Linear(4);
        var buffer = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(0, 4), Pending().Raw);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(12, 4), 0x20u);
        Assert.False(ist.TryRestoreEntries(buffer, out var error));
        Assert.Contains("id 3", error);
        Assert.Contains("RES0", error);
        Assert.Equal(0, ist.NonIdleCount);
    }

    [Fact]
    public void Restore_refuses_state_for_an_unmapped_l2_range()
    {
        var ist = TwoLevel4K();
        var buffer = new byte[4096 * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(3000 * 4, 4), Pending().Raw);
        Assert.False(ist.TryRestoreEntries(buffer, out var error));
        Assert.Contains("id 3000", error);
        Assert.Contains("not mapped", error);
    }

    [Fact]
    public void Restore_linear_refuses_an_impossible_entry_count()
    {
        Assert.False(Ist.TryRestoreLinear([], 0, out _, out var error));
        Assert.Contains("1..", error);
        Assert.Throws<ArgumentException>(() => Ist.RestoreLinear(new byte[8], 3));
    }
}
