using Fabric.Hardware.Registers;

namespace Fabric.Hardware.Interrupts;

/// <summary>
/// The architected 32-bit L2 ISTE (SEMANTICS.md §1; Linux GICV5_ISTL2E_*, QEMU L2_ISTE):
/// <c>Pending[0] Active[1] HM[2] Enable[3] IRM[4] HWU[10:9] Priority[15:11] IAFFID[31:16]</c>.
/// Bits [8:5] are RES0. An immutable value: every transition returns a new entry.
/// </summary>
public readonly record struct IstEntry(uint Raw)
{
    public static readonly Field PendingField = new("Pending", 0, 1);
    public static readonly Field ActiveField = new("Active", 1, 1);
    public static readonly Field HmField = new("HM", 2, 1);
    public static readonly Field EnableField = new("Enable", 3, 1);
    public static readonly Field IrmField = new("IRM", 4, 1);
    public static readonly Field HwuField = new("HWU", 9, 2);
    public static readonly Field PriorityField = new("Priority", 11, 5);
    public static readonly Field IaffidField = new("IAFFID", 16, 16);
    /// <summary>Bits that are not RES0.</summary>
    public const uint DefinedMask = 0xFFFF_FE1Fu;

    public static IstEntry Zero => default;

    public bool Pending => PendingField.Flag(Raw);
    public bool Active => ActiveField.Flag(Raw);
    public HandlingMode HandlingMode => (HandlingMode)HmField.Extract(Raw);
    public bool Enabled => EnableField.Flag(Raw);
    public bool Irm => IrmField.Flag(Raw);
    public uint Hwu => (uint)HwuField.Extract(Raw);
    public Priority Priority => Priority.Of((int)PriorityField.Extract(Raw));
    public ushort Iaffid => (ushort)IaffidField.Extract(Raw);

    /// <summary>Neither pending nor active: state I (SEMANTICS.md §2).</summary>
    public bool Idle => !Pending && !Active;

    public IstEntry WithPending(bool on) => new((uint)PendingField.Set(Raw, on));
    public IstEntry WithActive(bool on) => new((uint)ActiveField.Set(Raw, on));
    public IstEntry WithHandlingMode(HandlingMode hm) => new((uint)HmField.Deposit(Raw, (ulong)hm));
    public IstEntry WithEnabled(bool on) => new((uint)EnableField.Set(Raw, on));
    public IstEntry WithIrm(bool on) => new((uint)IrmField.Set(Raw, on));
    public IstEntry WithHwu(uint hwu) => new((uint)HwuField.Deposit(Raw, hwu));
    public IstEntry WithPriority(Priority p) => new((uint)PriorityField.Deposit(Raw, p.Value));
    public IstEntry WithIaffid(ushort iaffid) => new((uint)IaffidField.Deposit(Raw, iaffid));

    /// <summary>Little-endian 32-bit encoding, as KVM's IST save/restore buffers hold it (SEMANTICS.md §4).</summary>
    public void WriteLittleEndian(Span<byte> destination) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination, Raw);

    public static IstEntry ReadLittleEndian(ReadOnlySpan<byte> source) => Decode(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(source));

    /// <summary>Decodes a raw ISTE, refusing set RES0 bits [8:5].</summary>
    public static IstEntry Decode(uint raw) =>
        (raw & ~DefinedMask) != 0
            ? throw new ArgumentOutOfRangeException(nameof(raw), $"ISTE 0x{raw:X8} has RES0 bits [8:5] set")
            : new IstEntry(raw);

    public override string ToString() =>
        $"ISTE{{P={B(Pending)} A={B(Active)} HM={HandlingMode} E={B(Enabled)} IRM={B(Irm)} HWU={Hwu} Pri={Priority} IAFFID={Iaffid}}}";

    private static int B(bool b) => b ? 1 : 0;
}

/// <summary>
/// <c>ICC_ICSR_EL1</c>, the result of <c>GIC CDRCFG</c> / <c>GIC VDRCFG</c> (SEMANTICS.md §1; QEMU):
/// <c>F[0] Enabled[1] Pending[2] IRM[3] Active[4] HM[5] Priority[15:11] IAFFID[47:32]</c>.
/// F=1 means the lookup faulted (no such interrupt) and the rest is zero.
/// </summary>
public readonly record struct Icsr(ulong Raw)
{
    public static readonly Field FField = new("F", 0, 1);
    public static readonly Field EnabledField = new("Enabled", 1, 1);
    public static readonly Field PendingField = new("Pending", 2, 1);
    public static readonly Field IrmField = new("IRM", 3, 1);
    public static readonly Field ActiveField = new("Active", 4, 1);
    public static readonly Field HmField = new("HM", 5, 1);
    public static readonly Field PriorityField = new("Priority", 11, 5);
    public static readonly Field IaffidField = new("IAFFID", 32, 16);
    public const ulong DefinedMask = 0x0000_FFFF_0000_F83FUL;

    public static Icsr Fault => new(FField.Set(0, true));

    public bool Faulted => FField.Flag(Raw);
    public bool Enabled => EnabledField.Flag(Raw);
    public bool Pending => PendingField.Flag(Raw);
    public bool Irm => IrmField.Flag(Raw);
    public bool Active => ActiveField.Flag(Raw);
    public HandlingMode HandlingMode => (HandlingMode)HmField.Extract(Raw);
    public Priority Priority => Priority.Of((int)PriorityField.Extract(Raw));
    public ushort Iaffid => (ushort)IaffidField.Extract(Raw);

    /// <summary>What VDRCFG reports of an ISTE: every field but HWU, F clear.</summary>
    public static Icsr From(IstEntry e)
    {
        ulong r = 0;
        r = EnabledField.Set(r, e.Enabled);
        r = PendingField.Set(r, e.Pending);
        r = IrmField.Set(r, e.Irm);
        r = ActiveField.Set(r, e.Active);
        r = HmField.Deposit(r, (ulong)e.HandlingMode);
        r = PriorityField.Deposit(r, e.Priority.Value);
        r = IaffidField.Deposit(r, e.Iaffid);
        return new Icsr(r);
    }

    public static Icsr Decode(ulong raw) =>
        (raw & ~DefinedMask) != 0
            ? throw new ArgumentOutOfRangeException(nameof(raw), $"ICC_ICSR_EL1 0x{raw:X16} has RES0 bits set")
            : new Icsr(raw);

    public override string ToString() =>
        Faulted ? "ICSR{F=1}" : $"ICSR{{E={(Enabled ? 1 : 0)} P={(Pending ? 1 : 0)} A={(Active ? 1 : 0)} HM={HandlingMode} Pri={Priority} IAFFID={Iaffid}}}";
}
