using Fabric.Bench;

// Fabric.Bench: the fabric side by side with KVM's lock design and the raw Akka limit (README.md, "Benchmarks").
var options = BenchOptions.Parse(args, Console.Error);
if (options is null) return 2;
if (options.Micro)
{
    Fabric.Bench.Micro.MicroBenchmarks.Run(options.MicroArgs);
    return 0;
}
var report = await new BenchRunner(options, Console.Out, Console.Error).RunAsync("dotnet run -c Release --project Fabric.Bench -- " + string.Join(' ', args));
if (options.JsonPath is { } path)
{
    await File.WriteAllTextAsync(path, report.ToJson());
    Console.WriteLine($"wrote {path}");
}
return report.Failures.Count == 0 ? 0 : 1;
