using Fabric.Bench.FabricRuns;
using Fabric.Bench.Messaging;
using Fabric.Bench.Workloads;
foreach (var wfi in new[] { false, true })
{
    MessageCounter.ResetByType();
    MessageCounter.ByType = true;
    var r = await FabricRun.ClosedLoopAsync(16, Workloads.EdgeStorm(wfi), TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(1));
    MessageCounter.ByType = false;
    var by = MessageCounter.SnapshotByType();
    var total = r.Check.Acknowledged;
    Console.WriteLine($"wfi={wfi} lc={total} msg/lc={r.MessagesPerLifecycle:F2}");
    foreach (var (t, n) in by.OrderByDescending(kv => kv.Value)) Console.WriteLine($"   {t.FullName,-70} {n,10} {n / (double)total,6:F3}");
}
