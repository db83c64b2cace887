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

    public SpiApList(int spiCount, NotifyPolicy notify)
    {
        _irqs = new KvmIrq[spiCount];
        _sent = new long[spiCount];
        _nodes = new LinkedListNode<uint>?[spiCount];
        Notify = notify;
    }

    public NotifyPolicy Notify { get; }
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
        var inj = KvmRules.Inject(_irqs[spi], level);
        if (!inj.Accepted) return (inj, 0);
        _irqs[spi] = inj.Irq;
        if (inj.Queued) _nodes[spi] = _order.AddLast(spi);
        return (inj, ++_sent[spi]);
    }

    /// <summary>One fold step (KVM's way) for an entry, given the ICSR VDRCFG read after the IRS had applied the
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
