using System.Globalization;

namespace Fabric.Host.Scenarios;

/// <summary>
/// How much memory a scenario's fabric needs once built, from the bytes measured per VM (Fabric.Bench's memory
/// section, issue 15, after the sparse PPI table and the units' own timers: 14,914 bytes for a VM of 4 vCPUs, 64 SPIs
/// and one device at 10,000 VMs), split by what a VM is made of: 4 actors per VM (the VM, its IRS slice, AP list and host scheduler) with
/// their state, a PE actor per vCPU (its VPE with the CPU interface and PPI table, and its guest), an IST entry and
/// AP-list slot per SPI, an actor per device. The split errs a little high (15,360 bytes for the measured VM). A scenario that would need more than
/// the limit (<c>max-memory</c>, by default half of the memory this process may use: the rest is the event stream, the
/// checker and the garbage collector's headroom) is refused before anything is built, with the estimate and the limit.
/// </summary>
public static class MemoryEstimate
{
    public const long PerVm = 3_400, PerVcpu = 2_000, PerSpi = 40, PerDevice = 1_400;

    /// <summary>Bytes the built fabric holds.</summary>
    public static long Bytes(long vms, long vcpusPerVm, long spisPerVm, long devicesPerVm) =>
        vms * (PerVm + vcpusPerVm * PerVcpu + spisPerVm * PerSpi + devicesPerVm * PerDevice);

    /// <summary>The default limit: half of what the GC says this process may use (the machine's memory, or a
    /// container's limit).</summary>
    public static long DefaultLimit() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;

    /// <summary>A size as HOCON writes it: 512MiB, 20GiB, 3GB, 1000000 (bytes).</summary>
    public static bool TryParseSize(string raw, out long bytes)
    {
        bytes = 0;
        var text = raw.Trim();
        var i = 0;
        while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
        if (i == 0 || !double.TryParse(text[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
        double? unit = text[i..].Trim() switch
        {
            "" or "B" or "b" => 1,
            "K" or "KiB" or "k" => 1L << 10,
            "KB" or "kB" => 1e3,
            "M" or "MiB" or "m" => 1L << 20,
            "MB" => 1e6,
            "G" or "GiB" or "g" => 1L << 30,
            "GB" => 1e9,
            "T" or "TiB" or "t" => 1L << 40,
            "TB" => 1e12,
            _ => null,
        };
        if (unit is not { } u || n * u > long.MaxValue / 2.0 || n * u < 1) return false;
        bytes = (long)(n * u);
        return true;
    }

    /// <summary>1.5 GiB, 300 MiB: for messages.</summary>
    public static string Show(long bytes) =>
        bytes >= 1L << 30 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB");
}
