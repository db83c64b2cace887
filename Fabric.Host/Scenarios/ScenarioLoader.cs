using System.Globalization;
using System.Reflection;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;

namespace Fabric.Host.Scenarios;

/// <summary>
/// Loads a scenario: the file merged over the embedded <c>akka.hocon</c> (Akka's own HOCON parser; no include, so
/// merging is <c>WithFallback</c>), every key validated into typed settings, unknown keys refused, and every error
/// collected (not just the first), each naming the file and the HOCON path.
/// </summary>
public static class ScenarioLoader
{
    public const string Root = "fabric.scenario";

    public static string EmbeddedDefaults()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("akka.hocon")
            ?? throw new InvalidOperationException("akka.hocon is not embedded in Fabric.Host");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    public static Config Defaults() => ConfigurationFactory.ParseString(EmbeddedDefaults());

    /// <summary>Loads the default scenario, or <paramref name="file"/> merged over it.</summary>
    public static (Scenario Scenario, Config Config) Load(string? file, long? seedOverride = null)
    {
        var defaults = Defaults();
        var where = file ?? "akka.hocon (embedded default scenario)";
        Config config = defaults;
        if (file is not null)
        {
            if (!System.IO.File.Exists(file)) throw new ScenarioException([$"{file}: no such file"]);
            Config parsed;
            try { parsed = ConfigurationFactory.ParseString(System.IO.File.ReadAllText(file)); }
            catch (Exception ex) { throw new ScenarioException([$"{file}: not valid HOCON: {ex.Message}"]); }
            var errors = new List<string>();
            CheckKnownKeys(parsed, defaults, where, errors);
            if (errors.Count > 0) throw new ScenarioException(errors);
            config = parsed.WithFallback(defaults);
        }
        return (Parse(config, where, seedOverride, file), config);
    }

    private static readonly HashSet<string> ListKeys = [Root + ".interrupts", Root + ".devices"];

    /// <summary>Every key under fabric.scenario in the file must exist in the defaults (a typo must not fall back silently).</summary>
    private static void CheckKnownKeys(Config file, Config defaults, string where, List<string> errors)
    {
        if (!file.HasPath(Root)) return;
        Walk(file.GetConfig(Root).Root.GetObject(), Root);

        void Walk(HoconObject obj, string path)
        {
            foreach (var (key, value) in obj.Items)
            {
                var full = path + "." + key;
                if (!defaults.HasPath(full)) { errors.Add($"{where}: {full}: unknown key"); continue; }
                if (ListKeys.Contains(full)) continue;
                if (value.IsObject()) Walk(value.GetObject(), full);
            }
        }
    }

