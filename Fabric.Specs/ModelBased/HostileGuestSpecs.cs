using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using CsCheck;
using Fabric.Actors.Protocols;
using Fabric.Hardware;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;
using Xunit;

namespace Fabric.Specs.ModelBased;

/// <summary>
/// A hostile guest in VM 0 throws random and adversarial IRS MMIO accesses and CD* operations at its own IRS and
/// CPU interfaces: out-of-range IDs, priorities and IAFFIDs, unknown or misaligned offsets, wrong sizes, writes to
/// read-only registers. No actor may crash, nothing may change in VM 1, and an operation the fabric refuses must
/// change nothing in VM 0 either.
/// </summary>
public class HostileGuestSpecs : TestKit
{
    public HostileGuestSpecs() : base("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF") { }

    public readonly record struct Attack(int Kind, long A, long B, int Size)
    {
        public override string ToString() => Kind switch
        {
            0 => $"MMIO write 0x{A:X} <- 0x{B:X} ({Size} bytes)",
            1 => $"MMIO read 0x{A:X} ({Size} bytes)",
            2 => $"CDPRI {Id(A)} {B}",
            3 => $"CDAFF {Id(A)} {B}",
            4 => $"CDEN {Id(A)} {B != 0}",
            5 => $"CDPEND {Id(A)} {B != 0}",
            6 => $"CDDI {Id(A)}",
            7 => $"CDHM {Id(A)}",
            8 => $"CDIA-activate {Id(A)} from VPE {B}",
            _ => $"ICC_PCR_EL1 {B} on VPE {A & 3}",
        };

        /// <summary>An INTID of any type; SPIs reach past the VM's 64 and LPIs past its LPI IST (an INTID that does not
        /// encode at all never gets this far: <see cref="IntId"/> refuses it).</summary>
        public static IntId Id(long a)
        {
            var type = (IntIdType)(1 + (a & 3) % 3);
            var n = (uint)(a >> 2) % 20_000;
            return IntId.Create(type, type == IntIdType.Ppi ? n % IntId.PpiCount : n);
        }
    }

    /// <summary>Offsets the register map defines, plus their neighbours and wild ones.</summary>
    private static readonly Gen<long> GenOffset = Gen.OneOf(
        Gen.OneOf(IrsRegisters.All.Select(r => (long)r.Offset).ToArray()).SelectMany(o => Gen.Long[o - 4, o + 4]),
        Gen.Long[0, 0x1_0000], Gen.Long);

    private static readonly Gen<Attack> GenAttack = Gen.Int[0, 9].SelectMany(kind => kind switch
    {
        0 => Gen.Select(GenOffset, Gen.Long, Gen.OneOf(1, 2, 4, 8, 3, 16)).Select(t => new Attack(0, t.Item1, t.Item2, t.Item3)),
        1 => Gen.Select(GenOffset, Gen.OneOf(1, 2, 4, 8, 3)).Select(t => new Attack(1, t.Item1, 0, t.Item2)),
        _ => Gen.Select(Gen.OneOf(Gen.Long[0, 300], Gen.Long[0, 80_000]), Gen.OneOf(Gen.Long[-2, 40], Gen.Long[-5, 70_000]))
            .Select(t => new Attack(kind, t.Item1, t.Item2, 0)),
    });

    [Fact]
    public void A_hostile_guest_never_crashes_the_fabric_never_touches_another_vm_and_a_refusal_changes_nothing()
    {
        var crashes = CreateTestProbe();
        Sys.EventStream.Subscribe(crashes, typeof(Error));
        int refusedCount = 0, acceptedCount = 0;
        GenAttack.List[1, 40].Sample(attacks =>
        {
            var victim = new ActorVm(this, FabricPolicies.Default, 4, 64, vmId: 0);
            var bystander = new ActorVm(this, FabricPolicies.Default, 4, 64, vmId: 1);
            try
            {
                foreach (var vm in new[] { victim, bystander })
                {
                    vm.Irs.Irs.ConfigureLpiIst(14);
                    vm.Virs.Tell(new IrsProtocol.ConfigureSpi(3, HandlingMode.Level));
                    vm.Virs.Tell(new IrsProtocol.CdEnable(IntId.Spi(3), true));
                    vm.Vm.ApList.Tell(new ApListProtocol.SetIrq(3, true));
                }
                var other = bystander.State();
                var guest = CreateTestProbe();
                foreach (var a in attacks)
                {
                    var before = victim.State();
                    var target = a.Kind == 9 ? victim.Vpes[a.A & 3] : victim.Virs;
                    target.Tell(Message(a, victim), guest.Ref);
                    var answer = guest.HasMessages ? guest.ReceiveOne(TimeSpan.Zero) : null;
                    var refused = answer is IrsProtocol.Refused || answer is IrsProtocol.MmioDone { Result.Ok: false };
                    if (refused) Assert.True(before == victim.State(), $"refused {a} changed VM 0");
                    if (refused) refusedCount++; else acceptedCount++;
                    Assert.True(other == bystander.State(), $"{a} on VM 0 changed VM 1");
                    while (guest.HasMessages) guest.ReceiveOne(TimeSpan.Zero);
                }
                Assert.False(crashes.HasMessages, $"an actor crashed: {(crashes.HasMessages ? crashes.ReceiveOne(TimeSpan.Zero) : null)}");
            }
            finally
            {
                victim.Stop();
                bystander.Stop();
            }
        }, iter: int.TryParse(Environment.GetEnvironmentVariable("FABRIC_HOSTILE_ITER"), out var n) ? n : 80, threads: 1, print: l => string.Join("\n  ", l));
        Assert.True(refusedCount > 50 && acceptedCount > 50, $"the attacks did not exercise both sides: {refusedCount} refused, {acceptedCount} accepted");
    }

    private static object Message(Attack a, ActorVm vm) => a.Kind switch
    {
        0 => new IrsProtocol.MmioWrite(unchecked((ulong)a.A), unchecked((ulong)a.B), a.Size),
        1 => new IrsProtocol.MmioRead(unchecked((ulong)a.A), a.Size),
        2 => new IrsProtocol.CdPriority(Attack.Id(a.A), (int)a.B),
        3 => new IrsProtocol.CdAffinity(Attack.Id(a.A), (int)a.B, a.B % 7 == 0),
        4 => new IrsProtocol.CdEnable(Attack.Id(a.A), a.B != 0),
        5 => new IrsProtocol.CdPend(Attack.Id(a.A), a.B != 0),
        6 => new IrsProtocol.Cddi(Attack.Id(a.A), (int)(a.B % 8)),
        7 => new IrsProtocol.CdHandlingMode(Attack.Id(a.A), (a.B & 1) == 0 ? HandlingMode.Edge : HandlingMode.Level),
        8 => new IrsProtocol.Activate(Attack.Id(a.A), (int)(a.B % 8) - 2),
        _ => (object)new CpuInterfaceProtocol.SetPriorityMask((int)a.B),
    };
}
