using Fabric.Hardware.Protocol;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>The operations of DESIGN.md §6.4's table, one per step.</summary>
public enum StepOp
{
    Line, Irqfd,
    Cdia, Cdeoi, Cddi, Cden, Cddis, Cdpri, Cdaff, Cdpend, Cdhm, Pcr, Handle, MmioRead, MmioWrite,
    VcpuState, Exit, Migrate, Wait, Expect,
}

/// <summary>
/// One step of a directed scenario (DESIGN.md §6.4), validated at load time: its operation and operands, the VM and vCPU
/// it acts on (0 and 0 unless it says), and what it expects. <paramref name="Index"/> is its place in
/// <c>fabric.scenario.steps</c>, <paramref name="Line"/> the line of the file where it begins (null when it came from
/// <c>--set</c>), <paramref name="Text"/> how it was written (for the messages and TAP).
/// </summary>
public sealed record Step(int Index, int? Line, string Text, StepOp Op, int Vm, int Vcpu)
{
    /// <summary>The INTID a line, irqfd or CD* step names.</summary>
    public IntId Id { get; init; }
    /// <summary><c>level = high</c>, <c>pending = true</c>, <c>migrate = true</c>.</summary>
    public bool On { get; init; }
    /// <summary>A CDPRI priority, a CDAFF target, a PCR value (judged at run time: a priority beyond 5 bits is sent).</summary>
    public long Value { get; init; }
    public HandlingMode Mode { get; init; }
    /// <summary>The IRS frame register an mmio step names.</summary>
    public IrsRegister? Register { get; init; }
    public VcpuProtocol.VcpuRun VcpuRun { get; init; }
    public TimeSpan Wait { get; init; }

    /// <summary><c>guest = cdia</c> with <c>expect</c>: what it must return (<see cref="AckExpected"/> null: <c>none</c>).</summary>
    public bool ChecksAck { get; init; }
    public IntId? AckExpected { get; init; }
    /// <summary><c>guest = mmio-read</c> with <c>expect</c>: the value it must read.</summary>
    public ulong? ReadExpected { get; init; }
    /// <summary><c>expect = { ... }</c>: checked once the step has settled.</summary>
    public Expectation? Check { get; init; }

    /// <summary>"step 3 (line 42)", as every message names a step.</summary>
    public string Where => Line is { } l ? $"step {Index} (line {l})" : $"step {Index}";
}

/// <summary>An interrupt's state as <c>"spi:5" = { ... }</c> expects it; null members are not compared.</summary>
public sealed record EntryExpectation(bool? Pending, bool? Active, bool? Enabled, int? Priority, int? Target, HandlingMode? Mode);

/// <summary>A vCPU's CPU interface as <c>vcpu-N = { ... }</c> expects it; null members are not compared.</summary>
public sealed record CpuExpectation(bool? Resident, bool? DoorbellRequested, bool? DbFired, int? RunningPriority, ulong? Apr, int? Pcr, int? Dbpm);

/// <summary>
/// <c>expect = { ... }</c>: every key optional, each compared exactly with the state its owner holds after the step
/// settled, or with the VM's events since the start.
/// </summary>
public sealed record Expectation(
    IReadOnlyList<(IntId Id, EntryExpectation State)> Entries,
    IReadOnlyList<IntId>? ApList,
    IReadOnlyList<(int Vcpu, CpuExpectation State)> Cpus,
    IReadOnlyList<(Ev Ev, long Count)> Counts,
    IReadOnlyList<(IntId Id, Ev Ev, long Count)> CountsOf,
    string? Error);

/// <summary>A scenario's steps and whether the end-of-run checks apply (<c>check-end</c>, default true).</summary>
public sealed record DirectedScenario(IReadOnlyList<Step> Steps, bool CheckEnd)
{
    /// <summary>The VM a directed scenario builds (DESIGN.md §6.4): nothing acts by itself. Rates (guest reprogramming
    /// and IPIs, vCPU exits, host preemption, device rates), budgets and the migrate schedule are not used: only the
    /// steps act.</summary>
    public static Fabric.Hardware.Protocol.VmSpec Shape(DirectedScenario? directed, Fabric.Hardware.Protocol.VmSpec vm) => directed is null ? vm : vm with
    {
        Directed = true,
        Guest = vm.Guest with { ReprogramPerSecond = 0, IpiPerSecond = 0 },
        Vcpu = vm.Vcpu with { ExitsPerSecond = 0 },
        Host = vm.Host with { PreemptPerSecond = 0 },
        Devices = [.. vm.Devices.Select(d => d with { Rate = 0 })],
        InjectionsPerDevice = long.MaxValue,
        Migration = null,
    };
}
