using Fabric.Hardware.Protocol;
using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Observation;
using Fabric.Hardware.Observation;
using Fabric.Actors.Protocols;
using Fabric.Actors.Vm;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Irs;

namespace Fabric.Host.Scenarios.Steps;

/// <summary>
/// Reads <c>fabric.scenario.steps</c> and <c>check-end</c> (DESIGN.md §6.4) and checks each step's shape at load time: a
/// known operation, known keys for it, values of the right type, a known register name, an irqfd step naming an INTID
/// that a listed device drives. Every error names the file, the step's line in it (<see cref="StepLines"/>), the HOCON
/// path of the step and key, and what was expected. What the fabric itself judges (an INTID outside the VM, a priority
/// beyond 5 bits, a write the IRS frame refuses, a VM or vCPU that does not exist) is left to run time, so that a
/// directed case can expect the refusal.
/// </summary>
public static partial class StepParser
{
    private const string Path = ScenarioLoader.Root + ".steps";

    /// <summary>The operand keys each <c>guest = ...</c> operation takes, besides <c>guest</c>, <c>vm</c>, <c>vcpu</c> and
    /// <c>expect</c>; the optional ones are marked with '?'.</summary>
    private static readonly Dictionary<string, (StepOp Op, string[] Keys)> Guest = new()
    {
        ["cdia"] = (StepOp.Cdia, []),
        ["cdeoi"] = (StepOp.Cdeoi, []),
        ["cddi"] = (StepOp.Cddi, ["intid"]),
        ["cden"] = (StepOp.Cden, ["intid"]),
        ["cddis"] = (StepOp.Cddis, ["intid"]),
        ["cdpri"] = (StepOp.Cdpri, ["intid", "priority"]),
        ["cdaff"] = (StepOp.Cdaff, ["intid", "target"]),
        ["cdpend"] = (StepOp.Cdpend, ["intid", "pending?"]),
        ["cdhm"] = (StepOp.Cdhm, ["intid", "mode"]),
        ["pcr"] = (StepOp.Pcr, ["value"]),
        ["handle"] = (StepOp.Handle, []),
        ["mmio-read"] = (StepOp.MmioRead, ["register"]),
        ["mmio-write"] = (StepOp.MmioWrite, ["register", "value"]),
    };

    /// <summary>The key that names each operation other than <c>guest</c>, and its operand keys.</summary>
    private static readonly Dictionary<string, (StepOp Op, string[] Keys)> Operations = new()
    {
        ["line"] = (StepOp.Line, ["level"]),
        ["irqfd"] = (StepOp.Irqfd, []),
        ["vcpu-state"] = (StepOp.VcpuState, []),
        ["exit"] = (StepOp.Exit, []),
        ["migrate"] = (StepOp.Migrate, []),
        ["wait"] = (StepOp.Wait, []),
    };

    private static readonly string[] Common = ["vm", "vcpu", "expect"];
    private static readonly string[] EntryKeys = ["pending", "active", "enabled", "priority", "target", "mode"];
    private static readonly string[] CpuKeys = ["resident", "doorbell-requested", "db-fired", "running-priority", "apr", "pcr", "dbpm"];

    [GeneratedRegex(@"^vcpu-(\d+)$")]
    private static partial Regex VcpuKey();

    /// <summary>The directed scenario of <paramref name="scenario"/> (the merged <c>fabric.scenario</c>), or null when it has
    /// no steps. <paramref name="file"/> is read again for the steps' lines.</summary>
    public static DirectedScenario? Parse(Config scenario, Config root, string where, string? file, IReadOnlyList<DeviceSpec> devices, List<string> errors)
    {
        if (!scenario.HasPath("steps")) return null;
        var value = scenario.GetValue("steps");
        if (!IsList(value)) { errors.Add($"{where}: {Path}: expected a list [ {{ ... }}, ... ] of steps"); return null; }
        var elements = value.GetArray();
        if (elements.Count == 0) return null;
        var lines = file is not null && File.Exists(file) ? StepLines.Find(File.ReadAllText(file)) : [];
        var steps = new List<Step>();
        for (var i = 0; i < elements.Count; i++)
        {
            var reader = new StepReader(where, i, i < lines.Count ? lines[i] : null, errors);
            if (!elements[i].IsObject()) { reader.Error("", "expected a step { ... } (DESIGN.md §6.4)"); continue; }
            if (Read(reader, elements[i].GetObject(), devices) is { } step) steps.Add(step);
        }
        var checkEnd = true;
        if (scenario.HasPath("check-end"))
        {
            var raw = scenario.GetValue("check-end");
            checkEnd = Bool(raw.IsObject() || IsList(raw) ? null : raw.GetString()) ?? Fail($"{where}: {ScenarioLoader.Root}.check-end: expected true or false", true);
        }
        if (root.HasPath(ScenarioLoader.ClusterRoot + ".enabled") && Bool(root.GetValue(ScenarioLoader.ClusterRoot + ".enabled").GetString()) == true)
            errors.Add($"{where}: {Path}: a directed scenario runs on the local fabric: expected {ScenarioLoader.ClusterRoot}.enabled = off (and no --nodes)");
        return new DirectedScenario(steps, checkEnd);

        bool Fail(string error, bool fallback)
        {
            errors.Add(error);
            return fallback;
        }
    }

