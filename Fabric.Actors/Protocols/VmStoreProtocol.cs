namespace Fabric.Actors.Protocols;

/// <summary>What a VM keeps in the cluster's store: its snapshot at a handoff, or the marker it leaves while it runs.</summary>
public static class VmStoreProtocol
{
    /// <summary>Store VM <paramref name="VmId"/>'s encoded <see cref="Fabric.Actors.Vm.VmSnapshot"/>; answered with <see cref="Stored"/> or <see cref="StoreFailed"/>.</summary>
    public sealed record Put(int VmId, byte[] Snapshot, long Tag = 0) : ILocalMessage;
    /// <summary>The write tagged <paramref name="Tag"/> reached a majority.</summary>
    public sealed record Stored(int VmId, long Tag = 0) : ILocalMessage;
    public sealed record StoreFailed(int VmId, string Reason, long Tag = 0) : ILocalMessage;
    /// <summary>Read VM <paramref name="VmId"/>'s last snapshot; answered with <see cref="Found"/> (null: never stored) or <see cref="StoreFailed"/>.</summary>
    public sealed record Get(int VmId) : ILocalMessage;
    public sealed record Found(int VmId, byte[]? Snapshot) : ILocalMessage;
}
