using Fabric.Hardware.Protocol;
using System.Collections.Concurrent;
using System.Diagnostics;
using Fabric.Actors.Vm;

namespace Fabric.Bench.Baseline;

/// <summary>How the baseline's vCPUs get CPUs.</summary>
public enum BaselineThreading
{
    /// <summary>KVM's way: one thread per vCPU (and injector threads); the OS schedules them all.</summary>
    ThreadPerVcpu,
    /// <summary>Environment.ProcessorCount threads, each running its share of the vCPUs in turn (a put and an exit at
    /// every switch, as when a host CPU multiplexes vCPUs) and draining its share of the injectors' queues.</summary>
    ThreadsPerCore,
}

/// <summary>One baseline measurement.</summary>
public sealed record BaselineResult(int Vms, BaselineThreading Threading, int Threads, double Seconds, long Lifecycles, BaselineCounts Counts,
    bool Drained, double NotifyLatencyMicrosP50, double NotifyLatencyMicrosP99)
{
    public double LifecyclesPerSecond => Lifecycles / Seconds;
    public string? Failure => !Drained ? "did not drain" : Counts.Violations.Count > 0 ? string.Join("; ", Counts.Violations.Take(3)) : null;
    public string ThreadingName => Threading == BaselineThreading.ThreadPerVcpu ? "thread-per-vcpu" : "threads-per-core";
}

/// <summary>
/// Runs the lock-based baseline on a workload given as the same <see cref="VmSpec"/> the fabric is built from: the
/// irqfd side (one injector per device, on injector threads) writes one edge per SPI and one more each time the
/// SPI's notifier fires (<see cref="DeviceSpec.Window"/> edges in flight per SPI); each vCPU runs the guest's loop
/// (CDIA, CDEOI, CDDI each time its VPE asserts the virtual IRQ), and when idle enters WFI (a put with a doorbell request, the
/// exit's fold, then blocks until its doorbell) or, without WFI, exits once (the fold) and polls its line.
/// </summary>
public sealed class BaselineRun
{
    private sealed class Injector
    {
        public readonly ConcurrentQueue<(KvmVm Vm, uint Spi)> Queue = new();
        public readonly ManualResetEventSlim Signal = new(false, spinCount: 20);
        /// <summary>1 while this injector's one thread is between its check of the stop flag and the end of an injection.</summary>
        public int Busy;
    }

    private readonly VmSpec _spec;
    private readonly BaselineThreading _threading;
    private readonly KvmVm[] _vms;
    private readonly Injector[] _injectors;
    private readonly (KvmVm Vm, Fabric.Hardware.Interrupts.IntIdRange Ids, Injector Injector)[] _devices;
    private readonly bool _wfi;
    private volatile bool _done, _draining;
    private int _stopping;
    private readonly List<Thread> _threads = new();

    /// <summary>Lifecycles a multiplexed vCPU runs before its worker switches to the next one.</summary>
    public const int Slice = 16;

    public BaselineRun(int vms, VmSpec spec, BaselineThreading threading, int maxInjectorThreads, bool recordNotifyLatency = false)
    {
        if (spec.Vcpus > 32) throw new ArgumentOutOfRangeException(nameof(spec), "the baseline kicks vCPUs through a 32-bit mask: at most 32 vCPUs per VM");
        _spec = spec;
        _threading = threading;
        _wfi = spec.Vcpu.WfiWhenIdle;
        _vms = Enumerable.Range(0, vms).Select(v => new KvmVm(v, spec)).ToArray();
        var deviceCount = vms * spec.Devices.Count;
        _injectors = Enumerable.Range(0, Math.Max(1, Math.Min(deviceCount, maxInjectorThreads))).Select(_ => new Injector()).ToArray();
        _devices = new (KvmVm, Fabric.Hardware.Interrupts.IntIdRange, Injector)[deviceCount];
        var k = 0;
        foreach (var vm in _vms)
            foreach (var d in spec.Devices)
            {
                _devices[k] = (vm, d.Ids, _injectors[k % _injectors.Length]);
                k++;
            }
        var bySpi = new Dictionary<(KvmVm, uint), Injector>();
        foreach (var (vm, ids, inj) in _devices)
            foreach (var id in ids.All()) bySpi[(vm, id.Id)] = inj;
        var perVcpu = threading == BaselineThreading.ThreadPerVcpu;
        foreach (var vm in _vms)
        {
            var table = new Injector?[vm.Spis];
            foreach (var ((owner, spi), inj) in bySpi)
                if (owner == vm) table[spi] = inj;
            // kvm_notify_acked_irq → the irqfd's ack notifier: hand the SPI to its device's injector.
            vm.Notifier = (v, spi) =>
            {
                if (table[spi] is not { } inj) return;
                inj.Queue.Enqueue((v, spi));
                if (perVcpu) inj.Signal.Set();
            };
            if (recordNotifyLatency) vm.NotifyLatency = new HdrHistogram.LongHistogram(TimeSpan.FromSeconds(60).Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond, 3);
        }
    }

