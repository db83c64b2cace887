using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Hardware.Migration;

/// <summary>
/// The byte format of a <see cref="VmState"/>, version 1 (docs/vm-state-format.md is the reference for other tools).
/// Little-endian throughout, no padding: a 16-byte header (<c>"FVMS"</c>, version, flags, total length, section count),
/// seven sections in a fixed order, each a 4-character tag, a 32-bit payload length and the payload, then the CRC-32
/// (<see cref="Crc32"/>) of every byte before it. The encoding is canonical: a state has exactly one encoding, and the
/// decoder accepts nothing else, so equal bytes mean equal states.
/// </summary>
public static class VmStateFormat
{
    public const ushort Version = 1;
    public const int HeaderBytes = 16;
    public const int SectionHeaderBytes = 8;
    public const int CrcBytes = 4;
    public const int ConfBytes = 20;
    public const int IrsRegisterBytes = 16;
    /// <summary>VPE_ID u32, flags u8, DBPM u8, reserved u16, then one u64 per <see cref="CpuSysreg"/>.</summary>
    public static readonly int VpeBytes = 8 + 8 * CpuInterfaceSysregs.Count;

    public static ReadOnlySpan<byte> Magic => "FVMS"u8;

    /// <summary>The sections of version 1, in the order they appear.</summary>
    public static readonly ImmutableArray<string> Sections = ["CONF", "IRSR", "SIST", "LIST", "VCPU", "KSPI", "APLS"];

    // KSPI flag bits (one byte per SPI) and VCPU flag bits.
    public const byte SpiConfigLevel = 1 << 0, SpiLineLevel = 1 << 1, SpiPendingLatch = 1 << 2, SpiOnApList = 1 << 3;
    public const byte VpeDbFired = 1 << 0, VpeDoorbellArmed = 1 << 1;

    public static byte[] Encode(VmState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var error = state.Validate();
        if (error is not null) throw new ArgumentException($"cannot encode an inconsistent VM state: {error}", nameof(state));

        var payloads = new byte[][]
        {
            Conf(state.Shape),
            Irsr(state.IrsRegisters),
            state.SpiIst.ToArray(),
            state.LpiIst.ToArray(),
            Vcpu(state.Vpes),
            [.. state.Spis.Select(SpiFlags)],
            Apls(state.ApList),
        };
        var total = HeaderBytes + payloads.Sum(p => SectionHeaderBytes + (long)p.Length) + CrcBytes;
        var bytes = new byte[checked((int)total)];
        var w = bytes.AsSpan();
        Magic.CopyTo(w);
        BinaryPrimitives.WriteUInt16LittleEndian(w[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(w[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(w[8..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(w[12..], (uint)Sections.Length);
        var at = HeaderBytes;
        for (var i = 0; i < payloads.Length; i++)
        {
            Encoding.ASCII.GetBytes(Sections[i], w[at..]);
            BinaryPrimitives.WriteUInt32LittleEndian(w[(at + 4)..], (uint)payloads[i].Length);
            payloads[i].CopyTo(w[(at + SectionHeaderBytes)..]);
            at += SectionHeaderBytes + payloads[i].Length;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(w[at..], Crc32.Compute(w[..at]));
        return bytes;
    }

    private static byte[] Conf(VmShape s)
    {
        var b = new byte[ConfBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)s.SpiCount);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)s.VpeCount);
        b[8] = (byte)s.PriorityBits;
        b[9] = (byte)s.VirtualLevel;
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(12), s.IrsBase);
        return b;
    }

    private static byte[] Irsr(ImmutableArray<IrsRegisterValue> registers)
    {
        var b = new byte[4 + IrsRegisterBytes * registers.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)registers.Length);
        for (var i = 0; i < registers.Length; i++)
        {
            var at = b.AsSpan(4 + IrsRegisterBytes * i);
            BinaryPrimitives.WriteUInt32LittleEndian(at, registers[i].Offset);
            at[4] = (byte)registers[i].Width;
            BinaryPrimitives.WriteUInt64LittleEndian(at[8..], registers[i].Value);
        }
        return b;
    }

    private static byte[] Vcpu(ImmutableArray<VpeState> vpes)
    {
        var b = new byte[VpeBytes * vpes.Length];
        for (var v = 0; v < vpes.Length; v++)
        {
            var at = b.AsSpan(VpeBytes * v);
            var kvm = vpes[v].Kvm;
            BinaryPrimitives.WriteUInt32LittleEndian(at, (uint)vpes[v].VpeId);
            at[4] = (byte)((kvm.DbFired ? VpeDbFired : 0) | (kvm.Doorbell.Armed ? VpeDoorbellArmed : 0));
            at[5] = kvm.Doorbell.Dbpm.Value;
            for (var r = 0; r < CpuInterfaceSysregs.Count; r++)
                BinaryPrimitives.WriteUInt64LittleEndian(at[(8 + 8 * r)..], vpes[v].Sysregs[r]);
        }
        return b;
    }

    private static byte SpiFlags(KvmIrq irq) => (byte)(
        (irq.Config == HandlingMode.Level ? SpiConfigLevel : 0) | (irq.LineLevel ? SpiLineLevel : 0) |
        (irq.PendingLatch ? SpiPendingLatch : 0) | (irq.OnApList ? SpiOnApList : 0));

    private static byte[] Apls(ImmutableArray<uint> list)
    {
        var b = new byte[4 + 4 * list.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)list.Length);
        for (var i = 0; i < list.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4 + 4 * i), list[i]);
        return b;
    }

