using System.Text.Json;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Host.Reporting;
using Xunit;

namespace Fabric.Specs.Host;

/// <summary>How the Chrome trace shows events that are not an interrupt's slice: a live migration (Fabric's
/// <c>migrate</c> event) is an instant on its VM's process track, its arg attached.</summary>
public sealed class TraceWriterSpecs : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_migration_is_an_instant_on_its_vms_process_track_with_its_arg()
    {
        var file = _dir.File("trace.json");
        using (var trace = new TraceWriter(file))
            trace.Observe(new FabricEvent(1, 2_500_000, Ev.Migrate, 3, null, null, "bytes=812 us=1500"));

        var events = JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("traceEvents").EnumerateArray().ToList();

        var name = Assert.Single(events, e => e.GetProperty("ph").GetString() == "M");
        Assert.Equal("process_name", name.GetProperty("name").GetString());
        Assert.Equal("vm-3", name.GetProperty("args").GetProperty("name").GetString());
        var move = Assert.Single(events, e => e.GetProperty("ph").GetString() == "i");
        Assert.Equal("migrate", move.GetProperty("name").GetString());
        Assert.Equal("p", move.GetProperty("s").GetString());              // process scope: the VM's whole track
        Assert.Equal(3, move.GetProperty("pid").GetInt32());
        Assert.Equal(2_500.0, move.GetProperty("ts").GetDouble());          // microseconds
        Assert.Equal("bytes=812 us=1500", move.GetProperty("args").GetProperty("arg").GetString());
        Assert.False(move.TryGetProperty("tid", out _));
    }
}