    private static Step? Read(StepReader r, HoconObject step, IReadOnlyList<DeviceSpec> devices)
    {
        var items = step.Items;
        var named = Operations.Keys.Where(items.ContainsKey).Append("guest").Where(items.ContainsKey).Distinct().ToList();
        if (named.Count > 1) { r.Error(named[1], $"a step is one operation, but this one also has {named[0]}: expected one of guest, {string.Join(", ", Operations.Keys)} (or only expect)"); return null; }
        StepOp op;
        string[] operands;
        string opKey;
        if (named.Count == 0)
        {
            if (!items.ContainsKey("expect"))
            {
                r.Error("", $"no operation: expected one of guest, {string.Join(", ", Operations.Keys)}, or expect = {{ ... }}" +
                            (items.Count > 0 ? $" (found {string.Join(", ", items.Keys)})" : ""));
                return null;
            }
            (op, operands, opKey) = (StepOp.Expect, [], "expect");
        }
        else if (named[0] == "guest")
        {
            var g = r.Scalar(items, "guest");
            if (g is null) return null;
            if (!Guest.TryGetValue(g, out var known)) { r.Error("guest", $"expected one of {string.Join(" | ", Guest.Keys)}, found '{g}'"); return null; }
            (op, operands, opKey) = (known.Op, known.Keys, "guest");
        }
        else (op, operands, opKey) = (Operations[named[0]].Op, Operations[named[0]].Keys, named[0]);

        var allowed = operands.Select(k => k.TrimEnd('?')).Append(opKey).Concat(Common).ToHashSet();
        var ok = true;
        foreach (var k in items.Keys.Where(k => !allowed.Contains(k)))
        {
            r.Error(k, $"unknown key for {(opKey == "guest" ? "guest = " + items["guest"].GetString() : opKey)} (expected {string.Join(", ", allowed.Where(a => a != opKey).Prepend(opKey))})");
            ok = false;
        }
        foreach (var k in operands.Where(k => !k.EndsWith('?') && !items.ContainsKey(k)))
        {
            r.Error(k, "missing");
            ok = false;
        }
        if (!ok) return null;

        var before = r.Errors;
        var vm = items.ContainsKey("vm") ? (int)(r.Integer(items, "vm", 0, int.MaxValue) ?? 0) : 0;
        var vcpu = items.ContainsKey("vcpu") ? (int)(r.Integer(items, "vcpu", 0, int.MaxValue) ?? 0) : 0;
        var s = new Step(r.Index, r.Line, Text(step), op, vm, vcpu);
        switch (op)
        {
            case StepOp.Line:
                s = s with { Id = r.Interrupt(items, "line") ?? default, On = r.Choice(items, "level", ("high", true), ("low", false)) };
                if (s.Id.IsLpi) r.Error("line", $"KVM_IRQ_LINE drives SPIs and PPIs, not {s.Id} (LPIs are pended by the guest: guest = cdpend)");
                break;
            case StepOp.Irqfd:
                s = s with { Id = r.Interrupt(items, "irqfd") ?? default };
                if (r.Errors == before && !devices.Any(d => d.Ids.Contains(s.Id)))
                    r.Error("irqfd", $"no device in {ScenarioLoader.Root}.devices drives {s.Id}: expected an INTID of a listed irqfd or irqfd-resample");
                break;
            case StepOp.Cddi or StepOp.Cden or StepOp.Cddis:
                s = s with { Id = r.Interrupt(items, "intid") ?? default };
                break;
            case StepOp.Cdpri:
                s = s with { Id = r.Interrupt(items, "intid") ?? default, Value = r.Integer(items, "priority", long.MinValue, long.MaxValue) ?? 0 };
                break;
            case StepOp.Cdaff:
                s = s with { Id = r.Interrupt(items, "intid") ?? default, Value = r.Integer(items, "target", long.MinValue, long.MaxValue) ?? 0 };
                break;
            case StepOp.Cdpend:
                s = s with { Id = r.Interrupt(items, "intid") ?? default, On = !items.ContainsKey("pending") || r.Choice(items, "pending", ("true", true), ("false", false)) };
                break;
            case StepOp.Cdhm:
                s = s with { Id = r.Interrupt(items, "intid") ?? default, Mode = r.Choice(items, "mode", ("edge", HandlingMode.Edge), ("level", HandlingMode.Level)) };
                break;
            case StepOp.Pcr:
                s = s with { Value = r.Integer(items, "value", long.MinValue, long.MaxValue) ?? 0 };
                break;
            case StepOp.MmioRead or StepOp.MmioWrite:
                s = s with { Register = r.Register(items, "register") };
                if (op == StepOp.MmioWrite) s = s with { Value = (long)(r.Unsigned(items, "value") ?? 0) };
                break;
            case StepOp.VcpuState:
                s = s with { VcpuRun = r.Choice(items, "vcpu-state", ("wfi", VcpuProtocol.VcpuRun.Wfi), ("preempt", VcpuProtocol.VcpuRun.Preempt), ("run", VcpuProtocol.VcpuRun.Run)) };
                break;
            case StepOp.Exit or StepOp.Migrate:
                if (!r.Choice(items, opKey, ("true", true), ("false", false)) && r.Errors == before)
                    r.Error(opKey, $"expected true ({opKey} = false is no step)");
                break;
            case StepOp.Wait:
                s = s with { Wait = r.Duration(items, "wait") };
                break;
        }
        if (items.TryGetValue("expect", out var expect))
        {
            if (expect.IsObject()) s = s with { Check = ReadExpectation(r, expect.GetObject()) };
            else if (op == StepOp.Cdia)
            {
                var raw = r.Scalar(items, "expect");
                if (raw == "none") s = s with { ChecksAck = true };
                else if (raw is not null && r.InterruptKey(raw, "expect") is { } id) s = s with { ChecksAck = true, AckExpected = id };
            }
            else if (op == StepOp.MmioRead) s = s with { ReadExpected = r.Unsigned(items, "expect") };
            else r.Error("expect", "expected an object { ... } (a value is what guest = cdia or guest = mmio-read returns)");
        }
        return r.Errors == before ? s : null;
    }

