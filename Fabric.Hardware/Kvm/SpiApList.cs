using Fabric.Hardware.Interrupts;

namespace Fabric.Hardware.Kvm;

/// <summary>
/// The seed's per-VM SPI AP list (patch 28, SEMANTICS.md §3.2) without its lock: KVM's <see cref="KvmIrq"/> of every
/// SPI, and the in-flight ones in list order (list_add_tail). Each injection is stamped with a per-SPI sequence
/// number, so that a report from the IRS about state read before that injection arrived cannot take the SPI off
/// the list while its VDPEND is still in flight. Mutable: owned by exactly one SpiApListActor.
/// </summary>
public sealed class SpiApList
{
    private readonly KvmIrq[] _irqs;
    private readonly long[] _sent;
    private readonly LinkedList<uint> _order = new();
    private readonly LinkedListNode<uint>?[] _nodes;

    /// <param name="spiCount">The VM's SPIs (spi:0 to spi:spiCount-1).</param>
    /// <param name="notify">When a consumption notifies (the named policy of SEMANTICS.md §3.2).</param>
    /// <param name="design">Under <see cref="KvmDesign.Merged"/> this is KVM's per-SPI bookkeeping only: nothing is ever
    /// queued, so the list stays empty and no fold or report notifies.</param>
    public SpiApList(int spiCount, NotifyPolicy notify, KvmDesign design = KvmDesign.ApList)
    {
        _irqs = new KvmIrq[spiCount];
        _sent = new long[spiCount];
        _nodes = new LinkedListNode<uint>?[spiCount];
        Notify = notify;
        Design = design;
    }

    /// <summary>A list rebuilt from saved bookkeeping (migration): every SPI's <see cref="KvmIrq"/>, and the tracked SPIs in
    /// list order — exactly those with OnApList, each once. A saved VM has no VDPEND in flight, so every
    /// <see cref="LastSent"/> starts at 0, as a new IRS's applied sequence numbers do. Refused with the reason otherwise.</summary>
    public static bool TryRestore(NotifyPolicy notify, IReadOnlyList<KvmIrq> irqs, IReadOnlyList<uint> order,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SpiApList? list, out string error, KvmDesign design = KvmDesign.ApList)
    {
        list = null;
        if (!KvmDesignRules.Tracks(design) && order.Count > 0) { error = $"the merged design keeps no SPI AP list, but {order.Count} entries were saved"; return false; }
        var seen = new bool[irqs.Count];
        foreach (var spi in order)
        {
            if (spi >= (uint)irqs.Count) { error = $"AP list entry spi:{spi} is beyond this VM's {irqs.Count} SPIs"; return false; }
            if (seen[spi]) { error = $"AP list holds spi:{spi} twice"; return false; }
            if (!irqs[(int)spi].OnApList) { error = $"AP list holds spi:{spi} but its irq->vcpu is NULL (OnApList=0)"; return false; }
            seen[spi] = true;
        }
        for (var i = 0; i < irqs.Count; i++)
            if (irqs[i].OnApList && !seen[i]) { error = $"spi:{i} has OnApList=1 but is not on the AP list"; return false; }
        var restored = new SpiApList(irqs.Count, notify, design);
        for (var i = 0; i < irqs.Count; i++) restored._irqs[i] = irqs[i];
        foreach (var spi in order) restored._nodes[spi] = restored._order.AddLast(spi);
        list = restored;
        error = "";
        return true;
    }

    public NotifyPolicy Notify { get; }
    public KvmDesign Design { get; }
    public int SpiCount => _irqs.Length;
    public int Count => _order.Count;
    public KvmIrq this[uint spi] => _irqs[spi];
    /// <summary>The tracked SPIs in list order.</summary>
    public IEnumerable<uint> Entries => _order;
    /// <summary>The sequence number of the last VDPEND issued for <paramref name="spi"/> (0 = none yet).</summary>
    public long LastSent(uint spi) => _sent[spi];

    public string? Validate(uint spi) => spi < _irqs.Length ? null : $"spi:{spi} is beyond this VM's {_irqs.Length} SPIs";

    /// <summary>KVM records the trigger mode the guest configured (IRS_SPI_CFGR.TM) as irq->config — S4.</summary>
    public void Configure(uint spi, HandlingMode tm) => _irqs[spi] = _irqs[spi] with { Config = tm };

    /// <summary>kvm_vgic_inject_irq for an SPI: <see cref="KvmRules.Inject"/>, then list_add_tail if newly queued.
    /// Returns the injection and the sequence number its VDPEND carries.</summary>
    public (Injection Injection, long Seq) Inject(uint spi, bool level)
    {
        var inj = KvmRules.Inject(_irqs[spi], level, Design);
        if (!inj.Accepted) return (inj, 0);
        _irqs[spi] = inj.Irq;
        if (inj.Queued) _nodes[spi] = _order.AddLast(spi);
        return (inj, ++_sent[spi]);
    }

    /// <summary>One fold step (the seed's design, v1-v3) for an entry, given the ICSR VDRCFG read after the IRS had applied the
    /// VDPEND numbered <paramref name="appliedSeq"/>.</summary>
    public FoldStep Fold(uint spi, Icsr icsr, long appliedSeq) =>
        Commit(spi, KvmRules.Fold(_irqs[spi], icsr, Notify, appliedSeq < _sent[spi]));

    /// <summary>A push report from the IRS (deactivation or return to idle) for an SPI.</summary>
    public FoldStep Pushed(uint spi, Icsr icsr, bool deactivated, long appliedSeq)
    {
        if (!_irqs[spi].OnApList) return new FoldStep(_irqs[spi], false, false);
        return Commit(spi, KvmRules.Pushed(_irqs[spi], icsr, deactivated, Notify, appliedSeq < _sent[spi]));
    }

    private FoldStep Commit(uint spi, FoldStep step)
    {
        _irqs[spi] = step.Irq;
        if (step.Untrack && _nodes[spi] is { } node)
        {
            _order.Remove(node);
            _nodes[spi] = null;
        }
        return step;
    }
}