    // ---- Decoding: every rule of the format checked, in file order; never throws ------------------------

    public static bool TryDecode(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VmState? state, out string error)
    {
        state = null;
        if (bytes.Length < HeaderBytes + CrcBytes) return Fail(out error, $"truncated: {bytes.Length} bytes, but a VM state has at least {HeaderBytes + CrcBytes}");
        if (!bytes[..4].SequenceEqual(Magic)) return Fail(out error, $"not a Fabric VM state: magic is {Hex(bytes[..4])}, expected \"FVMS\" (46 56 4D 53)");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        if (version != Version) return Fail(out error, $"format version {version} is not supported (this reader knows version {Version})");
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
        if (flags != 0) return Fail(out error, $"header flags 0x{flags:X4} are reserved and must be 0 in version {Version}");
        var total = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (total != (uint)bytes.Length)
            return Fail(out error, total > (uint)bytes.Length
                ? $"truncated: the header says {total} bytes, only {bytes.Length} are here"
                : $"{bytes.Length - total} trailing bytes after the {total} the header announces");
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes[^CrcBytes..]);
        var computed = Crc32.Compute(bytes[..^CrcBytes]);
        if (stored != computed) return Fail(out error, $"CRC-32 mismatch: stored 0x{stored:X8}, computed 0x{computed:X8} (the bytes were altered)");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        if (count != Sections.Length) return Fail(out error, $"the header announces {count} sections; version {Version} has exactly {Sections.Length}");

        var body = bytes[HeaderBytes..^CrcBytes];
        var payloads = new byte[Sections.Length][];
        for (var i = 0; i < Sections.Length; i++)
        {
            if (body.Length < SectionHeaderBytes) return Fail(out error, $"section {i} ({Sections[i]}) is cut off: {body.Length} bytes left");
            var tag = body[..4];
            if (!tag.SequenceEqual(Encoding.ASCII.GetBytes(Sections[i])))
                return Fail(out error, $"section {i} has tag {Hex(tag)}, expected '{Sections[i]}' (sections come in the order {string.Join(", ", Sections)})");
            var length = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
            if (length > (uint)(body.Length - SectionHeaderBytes))
                return Fail(out error, $"section {Sections[i]} claims {length} bytes, only {body.Length - SectionHeaderBytes} remain");
            payloads[i] = body.Slice(SectionHeaderBytes, (int)length).ToArray();
            body = body[(SectionHeaderBytes + (int)length)..];
        }
        if (body.Length != 0) return Fail(out error, $"{body.Length} bytes between the last section and the CRC");