    private static Expectation ReadExpectation(StepReader r, HoconObject expect)
    {
        var entries = new List<(IntId, EntryExpectation)>();
        var cpus = new List<(int, CpuExpectation)>();
        var counts = new List<(Ev, long)>();
        var countsOf = new List<(IntId, Ev, long)>();
        IReadOnlyList<IntId>? apList = null;
        string? error = null;
        foreach (var (key, value) in expect.Items)
        {
            var path = "expect." + Quote(key);
            if (key == "error") error = r.Scalar(expect.Items, key, path);
            else if (key == "ap-list") apList = r.InterruptList(value, path);
            else if (key == "count") counts.AddRange(Counts(r, value, path));
            else if (key == "count-of")
            {
                if (r.Object(value, path) is not { } of) continue;
                foreach (var (id, perId) in of.Items)
                    if (r.InterruptKey(id, $"{path}.{Quote(id)}") is { } intid)
                        countsOf.AddRange(Counts(r, perId, $"{path}.{Quote(id)}").Select(c => (intid, c.Ev, c.Count)));
            }
            else if (VcpuKey().Match(key) is { Success: true } m)
            {
                if (r.Fields(value, path, CpuKeys) is not { } f) continue;
                cpus.Add((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), new CpuExpectation(
                    r.OptionalBool(f, "resident", path), r.OptionalBool(f, "doorbell-requested", path), r.OptionalBool(f, "db-fired", path),
                    (int?)r.OptionalInteger(f, "running-priority", path), r.OptionalUnsigned(f, "apr", path), (int?)r.OptionalInteger(f, "pcr", path),
                    (int?)r.OptionalInteger(f, "dbpm", path))));
            }
            else if (key.Contains(':'))
            {
                if (r.InterruptKey(key, path) is not { } id || r.Fields(value, path, EntryKeys) is not { } f) continue;
                entries.Add((id, new EntryExpectation(r.OptionalBool(f, "pending", path), r.OptionalBool(f, "active", path), r.OptionalBool(f, "enabled", path),
                    (int?)r.OptionalInteger(f, "priority", path), (int?)r.OptionalInteger(f, "target", path),
                    f.ContainsKey("mode") ? r.ChoiceIn(path, f, "mode", ("edge", HandlingMode.Edge), ("level", HandlingMode.Level)) : (HandlingMode?)null)));
            }
            else r.Error(path, "unknown expectation: expected \"spi:N\" / \"lpi:N\" / \"ppi:N\" = { ... }, ap-list, vcpu-N, count, count-of or error" +
                               (key is "spi" or "lpi" or "ppi" ? " (quote an INTID key: \"spi:5\" = { ... }, or HOCON reads spi:5 as spi = 5)" : ""));
        }
        return new Expectation(entries, apList, cpus, counts, countsOf, error);
    }

    private static IEnumerable<(Ev Ev, long Count)> Counts(StepReader r, HoconValue value, string path)
    {
        if (r.Object(value, path) is not { } counts) yield break;
        foreach (var (name, _) in counts.Items)
        {
            if (!FabricEvent.TryParseName(name, out var ev))
            {
                r.Error($"{path}.{name}", $"unknown event: expected one of {string.Join(", ", Enum.GetValues<Ev>().Select(FabricEvent.Name))}");
                continue;
            }
            if (r.OptionalInteger(counts.Items, name, path) is { } n) yield return (ev, n);
        }
    }

    /// <summary>The step as written, on one line: its keys in order, nested objects abbreviated.</summary>
    private static string Text(HoconObject step) =>
        string.Join(", ", step.Items.Select(kv => $"{kv.Key} = {(kv.Value.IsObject() ? "{ " + string.Join(", ", kv.Value.GetObject().Items.Keys.Select(Quote)) + " }" : IsList(kv.Value) ? "[ ... ]" : Show(kv.Value.GetString()))}"));

    private static string Show(string value) => value.Contains(':') || value.Contains(' ') ? $"\"{value}\"" : value;

    private static string Quote(string key) => key.Contains(':') || key.Contains('.') ? $"\"{key}\"" : key;

    /// <summary>Akka's HoconValue.IsArray() is false for an empty list <c>[]</c>; this is not.</summary>
    internal static bool IsList(HoconValue value) => value.IsArray() || value.Values.Any(v => v is HoconArray);

    internal static bool? Bool(string? raw) => raw switch
    {
        "true" or "on" or "yes" => true,
        "false" or "off" or "no" => false,
        _ => null,
    };

    /// <summary>An integer as a scenario writes it: decimal (with a sign) or 0x hexadecimal.</summary>
    internal static bool TryInteger(string raw, out long value)
    {
        if (raw.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            var ok = ulong.TryParse(raw.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var u);
            value = (long)u;
            return ok;
        }
        return long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Typed reads of one step's keys; each error names the file, the step's line, its path and the key.</summary>
    private sealed class StepReader(string where, int index, int? line, List<string> errors)
    {
        public int Index => index;
        public int? Line => line;
        public int Errors => errors.Count;

        public void Error(string key, string what) =>
            errors.Add($"{where}{(line is { } l ? ":" + l : "")}: {Path}[{index}]{(key.Length > 0 ? "." + key : "")}: {what}");

        public string? Scalar(IDictionary<string, HoconValue> items, string key, string? path = null)
        {
            path ??= key;
            if (!items.TryGetValue(key, out var v)) { Error(path, "missing"); return null; }
            if (v.IsObject()) { Error(path, "expected a value, found an object { ... }"); return null; }
            if (IsList(v)) { Error(path, "expected a value, found a list [ ... ]"); return null; }
            return v.GetString();
        }

        public HoconObject? Object(HoconValue value, string path)
        {
            if (value.IsObject()) return value.GetObject();
            Error(path, "expected an object { ... }");
            return null;
        }

        /// <summary>An object whose keys are all among <paramref name="known"/>.</summary>
        public Dictionary<string, HoconValue>? Fields(HoconValue value, string path, string[] known)
        {
            if (Object(value, path) is not { } o) return null;
            var bad = o.Items.Keys.Where(k => !known.Contains(k)).ToList();
            foreach (var k in bad) Error($"{path}.{k}", $"unknown key (expected one of {string.Join(", ", known)})");
            return bad.Count == 0 ? new Dictionary<string, HoconValue>(o.Items) : null;
        }

        /// <summary>One of <paramref name="choices"/>, by name.</summary>
        public T Choice<T>(IDictionary<string, HoconValue> items, string key, params (string Name, T Value)[] choices) => ChoiceIn(null, items, key, choices);

        /// <summary>One of <paramref name="choices"/>, in a nested object whose path is <paramref name="path"/>.</summary>
        public T ChoiceIn<T>(string? path, IDictionary<string, HoconValue> items, string key, params (string Name, T Value)[] choices)
        {
            var full = path is null ? key : $"{path}.{key}";
            var raw = Scalar(items, key, full);
            foreach (var (n, v) in choices) if (raw == n) return v;
            if (raw is not null) Error(full, $"expected {string.Join(" | ", choices.Select(c => c.Name))}, found '{raw}'");
            return choices[0].Value;
        }

        public long? Integer(IDictionary<string, HoconValue> items, string key, long min, long max, string? path = null)
        {
            var full = path is null ? key : $"{path}.{key}";
            var raw = Scalar(items, key, full);
            if (raw is null) return null;
            if (!TryInteger(raw, out var v)) { Error(full, $"expected an integer, found '{raw}'"); return null; }
            if (v < min || v > max) { Error(full, $"{v} is out of range {min}..{max}"); return null; }
            return v;
        }

        public ulong? Unsigned(IDictionary<string, HoconValue> items, string key, string? path = null)
        {
            var full = path is null ? key : $"{path}.{key}";
            var raw = Scalar(items, key, full);
            if (raw is null) return null;
            if (raw.StartsWith('-') || !TryInteger(raw, out var v)) { Error(full, $"expected an unsigned integer (decimal or 0x...), found '{raw}'"); return null; }
            return (ulong)v;
        }

        public bool? OptionalBool(Dictionary<string, HoconValue> f, string key, string path)
        {
            if (!f.ContainsKey(key)) return null;
            var raw = Scalar(f, key, $"{path}.{key}");
            if (raw is null) return null;
            if (Bool(raw) is { } b) return b;
            Error($"{path}.{key}", $"expected true or false, found '{raw}'");
            return null;
        }

        public long? OptionalInteger(IDictionary<string, HoconValue> f, string key, string path) =>
            f.ContainsKey(key) ? Integer(f, key, long.MinValue, long.MaxValue, path) : null;

        public ulong? OptionalUnsigned(Dictionary<string, HoconValue> f, string key, string path) =>
            f.ContainsKey(key) ? Unsigned(f, key, path) : null;

        public IntId? Interrupt(IDictionary<string, HoconValue> items, string key)
        {
            var raw = Scalar(items, key);
            return raw is null ? null : InterruptKey(raw, key);
        }

        public IntId? InterruptKey(string raw, string path)
        {
            if (IntId.TryParse(raw, out var id, out var why)) return id;
            Error(path, $"expected an INTID such as \"spi:5\", \"lpi:8192\" or \"ppi:3\": {why}");
            return null;
        }

        public IReadOnlyList<IntId>? InterruptList(HoconValue value, string path)
        {
            if (!IsList(value)) { Error(path, "expected a list of INTIDs such as [\"spi:5\", \"spi:6\"]"); return null; }
            var ids = new List<IntId>();
            var items = value.GetArray();
            for (var i = 0; i < items.Count; i++)
            {
                if (items[i].IsObject() || IsList(items[i])) { Error($"{path}[{i}]", "expected an INTID such as \"spi:5\""); continue; }
                if (InterruptKey(items[i].GetString(), $"{path}[{i}]") is { } id) ids.Add(id);
            }
            return ids;
        }

        public IrsRegister? Register(IDictionary<string, HoconValue> items, string key)
        {
            var raw = Scalar(items, key);
            if (raw is null) return null;
            var found = IrsRegisters.All.FirstOrDefault(x => string.Equals(x.Name, raw, StringComparison.OrdinalIgnoreCase));
            if (found is null) Error(key, $"unknown register '{raw}': expected a register of the IRS CONFIG_FRAME such as IRS_IDR0, IRS_CR0, IRS_SPI_SELR, IRS_SPI_CFGR, IRS_IST_BASER");
            return found;
        }

        public TimeSpan Duration(IDictionary<string, HoconValue> items, string key)
        {
            var raw = Scalar(items, key);
            if (raw is null) return TimeSpan.Zero;
            if (ScenarioLoader.TryDuration(raw, out var v) && v >= TimeSpan.Zero) return v;
            Error(key, $"expected a duration such as 10ms or 1s, found '{raw}'");
            return TimeSpan.Zero;
        }
    }
}
