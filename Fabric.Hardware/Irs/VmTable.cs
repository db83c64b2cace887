using System.Buffers.Binary;
using System.Numerics;
using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Irs;

/// <summary>
/// An IST descriptor as the third (LPI) and fourth (SPI) 64-bit words of an L2 VMTE hold it (Linux
/// arch/arm64/kvm/vgic/vgic-v5-tables.c GICV5_VMTEL2E_IST_*, S6):
/// <c>VALID[0] L2SZ[2:1] ADDR[55:6] ISTSZ[57:56] STRUCTURE[58] ID_BITS[63:59]</c>. ADDR is stored unshifted:
/// the field holds address bits [55:6] in place. Bits [5:3] are treated as RES0 (no Linux mask defines them) [INFERRED].
/// </summary>
public readonly record struct IstDescriptor(ulong Raw)
{
    public static readonly Field ValidField = new("VALID", 0, 1);
    public static readonly Field L2SzField = new("L2SZ", 1, 2);
    public static readonly Field AddrField = new("ADDR", 6, 50);
    public static readonly Field IstSzField = new("ISTSZ", 56, 2);
    public static readonly Field StructureField = new("STRUCTURE", 58, 1);
    public static readonly Field IdBitsField = new("ID_BITS", 59, 5);
    public static readonly ulong DefinedMask = ValidField.Mask | L2SzField.Mask | AddrField.Mask | IstSzField.Mask | StructureField.Mask | IdBitsField.Mask;

    /// <summary>No IST: the word KVM leaves until it makes the IST valid.</summary>
    public static IstDescriptor None => default;

    public bool Valid => ValidField.Flag(Raw);
    /// <summary>The IST's guest-physical/host-physical base address (64-byte aligned).</summary>
    public ulong Address => Raw & AddrField.Mask;
    public IstConfig Config => new(
        (int)IdBitsField.Extract(Raw), (IstL2Size)L2SzField.Extract(Raw), (IsteSize)IstSzField.Extract(Raw), (IstStructure)StructureField.Extract(Raw));

    /// <summary>Describes an IST of shape <paramref name="config"/> at <paramref name="address"/>; refuses an invalid shape or
    /// an address that is not 64-byte aligned below 2^56 (it could not be encoded exactly).</summary>
    public static IstDescriptor Create(bool valid, ulong address, IstConfig config)
    {
        var error = config.Validate();
        if (error is not null) throw new ArgumentOutOfRangeException(nameof(config), error);
        if ((address & ~AddrField.Mask) != 0)
            throw new ArgumentOutOfRangeException(nameof(address), $"IST address 0x{address:X} is not 64-byte aligned within ADDR[55:6]");
        var raw = address;
        raw = ValidField.Set(raw, valid);
        raw = L2SzField.Deposit(raw, (ulong)config.L2Size);
        raw = IstSzField.Deposit(raw, (ulong)config.IsteSize);
        raw = StructureField.Deposit(raw, (ulong)config.Structure);
        raw = IdBitsField.Deposit(raw, (ulong)config.LpiIdBits);
        return new IstDescriptor(raw);
    }

    /// <summary>Decodes a descriptor word, refusing RES0 bits, reserved L2SZ/ISTSZ values and ID_BITS beyond 24.</summary>
    public static bool TryDecode(ulong raw, out IstDescriptor descriptor, out string error)
    {
        descriptor = default;
        if ((raw & ~DefinedMask) != 0) { error = $"IST descriptor 0x{raw:X16} has RES0 bits [5:3] set"; return false; }
        var candidate = new IstDescriptor(raw);
        var why = candidate.Config.Validate();
        if (why is not null) { error = $"IST descriptor 0x{raw:X16}: {why}"; return false; }
        descriptor = candidate;
        error = "";
        return true;
    }

    public override string ToString() => Valid ? $"{Config}@0x{Address:X}" : Raw == 0 ? "none" : $"invalid {Config}@0x{Address:X}";
}