        if (!TryConf(payloads[0], out var shape, out error)) return false;
        if (!TryIrsr(payloads[1], out var registers, out error)) return false;
        if (!TryVcpu(payloads[4], shape.VpeCount, out var vpes, out error)) return false;
        if (!TryKspi(payloads[5], out var spis, out error)) return false;
        if (!TryApls(payloads[6], out var apList, out error)) return false;
        var candidate = new VmState(shape, registers, [.. payloads[2]], [.. payloads[3]], vpes, spis, apList);
        var why = candidate.Validate();
        if (why is not null) return Fail(out error, why);
        state = candidate;
        error = "";
        return true;
    }

    private static bool TryConf(byte[] p, out VmShape shape, out string error)
    {
        shape = null!;
        if (p.Length != ConfBytes) return Fail(out error, $"section CONF is {p.Length} bytes, not {ConfBytes}");
        var spis = BinaryPrimitives.ReadUInt32LittleEndian(p);
        var vpes = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(4));
        if (spis > int.MaxValue || vpes > int.MaxValue) return Fail(out error, $"CONF: SPI count {spis} or vCPU count {vpes} is out of range");
        if (BinaryPrimitives.ReadUInt16LittleEndian(p.AsSpan(10)) != 0) return Fail(out error, "CONF: reserved bytes 10-11 must be 0");
        shape = new VmShape((int)spis, (int)vpes, p[8], (VirtualLevelPolicy)p[9], BinaryPrimitives.ReadUInt64LittleEndian(p.AsSpan(12)));
        var why = shape.Validate();
        return why is null ? Ok(out error) : Fail(out error, $"CONF: {why}");
    }

    private static bool TryIrsr(byte[] p, out ImmutableArray<IrsRegisterValue> registers, out string error)
    {
        registers = default;
        if (p.Length < 4) return Fail(out error, $"section IRSR is {p.Length} bytes: too short for its count");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (4 + IrsRegisterBytes * (long)count != p.Length) return Fail(out error, $"IRSR: {count} registers need {4 + IrsRegisterBytes * (long)count} bytes, the section has {p.Length}");
        var b = ImmutableArray.CreateBuilder<IrsRegisterValue>((int)count);
        for (var i = 0; i < (int)count; i++)
        {
            var at = p.AsSpan(4 + IrsRegisterBytes * i, IrsRegisterBytes);
            if (at[5] != 0 || at[6] != 0 || at[7] != 0) return Fail(out error, $"IRSR: register {i} has non-zero reserved bytes");
            b.Add(new IrsRegisterValue(BinaryPrimitives.ReadUInt32LittleEndian(at), at[4], BinaryPrimitives.ReadUInt64LittleEndian(at[8..])));
        }
        registers = b.MoveToImmutable();
        return Ok(out error);
    }

    private static bool TryVcpu(byte[] p, int vpeCount, out ImmutableArray<VpeState> vpes, out string error)
    {
        vpes = default;
        if ((long)VpeBytes * vpeCount != p.Length) return Fail(out error, $"VCPU: {vpeCount} vCPUs need {(long)VpeBytes * vpeCount} bytes, the section has {p.Length}");
        var b = ImmutableArray.CreateBuilder<VpeState>(vpeCount);
        for (var v = 0; v < vpeCount; v++)
        {
            var at = p.AsSpan(VpeBytes * v, VpeBytes);
            var id = BinaryPrimitives.ReadUInt32LittleEndian(at);
            if (id > int.MaxValue) return Fail(out error, $"VCPU: record {v} names VPE {id}");
            if ((at[4] & ~(VpeDbFired | VpeDoorbellArmed)) != 0) return Fail(out error, $"VCPU {v}: flags 0x{at[4]:X2} set reserved bits");
            if (at[5] >= Priority.Levels) return Fail(out error, $"VCPU {v}: DBPM {at[5]} is not a priority (0..{Priority.Levels - 1})");
            if (at[6] != 0 || at[7] != 0) return Fail(out error, $"VCPU {v}: reserved bytes 6-7 must be 0");
            var sysregs = new ulong[CpuInterfaceSysregs.Count];
            for (var r = 0; r < sysregs.Length; r++) sysregs[r] = BinaryPrimitives.ReadUInt64LittleEndian(at[(8 + 8 * r)..]);
            var kvm = new VpeBookkeeping((at[4] & VpeDbFired) != 0, new DoorbellRequest((at[4] & VpeDoorbellArmed) != 0, Priority.Of(at[5])));
            b.Add(new VpeState((int)id, [.. sysregs], kvm));
        }
        vpes = b.MoveToImmutable();
        return Ok(out error);
    }

    private static bool TryKspi(byte[] p, out ImmutableArray<KvmIrq> spis, out string error)
    {
        spis = default;
        const byte defined = SpiConfigLevel | SpiLineLevel | SpiPendingLatch | SpiOnApList;
        var b = ImmutableArray.CreateBuilder<KvmIrq>(p.Length);
        for (var i = 0; i < p.Length; i++)
        {
            if ((p[i] & ~defined) != 0) return Fail(out error, $"KSPI: spi:{i} has flags 0x{p[i]:X2}, setting reserved bits [7:4]");
            b.Add(new KvmIrq((p[i] & SpiConfigLevel) != 0 ? HandlingMode.Level : HandlingMode.Edge,
                (p[i] & SpiLineLevel) != 0, (p[i] & SpiPendingLatch) != 0, (p[i] & SpiOnApList) != 0));
        }
        spis = b.MoveToImmutable();
        return Ok(out error);
    }

    private static bool TryApls(byte[] p, out ImmutableArray<uint> list, out string error)
    {
        list = default;
        if (p.Length < 4) return Fail(out error, $"section APLS is {p.Length} bytes: too short for its count");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (4 + 4 * (long)count != p.Length) return Fail(out error, $"APLS: {count} entries need {4 + 4 * (long)count} bytes, the section has {p.Length}");
        var b = ImmutableArray.CreateBuilder<uint>((int)count);
        for (var i = 0; i < (int)count; i++) b.Add(BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(4 + 4 * i)));
        list = b.MoveToImmutable();
        return Ok(out error);
    }

    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b);

    private static bool Fail(out string error, string why)
    {
        error = why;
        return false;
    }

    private static bool Ok(out string error)
    {
        error = "";
        return true;
    }
}
