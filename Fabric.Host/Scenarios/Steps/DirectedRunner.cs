using Fabric.Hardware.Protocol;
using System.Globalization;
using Akka.Actor;
using Fabric.Actors;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Spectre.Console;
using static Fabric.Actors.Protocols.DirectedProtocol;

namespace Fabric.Host.Scenarios.Steps;

public enum StepStatus { Passed, Failed, NotRun }

/// <summary>What became of one step; <paramref name="Message"/> says why it failed (expected and actual).</summary>
public sealed record StepResult(Step Step, StepStatus Status, string? Message = null);

/// <summary>Every step's result, in order: the run stops at the first failure, and the steps after it are not run;
/// <paramref name="Stopped"/>: a shutdown request (Ctrl-C, SIGTERM) stopped it between two steps, and the steps after
/// that are not run either.</summary>
public sealed record DirectedOutcome(IReadOnlyList<StepResult> Steps, bool Stopped = false)
{
    public StepResult? Failure => Steps.FirstOrDefault(s => s.Status == StepStatus.Failed);
    public bool Passed => Failure is null;
}

/// <summary>
/// Runs a directed scenario's steps (DESIGN.md §6.4) on the actor fabric, in order: the one interpreter of the steps,
/// whichever schedule runs the fabric. Each operation is a message to the actor that owns what it acts on — a line to the
/// AP list (KVM's injection entry), an irqfd write to its device, a CD* instruction to the IRS slice or (a PPI's) VPE,
/// CDIA and PCR to the VPE, a vCPU's state, exit and handler loop to the vCPU, a move to the VM — sent with the
/// schedule's <see cref="StepInbox"/> as the sender, so refusals and results come back. After each step the fabric
/// settles, as <paramref name="schedule"/> does it: <see cref="ThreadedSteps"/> on the threaded fabric (quiescence
/// rounds), <see cref="LoopSteps"/> on the deterministic schedule (the loop with nothing ready). Expectations then read
/// the state from its owners (<see cref="ReadEntry"/>, <see cref="ReadCpu"/>, <see cref="ReadApList"/>) and the VM's
/// events from the log; the invariant checker sees every event as it is pumped, and the first step after which it found
/// a violation fails.
/// </summary>
public sealed class DirectedRunner(Scenario scenario, FabricRuntime fabric, IStepSchedule schedule, EventPump pump, InvariantChecker checker, StepEventCounts counts,
    IAnsiConsole console)
{
    /// <summary>How long an answer may take (a move, a state read): far beyond any step on a loaded machine.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectedScenario _directed = scenario.Directed ?? throw new ArgumentException("not a directed scenario", nameof(scenario));
    private StepInbox Inbox => schedule.Inbox;

    /// <summary>Runs the steps in order until one fails, or <paramref name="stop"/> (a shutdown request) is seen between
    /// two steps; a step under way runs to its end and settles, so the fabric is left as after a step.</summary>
    public async Task<DirectedOutcome> RunAsync(CancellationToken stop = default)
    {
        foreach (var vm in fabric.Vms) vm.Devices.ForEach(d => d.Tell(DeviceProtocol.Attach.Instance, Inbox.Ref));
        await schedule.SettleAsync().ConfigureAwait(false);
        var results = new List<StepResult>();
        var steps = _directed.Steps;
        string? owed = null;   // the previous step's refusal, which this step must expect
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (stop.IsCancellationRequested) return Stopped(i, step.Where);
            string? failure;
            try
            {
                failure = await RunStepAsync(step, i + 1 < steps.Count ? steps[i + 1] : null, owed).ConfigureAwait(false);
            }
            catch (TimeoutException) when (stop.IsCancellationRequested)
            {
                return Stopped(i, step.Where + " completed");   // the stopping fabric did not answer the step in flight
            }
            catch (TimeoutException e)
            {
                failure = $"expected the fabric to answer and settle, actual: {e.Message}";
            }
            // I1-I8 hold throughout: the first step after which the checker saw a violation fails.
            if (failure is null && checker.Violations.Count > 0) failure = $"expected I1-I8 to hold, actual: {checker.Violations[0]}";
            owed = failure is null && step.Op != StepOp.Expect ? _refusal : null;
            if (failure is not null)
            {
                results.Add(new StepResult(step, StepStatus.Failed, failure));
                console.MarkupLine($"  [red]FAIL[/] {Markup.Escape(step.Where)}: {Markup.Escape(step.Text)}");
                foreach (var part in failure.Split("; ")) console.MarkupLine($"       {Markup.Escape(part)}");
                results.AddRange(steps.Skip(i + 1).Select(s => new StepResult(s, StepStatus.NotRun)));
                break;
            }
            results.Add(new StepResult(step, StepStatus.Passed));
            console.MarkupLine($"  ok   {Markup.Escape(step.Where)}: {Markup.Escape(step.Text)}");
        }
        return new DirectedOutcome(results);

        // A shutdown request: step i and those after it are not run.
        DirectedOutcome Stopped(int i, string before)
        {
            console.MarkupLine(Markup.Escape($"  stopped by a shutdown request before {before}: {steps.Count - i} of {steps.Count} steps not run"));
            results.AddRange(steps.Skip(i).Select(s => new StepResult(s, StepStatus.NotRun)));
            return new DirectedOutcome(results, Stopped: true);
        }
    }

    private string? _refusal;

    /// <summary>Runs one step and checks it; returns why it failed, or null. <paramref name="owed"/>: the refusal of the
    /// step before, which only an <c>expect = { error = ... }</c> step may follow.</summary>
    private async Task<string?> RunStepAsync(Step step, Step? next, string? owed)
    {
        _refusal = null;
        if (step.Op == StepOp.Expect)
        {
            pump.PumpAll();
            return await CheckAsync(step, step.Check!, owed, errorOfPrevious: true).ConfigureAwait(false);
        }
        var (refusal, reply) = await ExecuteAsync(step).ConfigureAwait(false);
        pump.PumpAll();
        _refusal = refusal;
        if (step.Check is { } check)
        {
            if (check.Error is null && refusal is not null) return $"expected the step to be accepted, actual: refused: {refusal}";
            if (await CheckAsync(step, check, refusal, errorOfPrevious: false).ConfigureAwait(false) is { } bad) return bad;
            _refusal = null;   // expected here
        }
        else if (refusal is not null && next is not { Op: StepOp.Expect, Check.Error: not null })
            return $"expected the step to be accepted (or an expect = {{ error = \"...\" }} step after it), actual: refused: {refusal}";
        if (refusal is not null) return null;
        if (step.ChecksAck)
        {
            var got = (reply as CpuInterfaceProtocol.CdiaResult)?.Id;
            if (got != step.AckExpected) return $"expected CDIA to return {Show(step.AckExpected)}, actual {Show(got)}";
        }
        if (step.ReadExpected is { } value && reply is IrsProtocol.MmioDone done && done.Result.Value != value)
            return $"expected {step.Register!.Name} to read 0x{value:X}, actual 0x{done.Result.Value:X}";
        return null;
    }

    private static string Show(IntId? id) => id is { } i ? i.ToString() : "none";

    /// <summary>Sends the step's operation to the actor that owns what it acts on, lets the fabric settle, and returns
    /// the refusal (null: accepted) and the step's answer (a CDIA result, an MMIO access).</summary>
    private async Task<(string? Refusal, object? Reply)> ExecuteAsync(Step s)
    {
        if (IFabric.MissingVm(Name(s), s.Vm, fabric.VmCount) is { } noVm) return (noVm, null);
        var vm = fabric.Vms[s.Vm];
        var spec = scenario.Vm;
        if (UsesVcpu(s) && (s.Vcpu < 0 || s.Vcpu >= vm.Vcpus.Length))
            return ($"{Name(s)}: vCPU {s.Vcpu} does not exist (0..{vm.Vcpus.Length - 1})", null);
        var me = Inbox.Ref;
        IActorRef Vpe() => vm.Vpes[s.Vcpu];
        IActorRef Vcpu() => vm.Vcpus[s.Vcpu];
        var ppi = s.Id.IsPpi;
        switch (s.Op)
        {
            case StepOp.Line:
                if (ppi && KvmPpis.UserspaceRefusal(s.Id) is { } notUserspace) return ($"KVM_IRQ_LINE: {notUserspace}", null);
                // The device model's trigger, as an irqfd logs it: an edge's rising half (a level line's assertions are
                // the AP list's; the line's state is KVM's, which the expectations read).
                if (s.On && ProgrammedMode(s.Id) == HandlingMode.Edge && (ppi || s.Id.Id < (uint)spec.Spis))
                    fabric.Log.Log(Ev.Inject, s.Vm, ppi ? s.Vcpu : null, s.Id, "edge");
                if (!ppi) vm.ApList.Tell(new ApListProtocol.SetIrq(s.Id.Id, s.On), me);
                else if (s.On) Vpe().Tell(new CpuInterfaceProtocol.PpiOp(s.Id, PpiOperation.Pend, 1), me);
                await schedule.SettleAsync().ConfigureAwait(false);
                // KVM_IRQ_LINE fails with EINVAL for what kvm_vgic_inject_irq refuses (an SPI beyond the VM's).
                return (Refusals() is { } line ? "KVM_IRQ_LINE: EINVAL: " + line : null, null);
            case StepOp.Irqfd:
                var device = spec.Devices.Select((d, i) => (d, i)).First(x => x.d.Ids.Contains(s.Id)).i;
                vm.Devices[device].Tell(new DeviceProtocol.Write(s.Id), me);
                break;
            case StepOp.Cdia:
                Vpe().Tell(CpuInterfaceProtocol.Cdia.Instance, me);
                var result = await schedule.AnswerAsync<CpuInterfaceProtocol.CdiaResult>(_ => true).ConfigureAwait(false);
                await schedule.SettleAsync().ConfigureAwait(false);
                // CDIA with nothing to take returns VALID=0: a refusal, unless the step expects none.
                var others = Refusals();
                return (result.Id is null && !s.ChecksAck ? "CDIA: nothing to acknowledge (VALID=0: no interrupt signals to this vCPU)" : others, result);
            case StepOp.Cdeoi:
                Vpe().Tell(CpuInterfaceProtocol.Cdeoi.Instance, me);
                break;
            case StepOp.Cddi:
                if (ppi) Vpe().Tell(new CpuInterfaceProtocol.PpiOp(s.Id, PpiOperation.Deactivate, 0), me);
                else vm.Virs.Tell(new IrsProtocol.Cddi(s.Id, s.Vcpu), me);
                break;
            case StepOp.Cden or StepOp.Cddis:
                var on = s.Op == StepOp.Cden;
                if (ppi) Vpe().Tell(new CpuInterfaceProtocol.PpiOp(s.Id, PpiOperation.Enable, on ? 1 : 0), me);
                else vm.Virs.Tell(new IrsProtocol.CdEnable(s.Id, on), me);
                break;
            case StepOp.Cdpri:
                var priority = (int)Math.Clamp(s.Value, int.MinValue, int.MaxValue);
                if (ppi) Vpe().Tell(new CpuInterfaceProtocol.PpiOp(s.Id, PpiOperation.Priority, priority), me);
                else vm.Virs.Tell(new IrsProtocol.CdPriority(s.Id, priority), me);
                break;
            case StepOp.Cdaff:
                vm.Virs.Tell(new IrsProtocol.CdAffinity(s.Id, (int)Math.Clamp(s.Value, int.MinValue, int.MaxValue)), me);
                break;
            case StepOp.Cdpend:
                if (ppi) Vpe().Tell(new CpuInterfaceProtocol.PpiOp(s.Id, PpiOperation.Pend, s.On ? 1 : 0), me);
                else
                {
                    // An IPI: the guest's CDPEND of an LPI, logged as the vCPU's guest logs its IPIs.
                    if (s.On && s.Id.IsLpi) fabric.Log.Log(Ev.Inject, s.Vm, s.Vcpu, s.Id, "edge");
                    vm.Virs.Tell(new IrsProtocol.CdPend(s.Id, s.On), me);
                }
                break;
            case StepOp.Cdhm:
                vm.Virs.Tell(new IrsProtocol.CdHandlingMode(s.Id, s.Mode), me);
                break;
            case StepOp.Pcr:
                Vpe().Tell(new CpuInterfaceProtocol.SetPriorityMask((int)Math.Clamp(s.Value, int.MinValue, int.MaxValue)), me);
                break;
            case StepOp.Handle:
                Vcpu().Tell(VcpuProtocol.HandleAll.Instance, me);
                break;
            case StepOp.MmioRead or StepOp.MmioWrite:
                var r = s.Register!;
                vm.Virs.Tell(s.Op == StepOp.MmioRead ? new IrsProtocol.MmioRead(r.Offset, r.SizeBytes) : new IrsProtocol.MmioWrite(r.Offset, (ulong)s.Value, r.SizeBytes), me);
                var done = await schedule.AnswerAsync<IrsProtocol.MmioDone>(_ => true).ConfigureAwait(false);
                await schedule.SettleAsync().ConfigureAwait(false);
                var refused = done.Result.Ok ? Refusals() : $"{r.Name}: {done.Result.Refusal}";
                return (refused, done);
            case StepOp.VcpuState:
                Vcpu().Tell(new VcpuProtocol.SetVcpu(s.VcpuRun), me);
                break;
            case StepOp.Exit:
                Vcpu().Tell(VcpuProtocol.TrapExit.Instance, me);
                break;
            case StepOp.Migrate:
                fabric.Migrate(s.Vm, me);
                var moved = await schedule.AnswerAsync<object>(m => m is MigrationProtocol.Migrated or IrsProtocol.Refused { Operation: "migrate" }).ConfigureAwait(false);
                await schedule.SettleAsync().ConfigureAwait(false);
                return (moved is IrsProtocol.Refused no ? $"migrate: {no.Reason}" : Refusals(), moved);
            case StepOp.Wait:
                await schedule.WaitAsync(s.Wait).ConfigureAwait(false);
                break;
        }
        await schedule.SettleAsync().ConfigureAwait(false);
        return (Refusals(), null);
    }

    /// <summary>What the fabric refused during the step (every answer it sent back but the ones a step waits for).</summary>
    private string? Refusals()
    {
        var refused = Inbox.TakeAll().OfType<IrsProtocol.Refused>().Select(r => $"{r.Operation}: {r.Reason}").ToList();
        return refused.Count == 0 ? null : string.Join("; ", refused);
    }

    /// <summary>Every guest instruction comes from a vCPU, and a PPI belongs to one; a device, a move, a wait, an SPI's
    /// line and an expectation name none (an expectation of a PPI is checked against its vCPU when read).</summary>
    private static bool UsesVcpu(Step s) =>
        s.Op is not (StepOp.Irqfd or StepOp.Migrate or StepOp.Wait or StepOp.Expect) && !(s.Op == StepOp.Line && !s.Id.IsPpi);

    private static string Name(Step s) => s.Op switch
    {
        StepOp.Line => "KVM_IRQ_LINE",
        StepOp.VcpuState => "vcpu-state",
        _ => s.Op.ToString().ToLowerInvariant(),
    };

    /// <summary>The trigger mode the guest programmed for <paramref name="id"/> at boot (PPIs are edge).</summary>
    private HandlingMode ProgrammedMode(IntId id) =>
        id.IsPpi ? HandlingMode.Edge : scenario.Vm.Interrupts.FirstOrDefault(i => i.Ids.Contains(id))?.Mode ?? HandlingMode.Edge;

    /// <summary>Compares an expectation with the state its owners hold now and the VM's events; returns every mismatch,
    /// or null. <paramref name="refusal"/>: the refusal <c>error</c> is compared with — the step's own, or (an
    /// <c>expect</c> step, <paramref name="errorOfPrevious"/>) the step before's.</summary>
    private async Task<string?> CheckAsync(Step step, Expectation x, string? refusal, bool errorOfPrevious)
    {
        var bad = new List<string>();
        if (x.Error is { } error)
        {
            var whose = errorOfPrevious ? "the previous step" : "the step";
            if (refusal is null) bad.Add($"error: expected {whose} to be refused with \"{error}\", actual: it was accepted");
            else if (!refusal.Contains(error, StringComparison.OrdinalIgnoreCase)) bad.Add($"error: expected a refusal containing \"{error}\", actual: \"{refusal}\"");
        }
        if (IFabric.MissingVm("expect", step.Vm, fabric.VmCount) is { } noVm) return noVm;
        var vm = fabric.Vms[step.Vm];
        var me = Inbox.Ref;
        foreach (var (id, e) in x.Entries)
        {
            var key = $"\"{id}\"";
            var owner = id.IsPpi ? (step.Vcpu < vm.Vpes.Length ? vm.Vpes[step.Vcpu] : null) : vm.Virs;
            if (owner is null) { bad.Add($"{key}: expected a PPI of vCPU {step.Vcpu}, actual: no such vCPU (0..{vm.Vpes.Length - 1})"); continue; }
            owner.Tell(new ReadEntry(id), me);
            var read = await schedule.AnswerAsync<EntryRead>(r => r.Id == id).ConfigureAwait(false);
            if (read.Error is { } missing) { bad.Add($"{key}: expected an interrupt, actual: {missing}"); continue; }
            var en = read.Entry;
            Compare(bad, $"{key}.pending", e.Pending, en.Pending);
            Compare(bad, $"{key}.active", e.Active, en.Active);
            Compare(bad, $"{key}.enabled", e.Enabled, en.Enabled);
            Compare(bad, $"{key}.priority", e.Priority, en.Priority.Value);
            Compare(bad, $"{key}.target", e.Target, id.IsPpi ? step.Vcpu : en.Iaffid);
            Compare(bad, $"{key}.mode", e.Mode, en.HandlingMode);
        }
        if (x.ApList is { } expected)
        {
            vm.ApList.Tell(ReadApList.Instance, me);
            var list = await schedule.AnswerAsync<ApListRead>(_ => true).ConfigureAwait(false);
            var want = expected.Select(i => i.ToString()).Order().ToList();
            var have = list.Spis.Select(spi => IntId.Spi(spi).ToString()).Order().ToList();
            if (!want.SequenceEqual(have)) bad.Add($"ap-list: expected [{string.Join(", ", want)}], actual [{string.Join(", ", have)}]");
        }
        foreach (var (n, c) in x.Cpus)
        {
            if (n >= vm.Vpes.Length) { bad.Add($"vcpu-{n}: expected a vCPU, actual: VM {step.Vm} has vCPUs 0..{vm.Vpes.Length - 1}"); continue; }
            vm.Vpes[n].Tell(ReadCpu.Instance, me);
            var cpu = await schedule.AnswerAsync<CpuRead>(r => r.Vpe == n).ConfigureAwait(false);
            var key = $"vcpu-{n}";
            Compare(bad, $"{key}.resident", c.Resident, cpu.Resident);
            Compare(bad, $"{key}.doorbell-requested", c.DoorbellRequested, cpu.DoorbellRequested);
            Compare(bad, $"{key}.db-fired", c.DbFired, cpu.DbFired);
            Compare(bad, $"{key}.running-priority", c.RunningPriority, cpu.RunningPriority);
            if (c.Apr is { } apr && apr != cpu.Apr) bad.Add($"{key}.apr: expected 0x{apr:X}, actual 0x{cpu.Apr:X}");
            Compare(bad, $"{key}.pcr", c.Pcr, cpu.Pcr);
            Compare(bad, $"{key}.dbpm", c.Dbpm, cpu.DoorbellRequested ? cpu.Dbpm : null);
        }
        foreach (var (ev, n) in x.Counts)
            Compare<long>(bad, $"count.{FabricEvent.Name(ev)}", n, counts.Of(step.Vm, ev));
        foreach (var (id, ev, n) in x.CountsOf)
            Compare<long>(bad, $"count-of.\"{id}\".{FabricEvent.Name(ev)}", n, counts.Of(step.Vm, id, ev));
        return bad.Count == 0 ? null : string.Join("; ", bad);
    }

    private static void Compare<T>(List<string> bad, string what, T? expected, T? actual) where T : struct
    {
        if (expected is { } e && !EqualityComparer<T?>.Default.Equals(e, actual))
            bad.Add($"{what}: expected {Text(e)}, actual {(actual is { } a ? Text(a) : "none (no doorbell requested)")}");
    }

    private static string Text<T>(T value) => value switch
    {
        bool b => b ? "true" : "false",
        HandlingMode m => m == HandlingMode.Edge ? "edge" : "level",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "",
    };
}
