using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;

namespace Fabric.Bench.Micro;

/// <summary>BenchmarkDotNet over the hot Fabric.Hardware functions; runs only with <c>--micro</c>. In process
/// (<c>--inProcess</c> is added: no generated project to build, so the repository's central package management and
/// warnings-as-errors stay out of its way); any BenchmarkDotNet argument may follow, e.g. <c>--filter *Iste*</c> or
/// <c>--job short</c>.</summary>
public static class MicroBenchmarks
{
    public static void Run(string[] args)
    {
        var a = args.Length == 0 ? ["--filter", "*"] : args;
        if (!a.Contains("--inProcess") && !a.Contains("-i")) a = [.. a, "--inProcess"];
        BenchmarkSwitcher.FromTypes([typeof(StateTransitionBenchmarks), typeof(HppiBenchmarks), typeof(IsteBenchmarks)]).Run(a);
    }
}

/// <summary>One interrupt's life through the state machine (SEMANTICS.md §2): VDPEND, CDIA's activation, CDDI.</summary>
[MemoryDiagnoser]
public class StateTransitionBenchmarks
{
    private IstEntry _idle;

    [GlobalSetup]
    public void Setup() => _idle = IstEntry.Zero.WithEnabled(true).WithPriority(Priority.Of(8));

    [Benchmark(Description = "SetPending (I->P)")]
    public IstEntry SetPending() => InterruptStateMachine.SetPending(_idle, true).Entry;

    [Benchmark(Description = "Activate (P->A, edge)")]
    public IstEntry Activate() => InterruptStateMachine.Activate(_idle.WithPending(true)).Entry;

    [Benchmark(Description = "Pend, activate, deactivate")]
    public IstEntry Lifecycle()
    {
        var p = InterruptStateMachine.SetPending(_idle, true).Entry;
        var a = InterruptStateMachine.Activate(p).Entry;
        return InterruptStateMachine.Deactivate(a).Entry;
    }
}

/// <summary>The HPPI choice: the IRS's per-VPE candidate index (VDPEND then the HPPI for a VPE), and the CPU
/// interface's choice between its PPIs and the IRS's offer.</summary>
[MemoryDiagnoser]
public class HppiBenchmarks
{
    private VirtualIrs _irs = null!;
    private VirtualCpuInterface _cpu = null!;
    private uint _next;

    [Params(64, 1024)]
    public int Spis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _irs = new VirtualIrs(new VirtualIrsConfig(Spis, 4));
        _irs.EnableIrs();
        for (uint i = 0; i < Spis; i++)
        {
            var id = IntId.Spi(i);
            _irs.CdPriority(id, (int)(i % 32));
            _irs.CdAffinity(id, 0);
            _irs.CdEnable(id, true);
            if (i % 2 == 0) _irs.Vdpend(id, true);
        }
        _cpu = CpuInterfaceRules.GuestEnable(new VirtualCpuInterface(0) { Resident = true, Offered = _irs.HppiFor(0) }, Priority.Lowest);
        for (uint p = 0; p < 8; p++)
            CpuInterfaceRules.ApplyPpi(_cpu, IntId.Ppi(p * 3), e => InterruptStateMachine.SetPending(InterruptStateMachine.SetEnabled(e.WithPriority(Priority.Of(20)), true).Entry, true));
    }

    [Benchmark(Description = "VirtualIrs.HppiFor")]
    public Hppi? HppiFor() => _irs.HppiFor(0);

    [Benchmark(Description = "VDPEND(1) + VDPEND(0) with HPPI update")]
    public IrsOutcome VdpendPair()
    {
        var id = IntId.Spi(1 + 2 * (_next++ % (uint)(Spis / 2 - 1)));
        _irs.Vdpend(id, true);
        return _irs.Vdpend(id, false);
    }

    [Benchmark(Description = "CPU interface HighestPending (128 PPIs + offer)")]
    public Hppi? HighestPending() => CpuInterfaceRules.HighestPending(_cpu);

    [Benchmark(Description = "Hppi.Beats")]
    public bool Beats() => new Hppi(IntId.Spi(3), Priority.Of(8)).Beats(new Hppi(IntId.Ppi(5), Priority.Of(8)));
}

/// <summary>The bit-exact ISTE and ICSR encodings (SEMANTICS.md §1).</summary>
[MemoryDiagnoser]
public class IsteBenchmarks
{
    private readonly byte[] _buffer = new byte[4];
    private IstEntry _entry;
    private uint _raw;

    [GlobalSetup]
    public void Setup()
    {
        _entry = IstEntry.Zero.WithPending(true).WithEnabled(true).WithPriority(Priority.Of(12)).WithIaffid(3).WithHandlingMode(HandlingMode.Level);
        _raw = _entry.Raw;
    }

    [Benchmark(Description = "IstEntry.Decode")]
    public IstEntry Decode() => IstEntry.Decode(_raw);

    [Benchmark(Description = "ISTE fields read (P, A, HM, E, priority, IAFFID)")]
    public int Fields() => (_entry.Pending ? 1 : 0) + (_entry.Active ? 2 : 0) + (int)_entry.HandlingMode + (_entry.Enabled ? 8 : 0) + _entry.Priority.Value + _entry.Iaffid;

    [Benchmark(Description = "ISTE encode: With* x4")]
    public IstEntry Encode() => IstEntry.Zero.WithEnabled(true).WithPriority(Priority.Of(12)).WithIaffid(3).WithPending(true);

    [Benchmark(Description = "ISTE little-endian write + read")]
    public IstEntry RoundTrip()
    {
        _entry.WriteLittleEndian(_buffer);
        return IstEntry.ReadLittleEndian(_buffer);
    }

    [Benchmark(Description = "Icsr.From (VDRCFG's result)")]
    public Icsr IcsrFrom() => Icsr.From(_entry);
}