    private static Scenario Parse(Config config, string where, long? seedOverride, string? file)
    {
        var r = new Reader(config.GetConfig(Root), where);
        var name = r.String("name");
        var seed = seedOverride ?? r.Long("seed", 0, long.MaxValue);
        var vms = r.Int("vms", 1, 1_000_000);
        var vcpus = r.Int("vcpus-per-vm", 1, 512);
        var spis = r.Int("spis-per-vm", 32, 1024);
        if (spis % 32 != 0) r.Error("spis-per-vm", $"{spis} is not a multiple of 32 (KVM allows 32..1024 in steps of 32)");
        var tracking = r.Enum("tracking", ("push", TrackingPolicy.Push), ("fold", TrackingPolicy.Fold));
        var injections = r.Long("stop-after.injections", 1, long.MaxValue);
        var duration = r.Duration("stop-after.duration");
        var policies = new FabricPolicies(tracking,
            r.Enum("policies.notify", ("on-deactivate", NotifyPolicy.OnDeactivate), ("inactive-and-line-low", NotifyPolicy.InactiveAndLineLow)),
            r.Enum("policies.virtual-level", ("edge-emulated", VirtualLevelPolicy.EdgeEmulated), ("hardware-level", VirtualLevelPolicy.HardwareLevel)),
            r.Enum("policies.dbpm", ("inclusive", DbpmComparison.Inclusive), ("strict", DbpmComparison.Strict)));
        var interrupts = r.List("interrupts", (e, path) => new InterruptSpec(
            e.IntIds("intids", spis),
            e.Enum("mode", ("edge", HandlingMode.Edge), ("level", HandlingMode.Level)),
            e.Int("priority", 0, 31),
            e.Affinity("affinity", vcpus),
            e.Bool("enabled")), ["intids", "mode", "priority", "affinity", "enabled"]);
        var devices = r.List("devices", (e, path) =>
        {
            var kind = e.Enum("kind", ("irqfd", DeviceKind.Irqfd), ("irqfd-resample", DeviceKind.IrqfdResample));
            var ids = e.IntIds("intids", spis);
            if (ids.Type != IntIdType.Spi) e.Error("intids", "devices inject SPIs (irqfd routes a GSI to an SPI)");
            return new DeviceSpec(kind, ids,
                e.Has("rate") ? e.Double("rate", 0, 1e9) : 0,
                e.Has("service-count") ? e.Int("service-count", 1, int.MaxValue) : 1,
                e.Has("window") ? e.Int("window", 1, 1024) : 2);
        }, ["kind", "intids", "rate", "service-count", "window"]);
        var guest = new GuestSpec(r.Duration("guest.handler-time", allowZero: true), r.Int("guest.priority-mask", 0, 31));
        var vcpu = new VcpuSpec(r.Double("vcpu.exits-per-second", 0, 1e6), r.Bool("vcpu.wfi-when-idle"));
        var host = new HostSpec(r.Double("host.preempt-per-second", 0, 1e6));
        r.ThrowIfAny();
        var perDevice = Math.Max(1, injections / Math.Max(1, (long)vms * Math.Max(1, devices.Count)));
        return new Scenario(name, seed, vms, new VmSpec(vcpus, spis, policies, interrupts, devices, guest, vcpu, host, seed, perDevice),
            injections, duration, file);
    }

    /// <summary>Typed reads with errors that name the file and the HOCON path; errors are collected.</summary>
    private sealed class Reader(Config config, string where, string prefix = Root, List<string>? errors = null)
    {
        private readonly List<string> _errors = errors ?? new List<string>();

        public void Error(string key, string what) => _errors.Add($"{where}: {prefix}.{key}: {what}");

        public void ThrowIfAny()
        {
            if (_errors.Count > 0) throw new ScenarioException(_errors);
        }

        public bool Has(string key) => config.HasPath(key);

        private string? Raw(string key)
        {
            if (!config.HasPath(key)) { Error(key, "missing"); return null; }
            try { return config.GetString(key); }
            catch (Exception) { Error(key, "expected a value, found an object or list"); return null; }
        }

        public string String(string key) => Raw(key) ?? "";

        public long Long(string key, long min, long max)
        {
            var raw = Raw(key);
            if (raw is null) return min;
            if (!long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) { Error(key, $"expected an integer, found '{raw}'"); return min; }
            if (v < min || v > max) { Error(key, $"{v} is out of range {min}..{max}"); return min; }
            return v;
        }

        public int Int(string key, int min, int max) => (int)Long(key, min, max);

        public double Double(string key, double min, double max)
        {
            var raw = Raw(key);
            if (raw is null) return min;
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || double.IsNaN(v)) { Error(key, $"expected a number, found '{raw}'"); return min; }
            if (v < min || v > max) { Error(key, $"{v} is out of range {min}..{max}"); return min; }
            return v;
        }

        public bool Bool(string key)
        {
            var raw = Raw(key);
            switch (raw)
            {
                case null: return false;
                case "true" or "on" or "yes": return true;
                case "false" or "off" or "no": return false;
                default: Error(key, $"expected true or false, found '{raw}'"); return false;
            }
        }