    public int Threads => _threads.Count;

    public long Lifecycles
    {
        get
        {
            long n = 0;
            foreach (var vm in _vms) n += vm.Deactivated;
            return n;
        }
    }

    /// <summary>Starts the threads and the devices' first writes.</summary>
    public void Start()
    {
        if (_threading == BaselineThreading.ThreadPerVcpu)
        {
            foreach (var vm in _vms)
                for (var v = 0; v < vm.Vcpus; v++)
                {
                    var (m, vpe) = (vm, v);
                    Spawn(() => VcpuThread(m, vpe), $"vcpu-{vm.VmId}-{v}");
                }
            foreach (var inj in _injectors) Spawn(() => InjectorThread(inj), "irqfd");
        }
        else
        {
            var workers = Environment.ProcessorCount;
            var vcpus = _vms.SelectMany(vm => Enumerable.Range(0, vm.Vcpus).Select(v => (vm, v))).ToArray();
            for (var w = 0; w < workers; w++)
            {
                var mine = vcpus.Where((_, i) => i % workers == w).Select(x => new MuxVcpu(x.vm, x.v)).ToArray();
                var injectors = _injectors.Where((_, i) => i % workers == w).ToArray();
                Spawn(() => Worker(mine, injectors), $"pcpu-{w}");
            }
        }
        // Each device writes its window of edges per SPI (the closed loop's first lifecycles).
        foreach (var (vm, ids, _) in _devices)
            for (var i = 0; i < _spec.Devices[0].Window; i++)
                foreach (var id in ids.All()) vm.Inject(id.Id, true);
    }

    private void Spawn(ThreadStart body, string name)
    {
        var t = new Thread(body, maxStackSize: 256 * 1024) { IsBackground = true, Name = name };
        _threads.Add(t);
        t.Start();
    }

    /// <summary>Stops the devices, waits for every VM to drain (nothing pending or active, AP list empty), stops the
    /// threads and checks the invariants.</summary>
    public (bool Drained, BaselineCounts Counts) StopAndCheck(TimeSpan timeout)
    {
        // Stop the devices: once every injector has seen the flag outside an injection, none will inject again
        // (each raises Busy with a full fence before it reads the flag; this writes the flag with a full fence before it
        // reads Busy), so a drained fabric stays drained.
        Interlocked.Exchange(ref _stopping, 1);
        foreach (var inj in _injectors) inj.Signal.Set();
        var deadline = Stopwatch.StartNew();
        foreach (var inj in _injectors)
            while (Volatile.Read(ref inj.Busy) != 0) Thread.Yield();
        // The drain. An SPI can be queued on the AP list after the fold that would have seen it consumed (the queue path
        // drops its irq_lock between VDPEND and list_add): KVM folds it at the next exit of any vCPU, so the drain kicks
        // every vCPU through an exit until nothing is left.
        _draining = true;
        var drained = false;
        while (deadline.Elapsed < timeout)
        {
            Thread.Sleep(5);
            if (_vms.All(vm => vm.Quiescent())) { drained = true; break; }
            foreach (var vm in _vms) vm.KickAll();
        }
        _done = true;
        foreach (var vm in _vms) vm.KickAll();
        foreach (var inj in _injectors) inj.Signal.Set();
        foreach (var t in _threads) t.Join();
        return (drained, BaselineCounts.Sum(_vms.Select(vm => vm.Check())));
    }