/// <summary>
/// The 32-byte L2 VM Table Entry (SEMANTICS.md §1 VMT/VMTE; Linux vgic-v5-tables.c GICV5_VMTEL2E_*, S6), four
/// little-endian 64-bit words: dword0 <c>VALID[0] VMD_ADDR[55:3]</c>; dword1 <c>VPET_ADDR[55:3]
/// VPE_ID_BITS[63:59]</c>; dword2 the LPI IST descriptor; dword3 the SPI IST descriptor. Addresses are stored
/// unshifted. Bits no Linux mask defines are treated as RES0 [INFERRED].
/// </summary>
public readonly record struct VmtEntry(ulong Dword0, ulong Dword1, IstDescriptor LpiIst, IstDescriptor SpiIst)
{
    public const int SizeBytes = 32;

    public static readonly Field ValidField = new("VALID", 0, 1);
    public static readonly Field VmdAddrField = new("VMD_ADDR", 3, 53);
    public static readonly Field VpetAddrField = new("VPET_ADDR", 3, 53);
    public static readonly Field VpeIdBitsField = new("VPE_ID_BITS", 59, 5);
    public static readonly ulong Dword0Mask = ValidField.Mask | VmdAddrField.Mask;
    public static readonly ulong Dword1Mask = VpetAddrField.Mask | VpeIdBitsField.Mask;

    /// <summary>A VPE_ID is 16 bits (IRS_VPE_SELR.VPE_ID[47:32]).</summary>
    public const int MaxVpeIdBits = 16;

    public bool Valid => ValidField.Flag(Dword0);
    /// <summary>Address of the IMPDEF VM descriptor; 0 when the IRS needs none (IDR3.VMD=0).</summary>
    public ulong VmdAddress => Dword0 & VmdAddrField.Mask;
    public ulong VpetAddress => Dword1 & VpetAddrField.Mask;
    public int VpeIdBits => (int)VpeIdBitsField.Extract(Dword1);

    /// <summary>Builds a VMTE, refusing addresses that are not 8-byte aligned below 2^56 and VPE_ID_BITS outside 1..16.</summary>
    public static VmtEntry Create(bool valid, ulong vmdAddress, ulong vpetAddress, int vpeIdBits, IstDescriptor lpiIst, IstDescriptor spiIst)
    {
        if ((vmdAddress & ~VmdAddrField.Mask) != 0)
            throw new ArgumentOutOfRangeException(nameof(vmdAddress), $"VMD address 0x{vmdAddress:X} is not 8-byte aligned within VMD_ADDR[55:3]");
        if ((vpetAddress & ~VpetAddrField.Mask) != 0)
            throw new ArgumentOutOfRangeException(nameof(vpetAddress), $"VPET address 0x{vpetAddress:X} is not 8-byte aligned within VPET_ADDR[55:3]");
        if (vpeIdBits is < 1 or > MaxVpeIdBits)
            throw new ArgumentOutOfRangeException(nameof(vpeIdBits), $"VPE_ID_BITS {vpeIdBits} is out of range 1..{MaxVpeIdBits}");
        var d0 = ValidField.Set(vmdAddress, valid);
        var d1 = VpeIdBitsField.Deposit(vpetAddress, (ulong)vpeIdBits);
        return new VmtEntry(d0, d1, lpiIst, spiIst);
    }

    public VmtEntry WithValid(bool valid) => this with { Dword0 = ValidField.Set(Dword0, valid) };
    public VmtEntry WithLpiIst(IstDescriptor d) => this with { LpiIst = d };
    public VmtEntry WithSpiIst(IstDescriptor d) => this with { SpiIst = d };

    /// <summary>Writes the 32 bytes as the IRS reads them: four little-endian 64-bit words.</summary>
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < SizeBytes) throw new ArgumentException($"a VMTE needs {SizeBytes} bytes, the destination has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[..8], Dword0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..16], Dword1);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..24], LpiIst.Raw);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..32], SpiIst.Raw);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[SizeBytes];
        Encode(bytes);
        return bytes;
    }

    /// <summary>Decodes exactly 32 bytes, refusing another length, RES0 bits, VPE_ID_BITS above 16 and bad IST descriptors.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, out VmtEntry entry, out string error)
    {
        entry = default;
        if (source.Length != SizeBytes) { error = $"a VMTE is {SizeBytes} bytes, not {source.Length}"; return false; }
        var d0 = BinaryPrimitives.ReadUInt64LittleEndian(source[..8]);
        var d1 = BinaryPrimitives.ReadUInt64LittleEndian(source[8..16]);
        if ((d0 & ~Dword0Mask) != 0) { error = $"VMTE dword0 0x{d0:X16} has RES0 bits set (defined: VALID[0] VMD_ADDR[55:3])"; return false; }
        if ((d1 & ~Dword1Mask) != 0) { error = $"VMTE dword1 0x{d1:X16} has RES0 bits set (defined: VPET_ADDR[55:3] VPE_ID_BITS[63:59])"; return false; }
        var bits = (int)VpeIdBitsField.Extract(d1);
        if (bits > MaxVpeIdBits) { error = $"VMTE VPE_ID_BITS {bits} exceeds the {MaxVpeIdBits}-bit VPE_ID"; return false; }
        if (!IstDescriptor.TryDecode(BinaryPrimitives.ReadUInt64LittleEndian(source[16..24]), out var lpi, out var why)) { error = "VMTE LPI IST (dword2): " + why; return false; }
        if (!IstDescriptor.TryDecode(BinaryPrimitives.ReadUInt64LittleEndian(source[24..32]), out var spi, out why)) { error = "VMTE SPI IST (dword3): " + why; return false; }
        entry = new VmtEntry(d0, d1, lpi, spi);
        error = "";
        return true;
    }

    public static VmtEntry Decode(ReadOnlySpan<byte> source) =>
        TryDecode(source, out var e, out var error) ? e : throw new ArgumentException(error, nameof(source));

    public override string ToString() =>
        $"VMTE{{V={(Valid ? 1 : 0)} VMD=0x{VmdAddress:X} VPET=0x{VpetAddress:X} VPE_ID_BITS={VpeIdBits} LPI={LpiIst} SPI={SpiIst}}}";
}

