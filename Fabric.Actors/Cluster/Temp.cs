namespace Fabric.Actors.Cluster;
public static class ClusterConfig { public static readonly Akka.Configuration.Config Serialization = Akka.Configuration.Config.Empty; }
public static class VmSnapshotCodec
{
    public static byte[] Encode(Fabric.Actors.Vm.VmSnapshot s) => throw new NotImplementedException();
    public static Fabric.Actors.Vm.VmSnapshot Decode(ReadOnlySpan<byte> b) => throw new NotImplementedException();
}