    public (double P50, double P99) NotifyLatencyMicros()
    {
        var all = new HdrHistogram.LongHistogram(TimeSpan.FromSeconds(60).Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond, 3);
        foreach (var vm in _vms)
            if (vm.NotifyLatency is { } h) all.Add(h);
        if (all.TotalCount == 0) return (0, 0);
        double Micros(double p) => all.GetValueAtPercentile(p) * 1e6 / Stopwatch.Frequency;
        return (Micros(50), Micros(99));
    }

    // ---- one thread per vCPU --------------------------------------------------------------------------------------------

    private void VcpuThread(KvmVm vm, int vpe)
    {
        vm.Load(vpe);
        while (!_done)
        {
            if (vm.TakeIrq(vpe))
            {
                Handle(vm, vpe);
                continue;
            }
            if (_wfi)
            {
                vm.Put(vpe, wfi: true);
                var wake = vm.WakeOf(vpe);
                while (!_done)
                {
                    wake.Reset();
                    if (vm.Woken(vpe)) break;
                    if (_draining) vm.Exit();
                    wake.Wait();
                }
                vm.Load(vpe);
            }
            else
            {
                vm.Exit();
                var spin = new SpinWait();
                while (!_done && !vm.IrqPending(vpe))
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    if (_draining && spin.Count % 64 == 0) vm.Exit();
                }
            }
        }
    }

    /// <summary>The guest's answer to its virtual IRQ: CDIA, and for what it acknowledged the handler (no time), CDEOI, CDDI.</summary>
    private static void Handle(KvmVm vm, int vpe)
    {
        if (vm.Cdia(vpe) is not { } id) return;
        vm.Cdeoi(vpe);
        vm.Cddi(vpe, id);
    }

    private void InjectorThread(Injector inj)
    {
        while (!_done)
        {
            Drain(inj);
            inj.Signal.Reset();
            if (inj.Queue.IsEmpty && !_done) inj.Signal.Wait();
        }
    }

    /// <summary>The irqfd writes of every notification queued for this injector (none once the devices are stopped).</summary>
    private void Drain(Injector inj)
    {
        while (inj.Queue.TryDequeue(out var w))
        {
            Interlocked.Exchange(ref inj.Busy, 1);
            if (Volatile.Read(ref _stopping) == 0) w.Vm.Inject(w.Spi, true);
            Volatile.Write(ref inj.Busy, 0);
        }
    }

    // ---- threads = cores --------------------------------------------------------------------------------------------------

    private sealed class MuxVcpu(KvmVm vm, int vpe)
    {
        public readonly KvmVm Vm = vm;
        public readonly int Vpe = vpe;
        public bool InWfi;
    }

    private void Worker(MuxVcpu[] vcpus, Injector[] injectors)
    {
        while (!_done)
        {
            foreach (var x in vcpus)
            {
                if (x.InWfi)
                {
                    if (!x.Vm.Woken(x.Vpe))
                    {
                        if (_draining) x.Vm.Exit();
                        continue;
                    }
                    x.InWfi = false;
                }
                x.Vm.Load(x.Vpe);
                for (var n = 0; n < Slice && x.Vm.TakeIrq(x.Vpe); n++) Handle(x.Vm, x.Vpe);
                // Switch to the next vCPU: a put (with a doorbell request when this one is idle and uses WFI) and the exit's fold.
                var idle = !x.Vm.IrqPending(x.Vpe);
                x.Vm.Put(x.Vpe, wfi: idle && _wfi);
                x.InWfi = idle && _wfi;
            }
            foreach (var inj in injectors) Drain(inj);
        }
    }

    /// <summary>Runs the baseline: start, warm up, measure lifecycles over <paramref name="measure"/>, stop, drain, check.</summary>
    public static BaselineResult Measure(int vms, VmSpec spec, BaselineThreading threading, int maxInjectorThreads, TimeSpan warmup, TimeSpan measure, bool recordNotifyLatency = false)
    {
        var run = new BaselineRun(vms, spec, threading, maxInjectorThreads, recordNotifyLatency);
        run.Start();
        Thread.Sleep(warmup);
        var l0 = run.Lifecycles;
        var t0 = Stopwatch.GetTimestamp();
        Thread.Sleep(measure);
        var l1 = run.Lifecycles;
        var seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var (drained, counts) = run.StopAndCheck(TimeSpan.FromSeconds(60));
        var (p50, p99) = run.NotifyLatencyMicros();
        return new BaselineResult(vms, threading, run.Threads, seconds, l1 - l0, counts, drained, p50, p99);
    }
}
