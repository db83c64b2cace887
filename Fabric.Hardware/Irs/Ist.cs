// Placeholder: minimal linear IST until the full Ist (linear, two-level, save/restore) lands from the irs branch.
using Fabric.Hardware.Interrupts;
namespace Fabric.Hardware.Irs;
public sealed class Ist
{
    private readonly IstEntry[] e;
    private Ist(int n) { e = new IstEntry[n]; }
    public static Ist Linear(int entries, int isteSizeBytes = 4) => new(entries);
    public int Capacity => e.Length;
    public bool TryGet(uint id, out IstEntry entry, out string error)
    { if (id >= e.Length) { entry = default; error = "out of range"; return false; } entry = e[id]; error = ""; return true; }
    public bool TrySet(uint id, IstEntry entry, out string error)
    { if (id >= e.Length) { error = "out of range"; return false; } e[id] = entry; error = ""; return true; }
    public IstEntry this[uint id] { get => e[id]; set => e[id] = value; }
}