/// <summary>A VPE Table entry (SEMANTICS.md §1 VPET; Linux GICV5_VPE_VALID, GICV5_VPED_ADDR, S6): 64 bits,
/// <c>VALID[0] VPED_ADDR[55:3]</c>, address stored unshifted. Other bits treated as RES0 [INFERRED].</summary>
public readonly record struct VpetEntry(ulong Raw)
{
    public const int SizeBytes = 8;
    public static readonly Field ValidField = new("VALID", 0, 1);
    public static readonly Field VpedAddrField = new("VPED_ADDR", 3, 53);
    public static readonly ulong DefinedMask = ValidField.Mask | VpedAddrField.Mask;

    public bool Valid => ValidField.Flag(Raw);
    public ulong VpedAddress => Raw & VpedAddrField.Mask;

    public static VpetEntry Create(bool valid, ulong vpedAddress)
    {
        if ((vpedAddress & ~VpedAddrField.Mask) != 0)
            throw new ArgumentOutOfRangeException(nameof(vpedAddress), $"VPED address 0x{vpedAddress:X} is not 8-byte aligned within VPED_ADDR[55:3]");
        return new VpetEntry(ValidField.Set(vpedAddress, valid));
    }

    public VpetEntry WithValid(bool valid) => new(ValidField.Set(Raw, valid));

    public void Encode(Span<byte> destination) => BinaryPrimitives.WriteUInt64LittleEndian(destination[..SizeBytes], Raw);

    public static bool TryDecode(ReadOnlySpan<byte> source, out VpetEntry entry, out string error)
    {
        entry = default;
        if (source.Length != SizeBytes) { error = $"a VPETE is {SizeBytes} bytes, not {source.Length}"; return false; }
        var raw = BinaryPrimitives.ReadUInt64LittleEndian(source);
        if ((raw & ~DefinedMask) != 0) { error = $"VPETE 0x{raw:X16} has RES0 bits set (defined: VALID[0] VPED_ADDR[55:3])"; return false; }
        entry = new VpetEntry(raw);
        error = "";
        return true;
    }

    public static VpetEntry Decode(ReadOnlySpan<byte> source) =>
        TryDecode(source, out var e, out var error) ? e : throw new ArgumentException(error, nameof(source));

    public override string ToString() => $"VPETE{{V={(Valid ? 1 : 0)} VPED=0x{VpedAddress:X}}}";
}