        public T Enum<T>(string key, params (string Name, T Value)[] choices)
        {
            var raw = Raw(key);
            foreach (var (n, v) in choices) if (raw == n) return v;
            if (raw is not null) Error(key, $"expected one of {string.Join(" | ", choices.Select(c => c.Name))}, found '{raw}'");
            return choices[0].Value;
        }

        public TimeSpan Duration(string key, bool allowZero = false)
        {
            var raw = Raw(key);
            if (raw is null) return TimeSpan.Zero;
            if (!TryDuration(raw, out var v)) { Error(key, $"expected a duration such as 5s, 200ms or 10us, found '{raw}'"); return TimeSpan.Zero; }
            if (v < TimeSpan.Zero || (!allowZero && v == TimeSpan.Zero)) Error(key, $"{raw} is not a {(allowZero ? "non-negative" : "positive")} duration");
            return v;
        }

        /// <summary>HOCON durations: a number and a unit (ns, us, ms, s, m, h, d, or their long names).</summary>
        private static bool TryDuration(string raw, out TimeSpan value)
        {
            value = TimeSpan.Zero;
            var text = raw.Trim();
            var i = 0;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (i == 0 || !double.TryParse(text[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
            double? ticksPerUnit = text[i..].Trim() switch
            {
                "ns" or "nanosecond" or "nanoseconds" => TimeSpan.TicksPerMicrosecond / 1000.0,
                "us" or "microsecond" or "microseconds" => TimeSpan.TicksPerMicrosecond,
                "ms" or "millisecond" or "milliseconds" or "" => TimeSpan.TicksPerMillisecond,
                "s" or "second" or "seconds" => TimeSpan.TicksPerSecond,
                "m" or "minute" or "minutes" => TimeSpan.TicksPerMinute,
                "h" or "hour" or "hours" => TimeSpan.TicksPerHour,
                "d" or "day" or "days" => TimeSpan.TicksPerDay,
                _ => null,
            };
            if (ticksPerUnit is not { } t || n * t > TimeSpan.MaxValue.Ticks) return false;
            value = TimeSpan.FromTicks((long)(n * t));
            return true;
        }

        public IntIdRange IntIds(string key, int spis)
        {
            var raw = Raw(key);
            if (raw is null) return default;
            if (!IntIdRange.TryParse(raw, out var range, out var why)) { Error(key, why); return default; }
            if (range.Type == IntIdType.Spi && range.Last >= spis) Error(key, $"{raw} reaches beyond the VM's {spis} SPIs (spis-per-vm)");
            if (range.Type == IntIdType.Lpi && range.Last >= 1 << 16) Error(key, $"{raw} reaches beyond the guest's 16 LPI ID bits");
            return range;
        }

        public int? Affinity(string key, int vcpus)
        {
            var raw = Raw(key);
            if (raw is null or "round-robin") return null;
            if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v >= vcpus)
            {
                Error(key, $"expected round-robin or a vCPU 0..{vcpus - 1}, found '{raw}'");
                return null;
            }
            return v;
        }

        public List<T> List<T>(string key, Func<Reader, string, T> item, string[] allowed)
        {
            var result = new List<T>();
            if (!config.HasPath(key)) { Error(key, "missing"); return result; }
            IList<HoconValue> values;
            try { values = config.GetValue(key).GetArray(); }
            catch (Exception) { Error(key, "expected a list [ { ... }, ... ]"); return result; }
            for (var i = 0; i < values.Count; i++)
            {
                var path = $"{key}[{i}]";
                if (!values[i].IsObject()) { Error(path, "expected an object { ... }"); continue; }
                var obj = values[i].GetObject();
                foreach (var k in obj.Items.Keys.Where(k => !allowed.Contains(k))) Error($"{path}.{k}", $"unknown key (expected {string.Join(", ", allowed)})");
                var sub = new Reader(new Config(new HoconRoot(values[i])), where, $"{prefix}.{path}", _errors);
                result.Add(item(sub, path));
            }
            return result;
        }
    }
}
