using Fabric.Hardware.Deterministic;
using Fabric.Hardware.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Vm;

namespace Fabric.Actors.Deterministic;

/// <summary>
/// A fabric on the deterministic schedule (DESIGN.md §6.5): an actor system of its own with virtual time, the VMs built
/// and run by a <see cref="DeterministicLoop"/> on the caller's thread, and an event log stamped with virtual time. The
/// same VMs, spec (seed included), strategy and calls give the same event log byte for byte. Not thread-safe: one thread
/// makes it, drives it and disposes it.
/// </summary>
public sealed class DeterministicRun : IDeterministicRun
{
    private DeterministicRun(ActorSystem system, DeterministicLoop loop, EventLog log, FabricRuntime fabric)
    {
        System = system;
        Loop = loop;
        Log = log;
        Fabric = fabric;
    }

    public ActorSystem System { get; }
    public DeterministicLoop Loop { get; }
    public EventLog Log { get; }
    public FabricRuntime Fabric { get; }

    IFabric IDeterministicRun.Fabric => Fabric;

    public string Interpreter => "actors";

    public long Steps => Loop.Steps;

    public bool Idle => Loop.Idle;

    /// <summary>Virtual time since the system started.</summary>
    public TimeSpan Now => Loop.Scheduler.Now;

    /// <summary>Builds <paramref name="vms"/> VMs of <paramref name="spec"/> on a fresh deterministic system whose delivery
    /// order is chosen by <paramref name="seed"/> and <paramref name="strategy"/>; <paramref name="akka"/> adds Akka
    /// settings (logging). <paramref name="log"/> makes the event log (stamped with <see cref="VirtualScheduler.Now"/>);
    /// by default one is made here.</summary>
    public static DeterministicRun Start(int vms, VmSpec spec, long seed, ScheduleStrategy strategy = ScheduleStrategy.Random, Config? akka = null,
        bool record = true, Func<VirtualScheduler, EventLog>? log = null)
    {
        var config = DeterministicLoop.SystemConfig()
            .WithFallback(akka ?? ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = OFF\nakka.log-dead-letters = off"));
        var system = ActorSystem.Create("fabric-deterministic", config);
        var loop = new DeterministicLoop(system, seed, strategy);
        try
        {
            var events = log?.Invoke(loop.Scheduler) ?? new EventLog(record, clock: () => loop.Scheduler.Now);
            var fabric = FabricRuntime.BuildOn(loop, system, vms, spec, events);
            return new DeterministicRun(system, loop, events, fabric);
        }
        catch
        {
            loop.RunUntilCompleted(system.Terminate(), TimeSpan.FromSeconds(30));
            throw;
        }
    }

    /// <summary>Runs until <paramref name="done"/> holds, virtual time reaches <paramref name="until"/> or nothing is left
    /// to do.</summary>
    public bool RunUntil(Func<bool> done, TimeSpan until) => Loop.RunUntil(done, until);

    /// <summary>Stops the actor system, running the loop for the fabric's actors while it stops.</summary>
    public void Dispose()
    {
        var terminated = System.Terminate();
        Loop.RunUntilCompleted(terminated, TimeSpan.FromSeconds(30));
    }
}