/// <summary>
/// The host IRS's VM table (SEMANTICS.md §1 VMT/VMTE, VPET): one VMTE per VM_ID below 2^VM_ID_BITS, and per VM a
/// VPE table of 2^VPE_ID_BITS entries. Every refusal (VM_ID out of range, a VM_ID already in use, an unknown VM,
/// a VPE_ID out of range, VPE_ID_BITS beyond what the IRS supports) leaves the table unchanged and says why.
/// <para>Simplification: the table is a dictionary, not linear or two-level memory — how the IRS finds a VMTE does
/// not change what it holds. KVM writes a VMTE with VALID=0 and lets the IRS set it with IRS_VMAP_VMR (S6);
/// <see cref="TrySetValid"/> stands for that command.</para>
/// </summary>
public sealed class VmTable
{
    /// <summary>A VM_ID is 16 bits (IRS_VPE_SELR.VM_ID[15:0], IRS_VMAP_VMR.VM_ID[15:0]).</summary>
    public const int MaxVmIdBits = 16;

    private readonly Dictionary<int, (VmtEntry Entry, VpetEntry[] Vpes)> _vms = new();

    public int VmIdBits { get; }
    /// <summary>The widest VPE table the IRS supports (IRS_IDR4.VPE_ID_BITS).</summary>
    public int MaxVpeIdBits { get; }
    /// <summary>VM_IDs 0..Capacity-1 are addressable.</summary>
    public int Capacity => 1 << VmIdBits;
    public int Count => _vms.Count;
    public IEnumerable<int> VmIds => _vms.Keys.Order();

    public VmTable(int vmIdBits, int maxVpeIdBits = VmtEntry.MaxVpeIdBits)
    {
        if (vmIdBits is < 1 or > MaxVmIdBits) throw new ArgumentOutOfRangeException(nameof(vmIdBits), $"VM_ID_BITS {vmIdBits} is out of range 1..{MaxVmIdBits}");
        if (maxVpeIdBits is < 1 or > VmtEntry.MaxVpeIdBits) throw new ArgumentOutOfRangeException(nameof(maxVpeIdBits), $"VPE_ID_BITS {maxVpeIdBits} is out of range 1..{VmtEntry.MaxVpeIdBits}");
        VmIdBits = vmIdBits;
        MaxVpeIdBits = maxVpeIdBits;
    }

    /// <summary>VPE_ID_BITS for a VM whose highest VPE_ID is <paramref name="vcpuCount"/> - 1: the VPE count rounded up to
    /// a power of two, at least 2, so at least one bit — "IRS_IDR1.IAFFID_BITS is encoded as N - 1, so expose at least
    /// one VPE ID bit even for a single-vCPU VM" (S6 vgic_v5_vmte_init: max(2, roundup_pow_of_two(max_vpe_id + 1))).</summary>
    public static int VpeIdBitsFor(int vcpuCount)
    {
        if (vcpuCount is < 1 or > 1 << VmtEntry.MaxVpeIdBits)
            throw new ArgumentOutOfRangeException(nameof(vcpuCount), $"a VM has 1..{1 << VmtEntry.MaxVpeIdBits} vCPUs, not {vcpuCount}");
        var rounded = Math.Max(2u, BitOperations.RoundUpToPowerOf2((uint)vcpuCount));
        return BitOperations.Log2(rounded);
    }

