using Fabric.Hardware.Protocol;
using Akka.Actor;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using static Fabric.Hardware.Protocol.ResidencyProtocol;

namespace Fabric.Actors.Drivers;

/// <summary>The scheduler's own state, kept across a restart: which vCPUs it has preempted (they must be resumed) and
/// whether it still preempts.</summary>
public sealed class SchedulerState
{
    public readonly HashSet<int> Preempted = new();
    public bool Stopped;
    /// <summary>Messages processed, for the quiescence question of a directed run.</summary>
    public long Processed;
    /// <summary>What the scheduler sent to vCPUs while the VM moved, to be delivered after.</summary>
    public readonly HeldMessages Held = new();
}

/// <summary>
/// The host's side of one VM's vCPUs: the doorbell handler (the VM's "GICv5-vpe-db" irq domain: db_fired is set by
/// the VPE, and this kicks the vCPU) and the scheduler that preempts vCPUs at the scenario's rate and resumes them.
/// One per VM, so that no doorbell crosses anything global.
/// </summary>
public sealed class HostSchedulerActor : UntypedActor, IWithTimers
{
    private sealed record PreemptTick : ILocalMessage
    {
        public static readonly PreemptTick Instance = new();
    }
    private sealed record ResumeVcpu(int Vpe) : ILocalMessage;

    private readonly VmTopology _vm;
    private readonly HostSpec _spec;
    private readonly SchedulerState _s;
    private readonly int _seed;
    private Random? _rng;

    public HostSchedulerActor(VmTopology vm, HostSpec spec, SchedulerState state, long seed)
    {
        _vm = vm;
        _spec = spec;
        _s = state;
        _seed = unchecked((int)(seed * 31 + vm.VmId));
    }

    /// <summary>Which vCPU to preempt: made at the first preemption (the same stream as if made here), since a Random
    /// keeps a 56-int table and most scenarios never preempt.</summary>
    private Random Rng => _rng ??= new Random(_seed);

    /// <summary>How many preemptions each tick serves, for rates above one per timer tick.</summary>
    private Pacer? _pace;

    public static Props Props(VmTopology vm, HostSpec spec, SchedulerState state, long seed) =>
        DirectProps.Of((vm, spec, state, seed), static a => new HostSchedulerActor(a.vm, a.spec, a.state, a.seed));

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Starts preempting; and a scheduler that lost its resume timers — restarted, or taking over a VM from
    /// another node — re-arms one for every vCPU it had preempted.</summary>
    protected override void PreStart()
    {
        if (_spec.PreemptPerSecond > 0 && !_s.Stopped)
            _pace = Timers.StartPaced(Context.System.Scheduler, "preempt", PreemptTick.Instance, _spec.PreemptPerSecond);
        foreach (var v in _s.Preempted) ArmResume(v);
    }

    protected override void PostRestart(Exception reason) => PreStart();

    private void ArmResume(int vpe) =>
        Timers.StartSingleTimer(("resume", vpe), new ResumeVcpu(vpe), _spec.PreemptFor ?? TimeSpan.FromMilliseconds(1));

    /// <summary>Preempts a random vCPU (one already preempted stays as it is).</summary>
    private void PreemptOne()
    {
        var vpe = Rng.Next(_vm.Vcpus.Length);
        if (!_s.Preempted.Add(vpe)) return;
        Send(vpe, Preempt.Instance);
        ArmResume(vpe);
    }

    private void Send(int vcpu, object message) => _s.Held.Send(_vm, VmPort.Vcpu, vcpu, message, Self);

    protected override void OnReceive(object message)
    {
        if (message is Protocols.MigrationProtocol.Quiesce q) { Protocols.DirectedProtocol.AnswerQuiesce(q, _s.Processed, Sender); return; }
        _s.Processed++;
        switch (message)
        {
            case Doorbell d:
                Send(d.Vpe, Wake.Instance);
                break;
            case Kick k:
                Send(k.Vpe, Wake.Instance);
                break;
            case PreemptTick:
                for (var n = Pacer.Due(_pace); n > 0; n--) PreemptOne();
                break;
            case Fabric.Hardware.Protocol.DeviceProtocol.Stop:
                _s.Stopped = true;
                Timers.Cancel("preempt");
                break;
            case ResumeVcpu r:
                if (_s.Preempted.Remove(r.Vpe)) Send(r.Vpe, Resume.Instance);
                break;
            case Protocols.MigrationProtocol.Hold:
                _s.Held.Hold();
                Sender.Tell(Protocols.MigrationProtocol.Held.Instance);
                break;
            case Protocols.MigrationProtocol.Release:
                _s.Held.Release(_vm, Self);
                break;
            case Protocols.MigrationProtocol.Freeze:
                Timers.CancelAll();
                Sender.Tell(new Protocols.MigrationProtocol.Frozen(_s));
                Become(_ => { });
                break;
            case Fabric.Hardware.Protocol.IrsProtocol.Crash:
                throw new InvalidOperationException($"vm-{_vm.VmId}/scheduler: crash requested");
            default:
                Unhandled(message);
                break;
        }
    }
}