    /// <summary>Installs the VMTE of <paramref name="vmId"/> with an empty (all invalid) VPE table of 2^VPE_ID_BITS entries.</summary>
    public bool TryAdd(int vmId, VmtEntry entry, out string error)
    {
        if (!InRange(vmId, out error)) return false;
        if (_vms.ContainsKey(vmId)) { error = $"VM_ID {vmId} is already in use"; return false; }
        if (entry.VpeIdBits is < 1 || entry.VpeIdBits > MaxVpeIdBits)
        {
            error = $"VM_ID {vmId}: VMTE VPE_ID_BITS {entry.VpeIdBits} is out of range 1..{MaxVpeIdBits} (IRS_IDR4.VPE_ID_BITS)";
            return false;
        }
        _vms.Add(vmId, (entry, new VpetEntry[1 << entry.VpeIdBits]));
        error = "";
        return true;
    }

    public bool TryGet(int vmId, out VmtEntry entry)
    {
        if (_vms.TryGetValue(vmId, out var vm)) { entry = vm.Entry; return true; }
        entry = default;
        return false;
    }

    /// <summary>Releases a VM_ID. KVM requires the VMTE to be made invalid first (S6 vgic_v5_vmte_release); so does this.</summary>
    public bool TryRemove(int vmId, out string error)
    {
        if (!Known(vmId, out var vm, out error)) return false;
        if (vm.Entry.Valid) { error = $"VM_ID {vmId}: the VMTE is still valid; make it invalid (IRS_VMAP_VMR M=0) before releasing it"; return false; }
        _vms.Remove(vmId);
        return true;
    }

    /// <summary>IRS_VMAP_VMR {VM_ID, M}: the IRS sets or clears VMTE.VALID.</summary>
    public bool TrySetValid(int vmId, bool valid, out string error)
    {
        if (!Known(vmId, out var vm, out error)) return false;
        _vms[vmId] = (vm.Entry.WithValid(valid), vm.Vpes);
        return true;
    }

    /// <summary>Replaces the LPI or SPI IST descriptor of a VM (IRS_VMAP_VISTR stands behind this in KVM).</summary>
    public bool TrySetIst(int vmId, bool spi, IstDescriptor descriptor, out string error)
    {
        if (!Known(vmId, out var vm, out error)) return false;
        _vms[vmId] = (spi ? vm.Entry.WithSpiIst(descriptor) : vm.Entry.WithLpiIst(descriptor), vm.Vpes);
        return true;
    }

    /// <summary>Writes the VPETE of <paramref name="vpeId"/> in VM <paramref name="vmId"/>'s VPE table (IRS_VMAP_VPER).</summary>
    public bool TrySetVpe(int vmId, int vpeId, VpetEntry vpe, out string error)
    {
        if (!Known(vmId, out var vm, out error)) return false;
        if (!VpeInRange(vmId, vm, vpeId, out error)) return false;
        vm.Vpes[vpeId] = vpe;
        return true;
    }

    public bool TryGetVpe(int vmId, int vpeId, out VpetEntry vpe, out string error)
    {
        vpe = default;
        if (!Known(vmId, out var vm, out error)) return false;
        if (!VpeInRange(vmId, vm, vpeId, out error)) return false;
        vpe = vm.Vpes[vpeId];
        return true;
    }

    private bool InRange(int vmId, out string error)
    {
        if (vmId < 0 || vmId >= Capacity) { error = $"VM_ID {vmId} is out of range 0..{Capacity - 1} (VM_ID_BITS={VmIdBits})"; return false; }
        error = "";
        return true;
    }

    private bool Known(int vmId, out (VmtEntry Entry, VpetEntry[] Vpes) vm, out string error)
    {
        vm = default;
        if (!InRange(vmId, out error)) return false;
        if (!_vms.TryGetValue(vmId, out vm)) { error = $"VM_ID {vmId} has no VMTE"; return false; }
        return true;
    }

    private static bool VpeInRange(int vmId, (VmtEntry Entry, VpetEntry[] Vpes) vm, int vpeId, out string error)
    {
        if (vpeId < 0 || vpeId >= vm.Vpes.Length)
        {
            error = $"VM_ID {vmId}: VPE_ID {vpeId} is out of range 0..{vm.Vpes.Length - 1} (VPE_ID_BITS={vm.Entry.VpeIdBits})";
            return false;
        }
        error = "";
        return true;
    }
}
