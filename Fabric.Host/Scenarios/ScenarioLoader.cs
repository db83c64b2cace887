using Fabric.Hardware.Protocol;
using System.Globalization;
using System.Reflection;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Vm;
using Fabric.Hardware;
using Fabric.Hardware.CpuInterface;
using Fabric.Hardware.Interrupts;
using Fabric.Hardware.Kvm;
using Fabric.Hardware.Irs;

namespace Fabric.Host.Scenarios;

/// <summary>
/// Loads a scenario: the file (and any <c>--set</c> overrides) merged over the embedded <c>akka.hocon</c> with Akka's
/// own HOCON parser — no include, no environment substitution, so merging is <c>WithFallback</c> — then every key
/// validated into typed settings. Unknown keys are refused (a typo must not fall back to a default silently) and
/// every error is collected, not just the first, each naming the file, the HOCON path and what was expected.
/// </summary>
public static class ScenarioLoader
{
    public const string Root = "fabric.scenario";
    /// <summary>Where the VMs run: one actor system, or sharded over a cluster of nodes (<see cref="ClusterSpec"/>).</summary>
    public const string ClusterRoot = "fabric.cluster";
    /// <summary>Where the default scenario comes from: scenarios/default-mixed-storm.hocon, embedded in Fabric.Host.</summary>
    public const string DefaultSource = "scenarios/default-mixed-storm.hocon (embedded default scenario)";

    /// <summary>At most 2^16 VMs: the IRS's VM_ID_BITS is at most 16 (<see cref="VmLimits.MaxVms"/>).</summary>
    public const int MaxVms = VmLimits.MaxVms;

    /// <summary>
    /// Rates and short durations are paced by Akka's scheduler, whose wheel turns every 10 ms (akka.scheduler.tick-duration,
    /// which Akka does not let go lower). A rate above 100 per second is served by several events per tick
    /// (<see cref="Fabric.Hardware.Protocol.Pacer"/>), up to <see cref="MaxTimerRate"/>; a duration below 10 ms other than 0
    /// would silently last a whole tick, so it is refused.
    /// </summary>
    public const double MaxTimerRate = Fabric.Hardware.Protocol.Pacer.MaxRate;
    public static readonly TimeSpan SchedulerTick = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The slowest rate a timer can pace: one event per <see cref="int.MaxValue"/> milliseconds (about 24.8 days), the
    /// longest delay Akka's scheduler takes. A positive rate below it would round to a period the scheduler (or
    /// <see cref="TimeSpan"/>) cannot hold, and crash the actor that arms it; it is refused (0 turns the timer off).
    /// </summary>
    public const double MinTimerRate = 1000.0 / int.MaxValue;

    private static string TooSlow(string raw) =>
        string.Create(CultureInfo.InvariantCulture, $"{raw} per second is a period longer than Akka's scheduler can hold (about 24.8 days): expected 0 (off) or at least {MinTimerRate:G3} per second");

    public static string EmbeddedDefaults() => Embedded("akka.hocon");

    /// <summary>The default mixed storm's text (scenarios/default-mixed-storm.hocon, embedded).</summary>
    public static string EmbeddedDefaultScenario() => Embedded("default-mixed-storm.hocon");

    private static string Embedded(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is not embedded in Fabric.Host");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    public static Config Defaults() => ConfigurationFactory.ParseString(EmbeddedDefaults());

    /// <summary>Loads the default scenario, or <paramref name="file"/> merged over it; then the <paramref name="sets"/>
    /// (<c>key=value</c>, the key relative to <c>fabric.scenario</c>) over both; then <paramref name="nodes"/>
    /// (<c>--nodes N</c>: <c>fabric.cluster { enabled = on, nodes = N }</c>). Throws <see cref="ScenarioException"/>
    /// with every error found.</summary>
    public static (Scenario Scenario, Config Config) Load(string? file, long? seedOverride = null, IReadOnlyList<string>? sets = null, int? nodes = null,
        string? seedNodes = null, int? port = null)
    {
        var defaults = Defaults();
        var where = file ?? DefaultSource;
        var errors = new List<string>();
        if (file is not null && !System.IO.File.Exists(file)) throw new ScenarioException([$"{file}: no such file"]);
        var text = file is null ? EmbeddedDefaultScenario() : ReadScenarioText(file);
        if (Unbalanced(text) is null && EmptyValues(text, where) is { Count: > 0 } empty) throw new ScenarioException(empty);
        var scenarioText = ParseHocon(text, where, errors);
        if (scenarioText is null) throw new ScenarioException(errors);
        CheckKnownKeys(scenarioText, defaults, where, errors);
        var config = scenarioText.WithFallback(defaults);
        foreach (var set in sets ?? [])
        {
            var eq = set.IndexOf('=');
            var source = $"--set {set}";
            if (eq <= 0) { errors.Add($"{source}: expected KEY=VALUE, the key relative to {Root} (e.g. --set policies.dbpm=strict)"); continue; }
            var parsed = ParseHocon($"{Root}.{set[..eq].Trim()} = {set[(eq + 1)..]}", source, errors);
            if (parsed is null) continue;
            CheckKnownKeys(parsed, defaults, source, errors);
            config = parsed.WithFallback(config);
        }
        if (seedNodes is not null || port is not null) nodes ??= 1;
        if (nodes is { } n)
        {
            if (n is < 1 or > ClusterSpec.MaxNodes) errors.Add($"--nodes {n}: expected 1..{ClusterSpec.MaxNodes} nodes ({ClusterRoot}.nodes)");
            else config = ConfigurationFactory.ParseString(FormattableString.Invariant($"{ClusterRoot} {{ enabled = on, nodes = {n} }}")).WithFallback(config);
        }
        Scenario scenario;
        try
        {
            var scheduleSet = scenarioText.HasPath(Root + ".schedule") || (sets ?? []).Any(x => x.Split('=')[0].Trim() == "schedule");
            scenario = Parse(config, where, seedOverride, file, sets, errors, scheduleSet) with { NodesOption = nodes };
            // A directed scenario with a cluster is refused by the steps' parser (it runs on the local fabric).
            if (scenario is { Deterministic: true, Cluster: not null, Directed: null })
                errors.Add($"{where}: {Root}.schedule: a cluster runs threaded (its nodes talk over TCP): expected threaded, or the cluster off");
        }
        catch (Exception e) when (e is not ScenarioException)
        {
            // What the parse check above did not catch: Akka's Config API failing on a tree its parser accepted.
            errors.Add($"{where}: not valid HOCON: Akka's configuration could not read it ({e.GetType().Name}: {e.Message})");
            throw new ScenarioException(errors);
        }
        if (scenario.Cluster is { } cluster && (seedNodes is not null || port is not null))
            scenario = scenario with { Cluster = Processes(cluster, seedNodes, port, errors) };
        if (errors.Count > 0) throw new ScenarioException(errors);
        return (scenario, config);
    }

    /// <summary>The largest scenario file read: far above any real scenario, so that an unbounded input (<c>/dev/zero</c>,
    /// a log passed by mistake) is refused at once instead of being read into memory.</summary>
    public const int MaxScenarioBytes = 4 << 20;

    /// <summary>The text of a scenario file, at most <see cref="MaxScenarioBytes"/>; a larger or unreadable one is bad
    /// input naming the file.</summary>
    private static string ReadScenarioText(string file)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            var bytes = new byte[MaxScenarioBytes + 1];
            var n = 0;
            int read;
            while (n < bytes.Length && (read = stream.Read(bytes, n, bytes.Length - n)) > 0) n += read;
            if (n > MaxScenarioBytes)
                throw new ScenarioException([$"{file}: larger than {MaxScenarioBytes >> 20} MiB: not a scenario (expected a HOCON file of a few KB)"]);
            return new System.Text.UTF8Encoding(false).GetString(bytes, 0, n);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioException([$"{file}: cannot be read: {e.Message}"]);
        }
    }

    /// <summary>
    /// Keys with nothing after their <c>=</c> (or <c>:</c>) on the line but a comment: <c>priority-mask = # fill in later</c>.
    /// HOCON wants the value on the key's line; Akka's parser instead takes the next line's text as the value (so
    /// <c>name = # later</c> over <c>vms = 4</c> reads name "vms" and drops vms = 4), or nothing at all. Each is refused
    /// here, "FILE:LINE: KEY: empty ...", before Akka parses the text. Strings and comments are skipped as
    /// <see cref="Unbalanced"/> skips them.
    /// </summary>
    private static List<string> EmptyValues(string text, string where)
    {
        var errors = new List<string>();
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n': line++; lineStart = i + 1; break;
                case '#' or '/' or '"' when HoconGuard.CommentOrString(text, i) is { Last: var last }:
                    // (An unclosed """ string runs to the end: Unbalanced reports it.)
                    if (text.AsSpan(i, last - i + 1).Count('\n') is > 0 and var newlines)
                    {
                        line += newlines;
                        lineStart = text.LastIndexOf('\n', last) + 1;
                    }
                    i = last;
                    break;
                case '=' or ':':
                    var j = i + 1;
                    while (j < text.Length && text[j] is ' ' or '\t' or '\r') j++;
                    var rest = text.AsSpan(j);
                    if (rest.IsEmpty || rest[0] is '\n' or '#' or '}' or ',' || rest.StartsWith("//"))
                    {
                        var key = text[lineStart..i].Trim().TrimEnd('+').Trim().Split([' ', '\t', '{', ','], StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "?";
                        errors.Add($"{where}:{line}: {key}: empty (nothing after '{c}', or only a comment): expected a value");
                    }
                    break;
            }
        }
        return errors;
    }

    /// <summary><c>--seed-nodes</c> and <c>--port</c>: this process as part of a cluster of several. Each seed must be an
    /// Akka address; the port 0..65535; and the scenario's leaves and kills, which one process drives for nodes it runs,
    /// cannot name another process's nodes: with seeds they are refused (a process leaves when it stops: Ctrl-C).</summary>
    private static ClusterSpec Processes(ClusterSpec cluster, string? seedNodes, int? port, List<string> errors)
    {
        var seeds = new List<string>();
        foreach (var seed in (seedNodes ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                var address = Akka.Actor.Address.Parse(seed);
                if (address.Host is null || address.Port is null) throw new UriFormatException("no host and port");
                seeds.Add(address.ToString());
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                errors.Add($"--seed-nodes {seed}: expected an address akka.tcp://SYSTEM@HOST:PORT ({e.Message})");
            }
        }
        if (seedNodes is not null && seeds.Count == 0 && errors.Count == 0) errors.Add($"--seed-nodes '{seedNodes}': expected one or more addresses akka.tcp://SYSTEM@HOST:PORT, comma-separated");
        if (port is < 0 or > 65535) errors.Add($"--port {port}: expected 0..65535");
        if (seeds.Count > 0 && cluster.Exits.Count > 0)
            errors.Add($"{ClusterRoot}.leave/kill: with --seed-nodes this process runs only its own nodes, and leaves the cluster when it stops (Ctrl-C): expected leave = [] and kill = []");
        return cluster with { SeedNodes = seeds, Port = port ?? 0 };
    }

    /// <summary>Parses HOCON text with Akka's parser, refusing what it would not honour here (include, ${...}).</summary>
    private static Config? ParseHocon(string text, string where, List<string> errors)
    {
        var line = 0;
        foreach (var raw in text.Split('\n'))
        {
            line++;
            var t = raw.TrimStart();
            if (t.StartsWith("include ", StringComparison.Ordinal) || t == "include")
            {
                errors.Add($"{where}:{line}: include is not supported (a scenario is one file merged over akka.hocon)");
                return null;
            }
        }
        if (Unbalanced(text) is { } why)
        {
            errors.Add($"{where}:{why}");
            return null;
        }
        if (HoconGuard.Substitutions(text) is { } cycle)
        {
            errors.Add($"{where}: {cycle}");
            return null;
        }
        try
        {
            var config = ParseWithin(text, ParseTimeout) ?? throw new TimeoutException(
                $"Akka's parser did not finish within {ParseTimeout.TotalSeconds:F0} s (it loops on some malformed text): check the braces, lists and substitutions");
            Touch(config.Root);
            return config;
        }
        catch (Exception ex)
        {
            errors.Add($"{where}: not valid HOCON: " + (ex is NullReferenceException or InvalidCastException or IndexOutOfRangeException
                ? $"Akka's parser built a tree it cannot read back ({ex.GetType().Name}): look for an object or a list where a key belongs"
                : ex.Message.Trim()));
            return null;
        }
    }

    /// <summary>How long Akka's parser may take over one scenario (a few milliseconds for any real one).</summary>
    public static readonly TimeSpan ParseTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Akka's parser on a thread of its own, so that text it loops on is refused instead of hanging the host;
    /// null on timeout (the thread, a background one, is abandoned).</summary>
    internal static Config? ParseWithin(string text, TimeSpan timeout)
    {
        Config? config = null;
        Exception? failed = null;
        var parser = new Thread(() =>
        {
            try { config = ConfigurationFactory.ParseString(text); }
            catch (Exception e) { failed = e; }
        }, maxStackSize: 16 << 20) { IsBackground = true, Name = "hocon-parse" };
        parser.Start();
        if (!parser.Join(timeout)) return null;
        if (failed is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        return config;
    }

    /// <summary>Reads every value of a parsed tree once, so that what Akka's parser left unreadable throws here; a tree
    /// that contains itself (Akka's parser can merge an object into its own child) or nests deeper than
    /// <see cref="HoconGuard.MaxDepth"/> is refused before anything walks it recursively.</summary>
    private static void Touch(HoconValue? root)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(HoconValue Value, int Depth)>();
        if (root is not null) pending.Push((root, 0));
        while (pending.TryPop(out var item))
        {
            var (value, depth) = item;
            if (depth > 2 * HoconGuard.MaxDepth || !seen.Add(value))
                throw new FormatException("Akka's parser built a tree that contains itself (an object merged into its own member): check the braces and the keys");
            if (value.IsObject()) { foreach (var (_, v) in value.GetObject().Items) pending.Push((v, depth + 1)); }
            else if (value.IsArray()) { foreach (var v in value.GetArray()) pending.Push((v, depth + 1)); }
            else _ = value.GetString();
        }
    }

    /// <summary>
    /// Akka's parser is lenient: it accepts an unclosed object, list or string and silently drops what it cannot read.
    /// So braces, brackets and quotes are matched here first (outside comments and strings). Returns
    /// "LINE: not valid HOCON: what", or null.
    /// </summary>
    private static string? Unbalanced(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        var segments = 1;   // of the unquoted word being read: a.b.c nests as deep as a { b { c } }
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '.' && ++segments > HoconGuard.MaxKeySegments)
                return $"{line}: a key of more than {HoconGuard.MaxKeySegments} dot-separated segments (Akka's parser would overflow its stack)";
            if (c != '.' && !char.IsLetterOrDigit(c) && c is not ('-' or '_')) segments = 1;
            switch (c)
            {
                case '\n': line++; break;
                case '#' or '/' or '"' when HoconGuard.CommentOrString(text, i) is { } skipped:
                    if (!skipped.Closed)
                        return HoconGuard.IsTripleQuote(text, i) ? $"{line}: not valid HOCON: a \"\"\" string is never closed"
                            : $"{line}: not valid HOCON: a quoted string is not closed on its line";
                    line += text.AsSpan(i, skipped.Last - i + 1).Count('\n');
                    i = skipped.Last;
                    break;
                case '\\':
                    // Not valid outside a quoted string; inside a list Akka's parser loops on it forever (found by fuzzing).
                    return $"{line}: not valid HOCON: a backslash outside a quoted string";
                case '{' or '[':
                    open.Push((c, line));
                    if (open.Count > HoconGuard.MaxDepth)
                        return $"{line}: objects and lists are nested more than {HoconGuard.MaxDepth} deep (a scenario needs a handful; Akka's parser would overflow its stack)";
                    break;
                case '}' or ']':
                    var want = c == '}' ? '{' : '[';
                    if (open.Count == 0) return $"{line}: not valid HOCON: '{c}' closes nothing";
                    var (b, at) = open.Pop();
                    if (b != want) return $"{line}: not valid HOCON: '{c}' closes the '{b}' opened at line {at}";
                    break;
            }
        }
        return open.Count == 0 ? null : $"{open.Peek().Line}: not valid HOCON: '{open.Peek().Bracket}' is never closed";
    }

    private static readonly HashSet<string> ListKeys = [Root + ".interrupts", Root + ".devices", ClusterRoot + ".leave", ClusterRoot + ".kill"];

    /// <summary>Every key the file sets must exist in the defaults: at the top only <c>akka</c> (Akka's own settings,
    /// which Akka validates), <c>fabric.scenario</c> and <c>fabric.cluster</c>, and under them only the keys
    /// <c>akka.hocon</c> defines.</summary>
    private static void CheckKnownKeys(Config file, Config defaults, string where, List<string> errors)
    {
        var root = file.Root;
        if (!root.IsObject()) return;
        foreach (var (key, value) in root.GetObject().Items)
        {
            if (key == "akka") { NullSettings(value, "akka", where, errors); continue; }
            if (key != "fabric") { errors.Add($"{where}: {key}: unknown key (expected akka, {Root} or {ClusterRoot})"); continue; }
            if (!value.IsObject()) { errors.Add($"{where}: fabric: expected an object {{ scenario {{ ... }}, cluster {{ ... }} }}"); continue; }
            foreach (var (sub, subValue) in value.GetObject().Items)
            {
                if (sub is not ("scenario" or "cluster")) { errors.Add($"{where}: fabric.{sub}: unknown key (expected {Root} or {ClusterRoot})"); continue; }
                if (!subValue.IsObject())
                {
                    errors.Add(sub == "scenario" ? $"{where}: {Root}: expected an object {{ ... }}"
                        : $"{where}: {ClusterRoot}: expected an object {{ enabled = off, nodes = 3, leave = [], kill = [] }}");
                    continue;
                }
                Walk(subValue.GetObject(), "fabric." + sub);
            }
        }

        void Walk(HoconObject obj, string path)
        {
            foreach (var (key, value) in obj.Items)
            {
                var full = path + "." + key;
                if (!defaults.HasPath(full)) { errors.Add($"{where}: {full}: unknown key"); continue; }
                if (ListKeys.Contains(full)) continue;
                if (value.IsObject()) Walk(value.GetObject(), full);
                else if (IsNull(value) && defaults.GetValue(full).IsObject()) errors.Add($"{where}: {full}: null: expected an object {{ ... }}");
            }
        }
    }

    /// <summary><c>key = null</c>: Akka's parser reads it as a string value whose text is null.</summary>
    private static bool IsNull(HoconValue value) => value.Values.Count == 1 && value.IsString() && value.GetString() is null;

    /// <summary>Akka's own settings are Akka's to validate, but a null among them (<c>akka = null</c>,
    /// <c>akka.actor = null</c>) makes the actor system fail with "Value cannot be null"; it is refused naming the key.</summary>
    private static void NullSettings(HoconValue value, string path, string where, List<string> errors)
    {
        if (IsNull(value)) errors.Add($"{where}: {path}: null: expected a value or an object of Akka's settings");
        else if (value.IsObject())
            foreach (var (key, sub) in value.GetObject().Items) NullSettings(sub, path + "." + key, where, errors);
    }

    private static readonly string[] InterruptKeys = ["intids", "mode", "priority", "affinity", "enabled"];
    private static readonly string[] DeviceKeys = ["kind", "intids", "rate", "service-count", "window"];

    private static readonly string[] NodeExitKeys = ["node", "at"];

    /// <summary>The scenario from the merged <paramref name="config"/>. <paramref name="scheduleSet"/>: the scenario file or
    /// a <c>--set</c> (<c>--schedule</c>) names <c>schedule</c>; when none does, a directed scenario runs on the
    /// deterministic schedule, a storm threaded (akka.hocon's default).</summary>
    private static Scenario Parse(Config config, string where, long? seedOverride, string? file, IReadOnlyList<string>? sets, List<string> errors,
        bool scheduleSet)
    {
        var r = new Reader(ScenarioConfig(config, errors), where, Root, errors);
        var name = r.String("name");
        if (name.Length == 0 && r.Has("name")) r.Error("name", "expected a non-empty name");
        var seed = seedOverride ?? r.Long("seed", 0, long.MaxValue);
        var vms = r.Int("vms", 1, MaxVms);
        var vcpus = r.Int("vcpus-per-vm", 1, VmLimits.MaxVcpus);
        var spis = r.Int("spis-per-vm", VmLimits.MinSpis, VmLimits.MaxSpis);
        if (spis % VmLimits.SpiStep != 0) r.Error("spis-per-vm", $"{spis} is not a multiple of {VmLimits.SpiStep} (KVM allows {VmLimits.SpiRule})");
        var tracking = r.Enum("tracking", ("push", TrackingPolicy.Push), ("fold", TrackingPolicy.Fold));
        var injections = r.Long("stop-after.injections", 1, long.MaxValue);
        var duration = r.Duration("stop-after.duration");
        var drainTimeout = r.Duration("stop-after.drain-timeout");
        var policies = new FabricPolicies(tracking,
            r.Enum("policies.notify", ("on-deactivate", NotifyPolicy.OnDeactivate), ("inactive-and-line-low", NotifyPolicy.InactiveAndLineLow)),
            r.Enum("policies.virtual-level", ("edge-emulated", VirtualLevelPolicy.EdgeEmulated), ("hardware-level", VirtualLevelPolicy.HardwareLevel)),
            r.Enum("policies.dbpm", ("inclusive", DbpmComparison.Inclusive), ("strict", DbpmComparison.Strict)),
            r.Enum("kvm", ("ap-list", KvmDesign.ApList), ("merged", KvmDesign.Merged)),
            r.Enum("policies.injection-sequence", ("checked", InjectionSequence.Checked), ("ignored", InjectionSequence.Ignored)));

        var interrupts = r.List("interrupts", InterruptKeys, e =>
        {
            var ids = e.IntIds("intids", spis);
            var mode = e.Enum("mode", ("edge", HandlingMode.Edge), ("level", HandlingMode.Level));
            if (ids is { Type: IntIdType.Ppi } ppis)
            {
                if (KvmPpis.ExposureRefusal(IntId.Ppi(ppis.Last)) is { } beyond) e.Error("intids", beyond);
                else if (ppis.All().FirstOrDefault(p => KvmPpis.IsKernelLevelSource(p.Id)) is { IsPpi: true } timer)
                    e.Error("intids", $"{timer} ({KvmPpis.Name(timer.Id)}) is a level PPI whose line is the kernel's timer or PMU, which Fabric does not model: program SW_PPI (ppi:{KvmPpis.SwPpi}) or another PPI");
                else if (mode == HandlingMode.Level)
                    e.Error("mode", "the PPIs Fabric drives are edge (SW_PPI is edge; the level ones are the kernel's timers and PMU): expected edge");
            }
            return new InterruptSpec(ids ?? default, mode, e.Int("priority", 0, Priority.Levels - 1), e.Affinity("affinity", vcpus), e.Bool("enabled"));
        });
        CheckOverlaps(r, "interrupts", interrupts.Select(i => i.Ids).ToList(), "programs");

        var devices = r.List("devices", DeviceKeys, e =>
        {
            var kind = e.Enum("kind", ("irqfd", DeviceKind.Irqfd), ("irqfd-resample", DeviceKind.IrqfdResample));
            var ids = e.IntIds("intids", spis);
            var resample = kind == DeviceKind.IrqfdResample;
            if (resample && e.Has("rate")) e.Error("rate", "applies to kind = irqfd only (an irqfd-resample re-asserts when notified)");
            if (resample && e.Has("window")) e.Error("window", "applies to kind = irqfd only");
            if (!resample && e.Has("service-count")) e.Error("service-count", "applies to kind = irqfd-resample only");
            var rate = e.Has("rate") ? e.Rate("rate") : 0;
            if (rate > 0 && e.Has("window")) e.Error("window", "applies only when rate = 0 (as fast as accepted)");
            switch (ids?.Type)
            {
                case IntIdType.Lpi:
                    e.Error("intids", "expected spi:... or ppi:... (an irqfd routes a GSI to an SPI; LPIs are injected by the guest's IPIs, guest.ipi-per-second)");
                    break;
                case IntIdType.Ppi when resample:
                    e.Error("kind", "a PPI source is kind = irqfd with rate > 0 (an irqfd-resample drives an SPI's level line)");
                    break;
                case IntIdType.Ppi when ids.Value.All().FirstOrDefault(p => KvmPpis.UserspaceRefusal(p) is not null) is { IsPpi: true } refused:
                    e.Error("intids", KvmPpis.UserspaceRefusal(refused)!);
                    break;
                case IntIdType.Ppi when rate <= 0:
                    e.Error("rate", "a PPI source (userspace driving SW_PPI) needs rate > 0: it fires at that rate on every vCPU");
                    break;
            }
            if (ids is { } range && range.Type != IntIdType.Lpi)
            {
                var programmed = interrupts.Where(i => i.Ids.Type == range.Type && i.Ids.First <= range.Last && range.First <= i.Ids.Last).ToList();
                var covered = programmed.Sum(i => (long)Math.Min(i.Ids.Last, range.Last) - Math.Max(i.Ids.First, range.First) + 1);
                if (covered < range.Count)
                    e.Error("intids", $"{range} is not all programmed by the guest: every INTID a device injects needs an entry in {Root}.interrupts");
                var wanted = resample || range.Type == IntIdType.Ppi ? (HandlingMode?)null : HandlingMode.Edge;
                if (resample && programmed.FirstOrDefault(i => i.Mode != HandlingMode.Level) is { } edge)
                    e.Error("intids", $"an irqfd-resample drives a level line, but {edge.Ids} is programmed with mode = edge (expected level)");
                if (wanted is not null && programmed.FirstOrDefault(i => i.Mode != HandlingMode.Edge) is { } level)
                    e.Error("intids", $"an irqfd without resample writes edges, but {level.Ids} is programmed with mode = level (use kind = irqfd-resample, or mode = edge)");
            }
            return new DeviceSpec(kind, ids ?? default, rate,
                e.Has("service-count") ? e.Int("service-count", 1, int.MaxValue) : 1,
                e.Has("window") ? e.Int("window", 1, 1024) : 2);
        });
        CheckOverlaps(r, "devices", devices.Select(d => d.Ids).ToList(), "injects");

        var handler = r.Duration("guest.handler-time", allowZero: true, tick: true);
        var mask = r.Int("guest.priority-mask", 0, Priority.Levels - 1);
        var reprogram = r.Rate("guest.reprogram-per-second");
        var ipiRate = r.Rate("guest.ipi-per-second");
        var ipis = r.Budget("guest.ipis");
        if (ipiRate > 0 && !interrupts.Any(i => i.Ids.Type == IntIdType.Lpi))
            r.Error("guest.ipi-per-second", $"{ipiRate.ToString(CultureInfo.InvariantCulture)} needs an lpi:... range in {Root}.interrupts (GICv5 IPIs are LPIs)");
        var guest = new GuestSpec(handler, mask, reprogram, ipiRate, ipis);
        var vcpu = new VcpuSpec(r.Rate("vcpu.exits-per-second"), r.Bool("vcpu.wfi-when-idle"));
        var vcpuIds = r.VcpuIds("vcpu.ids", vcpus);
        var host = new HostSpec(r.Rate("host.preempt-per-second"), r.Duration("host.preempt-for", tick: true));
        var migration = Migration(r, vms, duration);

        CheckMemory(r, vms, vcpus, spis, devices.Count);

        var perDevice = Math.Max(1, injections / Math.Max(1, (long)vms * Math.Max(1, devices.Count)));
        var directed = Steps.StepParser.Parse(config.GetConfig(Root) ?? Config.Empty, config, where, file, devices, errors);
        // A directed scenario runs on the deterministic schedule unless it (or --schedule) says threaded (DESIGN.md §6.5).
        var deterministic = r.Enum("schedule", ("threaded", false), ("deterministic", true)) || directed is not null && !scheduleSet;
        return new Scenario(name, seed, vms, Steps.DirectedScenario.Shape(directed, new VmSpec(vcpus, spis, policies, interrupts, devices, guest, vcpu, host, seed, perDevice, migration) { VcpuIds = vcpuIds }),
            injections, duration, file, sets is { Count: > 0 } ? sets.ToArray() : null)
        {
            Directed = directed,
            Deterministic = deterministic,
            DrainTimeout = drainTimeout,
            Cluster = Cluster(config, where, duration, errors),
        };
    }

    /// <summary><c>fabric.scenario</c> as an object. Set to something else (<c>null</c>, a value, a list), Akka's
    /// <c>GetConfig</c> throws; <see cref="CheckKnownKeys"/> has already said what was expected, so the load stops there.</summary>
    private static Config ScenarioConfig(Config config, List<string> errors)
    {
        try
        {
            return config.GetConfig(Root) ?? Config.Empty;
        }
        catch (Exception e) when (e is NullReferenceException or InvalidCastException or ConfigurationException)
        {
            if (errors.Count == 0) errors.Add($"{Root}: expected an object {{ ... }}");
            throw new ScenarioException(errors);
        }
    }

    /// <summary>
    /// <c>fabric.cluster { enabled, nodes, leave, kill }</c>: whether the VMs are sharded over a cluster of nodes in this
    /// process, how many (1..16), and which nodes leave gracefully or crash, when (counted from the start of the
    /// devices). Node 0 is the seed and the driver, so it cannot go and at least one node always remains; a node goes at
    /// most once, across both lists; and each time is before <c>stop-after.duration</c> (the nodes go while the devices
    /// run: a later one would silently never happen). A leave or kill with the cluster off is refused for the same
    /// reason. Null when the cluster is off.
    /// </summary>
    private static ClusterSpec? Cluster(Config config, string where, TimeSpan stopAfter, List<string> errors)
    {
        // Not an object: CheckKnownKeys has said so (the defaults have the object).
        if (!config.HasPath(ClusterRoot) || !config.GetValue(ClusterRoot).IsObject()) return null;
        var r = new Reader(config.GetConfig(ClusterRoot), where, ClusterRoot, errors);
        var enabled = r.Bool("enabled");
        var before = errors.Count;
        var nodes = r.Int("nodes", 1, ClusterSpec.MaxNodes);
        int? known = errors.Count == before ? nodes : null;

        var exits = new List<(string Path, NodeExit Exit)>();
        foreach (var (key, kind) in new[] { ("leave", NodeExitKind.Leave), ("kill", NodeExitKind.Kill) })
        {
            var entries = r.List(key, NodeExitKeys, e =>
            {
                var node = e.Node("node", known);
                var ok = errors.Count;
                var at = e.Duration("at", allowZero: true);
                if (errors.Count == ok && stopAfter > TimeSpan.Zero && at >= stopAfter)
                    e.Error("at", $"{Show(at)} is not before stop-after.duration ({Show(stopAfter)}): nodes leave and crash while the devices run, so it would never happen");
                return (e.Path, Node: node, At: at);
            });
            if (!enabled && entries.Count > 0)
                r.Error(key, $"a node {(kind == NodeExitKind.Leave ? "leaves" : "is killed")} but the cluster is off (enabled = off), so it would never happen: expected enabled = on (or run --nodes N), or {key} = []");
            foreach (var (path, node, at) in entries)
            {
                if (node is not { } n) continue;
                var entry = path[(ClusterRoot.Length + 1)..];
                if (exits.FirstOrDefault(x => x.Exit.Node == n) is { Exit: { } first } twice)
                    r.Error(entry + ".node", $"node {n} {(first.Kind == NodeExitKind.Leave ? "also leaves" : "is also killed")} ({twice.Path}): expected each node at most once across leave and kill");
                else exits.Add((entry, new NodeExit(n, at, kind)));
            }
        }
        return enabled ? new ClusterSpec(nodes, exits.Select(x => x.Exit).OrderBy(x => x.At).ToArray()) : null;
    }

    /// <summary>
    /// <c>migrate { every, at, vms }</c>: when each VM is moved to fresh actors (MigrationSpec; the moves themselves
    /// are the VmActor's). <c>every</c> is a period paced by Akka's scheduler (0 = not periodically, else at least a
    /// tick); <c>at</c> one-shot times counted from the start of the devices, each 0 or at least a tick, none twice,
    /// each before <c>stop-after.duration</c> (moves stop when the devices stop, so a later one would silently never
    /// happen); <c>vms</c> is <c>all</c> or the VM ids that move. Null when nothing moves.
    /// </summary>
    private static MigrationSpec? Migration(Reader r, int vms, TimeSpan stopAfter)
    {
        if (!r.IsObject("migrate", "expected an object { every = 0s, at = [], vms = all }")) return null;
        var every = r.Duration("migrate.every", allowZero: true, tick: true);
        var at = r.Durations("migrate.at", tick: true);
        for (var i = 0; i < at.Count; i++)
        {
            var (path, t) = at[i];
            if (at.FindIndex(a => a.Value == t) is var first && first < i) r.Error(path, $"{Show(t)} is also {Reader.Last(at[first].Path)}: expected each time once");
            else if (stopAfter > TimeSpan.Zero && t >= stopAfter)
                r.Error(path, $"{Show(t)} is not before stop-after.duration ({Show(stopAfter)}): moves stop when the devices stop, so it would never happen");
        }
        var ids = r.VmIds("migrate.vms", vms);
        return every > TimeSpan.Zero || at.Count > 0 ? new MigrationSpec(every, at.Select(a => a.Value).ToArray(), ids) : null;
    }

    /// <summary><c>max-memory</c>: <c>auto</c> (half of this machine's memory) or a size; a scenario whose fabric
    /// (<see cref="MemoryEstimate"/>) would need more is refused with the estimate and the limit, before anything is
    /// built — 65,536 VMs of 64 vCPUs would otherwise build for most of an hour and then fail.</summary>
    private static void CheckMemory(Reader r, int vms, int vcpus, int spis, int devices)
    {
        var raw = r.String("max-memory");
        long limit;
        if (raw == "auto") limit = MemoryEstimate.DefaultLimit();
        else if (!MemoryEstimate.TryParseSize(raw, out limit))
        {
            r.Error("max-memory", $"expected auto or a size such as 512MiB or 20GiB, found '{raw}'");
            return;
        }
        var need = MemoryEstimate.Bytes(vms, vcpus, spis, devices);
        if (need > limit)
            r.Error("max-memory", $"{vms:N0} VMs x {vcpus} vCPUs would need about {MemoryEstimate.Show(need)} once built, more than the limit of " +
                                  $"{MemoryEstimate.Show(limit)} ({(raw == "auto" ? "half of this machine's memory" : "max-memory")}): " +
                                  "run fewer VMs or vCPUs, or raise the limit, e.g. --set max-memory=" + (need / (1L << 30) + 2) + "GiB, if the machine has it");
    }

    /// <summary>A HOCON duration (a number and a unit), as every duration key reads it.</summary>
    internal static bool TryDuration(string raw, out TimeSpan value) => Reader.TryDuration(raw, out value);

    /// <summary>A duration as a scenario would write it (1500ms, 2s, 250us).</summary>
    public static string Show(TimeSpan t) =>
        t.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{t.Ticks / TimeSpan.TicksPerSecond}s"
        : t.Ticks % TimeSpan.TicksPerMillisecond == 0 ? $"{t.Ticks / TimeSpan.TicksPerMillisecond}ms"
        : string.Create(CultureInfo.InvariantCulture, $"{t.Ticks / (double)TimeSpan.TicksPerMicrosecond}us");

    /// <summary>Two entries of one list must not share an INTID (one guest programming, one device per line).</summary>
    private static void CheckOverlaps(Reader r, string list, List<IntIdRange> ranges, string verb)
    {
        for (var i = 0; i < ranges.Count; i++)
            for (var j = 0; j < i; j++)
            {
                var (a, b) = (ranges[i], ranges[j]);
                if (a.Count == 0 || b.Count == 0 || a == default || b == default) continue;
                if (a.Type == b.Type && a.First <= b.Last && b.First <= a.Last)
                    r.Error($"{list}[{i}].intids", $"{a} overlaps {list}[{j}] ({b}): expected each INTID {verb} by one entry");
            }
    }

    /// <summary>Typed reads with errors that name the file and the HOCON path; errors are collected.</summary>
    private sealed class Reader(Config config, string where, string prefix, List<string> errors)
    {
        public void Error(string key, string what) => errors.Add($"{where}: {prefix}.{key}: {what}");

        /// <summary>The HOCON path this reader reads under (<c>fabric.cluster.leave[0]</c>).</summary>
        public string Path => prefix;

        public bool Has(string key) => config.HasPath(key);

        private string? Raw(string key)
        {
            if (!config.HasPath(key)) { Error(key, "missing"); return null; }
            HoconValue value;
            try { value = config.GetValue(key); }
            catch (Exception) { Error(key, "expected a value"); return null; }
            if (value.IsObject()) { Error(key, "expected a value, found an object { ... }"); return null; }
            if (IsList(value)) { Error(key, "expected a value, found a list [ ... ]"); return null; }
            if (Blank(value) is { } blank) { Error(key, blank); return null; }
            return value.GetString();
        }

        public string String(string key) => Raw(key) ?? "";

        public long Long(string key, long min, long max)
        {
            var raw = Raw(key);
            if (raw is null) return min;
            if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) { Error(key, $"expected an integer, found '{raw}'"); return min; }
            if (v < min || v > max) { Error(key, $"{v} is out of range {min}..{max}"); return min; }
            return v;
        }

        public int Int(string key, int min, int max) => (int)Long(key, min, max);

        /// <summary>A paced rate: 0 (off) up to <see cref="MaxTimerRate"/> per second.</summary>
        public double Rate(string key)
        {
            var raw = Raw(key);
            if (raw is null) return 0;
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v)) { Error(key, $"expected a number of events per second, found '{raw}'"); return 0; }
            if (v < 0) { Error(key, $"{raw} is negative: expected 0..{MaxTimerRate} per second"); return 0; }
            if (v > 0 && v < MinTimerRate) { Error(key, TooSlow(raw)); return 0; }
            if (v > MaxTimerRate)
            {
                Error(key, $"{raw} per second is more than the {MaxTimerRate} per second one paced source serves ({MaxTimerRate / 100} events per 10 ms scheduler tick): expected 0..{MaxTimerRate}" +
                           (key == "rate" ? " (rate = 0 injects as fast as the fabric accepts)" : ""));
                return 0;
            }
            return v;
        }

        /// <summary>A count that may be <c>unlimited</c> (long.MaxValue).</summary>
        public long Budget(string key)
        {
            var raw = Raw(key);
            if (raw is null or "unlimited") return long.MaxValue;
            if (!long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) { Error(key, $"expected unlimited or an integer >= 0, found '{raw}'"); return long.MaxValue; }
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

        /// <summary>A duration; with <paramref name="tick"/>, one that a timer paces, so 0 or at least one scheduler tick.</summary>
        public TimeSpan Duration(string key, bool allowZero = false, bool tick = false) => DurationOf(key, Raw(key), allowZero, tick);

        /// <summary>The last segment of a HOCON path (<c>at[0]</c> of <c>migrate.at[0]</c>).</summary>
        public static string Last(string path) => path[(path.LastIndexOf('.') + 1)..];

        /// <summary>A list of durations (<c>[1s, 2500ms]</c>; <c>[]</c> is empty), each 0 or more; with
        /// <paramref name="tick"/>, each 0 or at least one scheduler tick. The valid ones, each with its path
        /// (<c>at[1]</c>), so that a later check can name it.</summary>
        public List<(string Path, TimeSpan Value)> Durations(string key, bool tick = false)
        {
            var result = new List<(string, TimeSpan)>();
            Values(key, "expected a list of durations such as [1s, 2500ms]", (path, raw) =>
            {
                var before = errors.Count;
                var v = DurationOf(path, raw, allowZero: true, tick);
                if (errors.Count == before) result.Add((path, v));
            });
            return result;
        }

        /// <summary><c>dense</c> (null: vCPU n has id n) or a list of <paramref name="vcpus"/> distinct vCPU ids
        /// 0..<see cref="VcpuIdMap.MaxId"/>, one per vCPU in creation order (KVM_CREATE_VCPU's id: the vCPU's IAFFID).</summary>
        public IReadOnlyList<int>? VcpuIds(string key, int vcpus)
        {
            var expected = $"expected dense or a list [ ... ] of {vcpus} distinct vCPU ids 0..{VcpuIdMap.MaxId}, one per vCPU (vcpus-per-vm = {vcpus})";
            var ids = DistinctIds(key, "dense", expected, VcpuIdMap.MaxId, out var count,
                raw => $"expected a vCPU id 0..{VcpuIdMap.MaxId} (an IAFFID is 16 bits), found '{raw}'",
                (id, first) => $"id {id} is also {first}: expected each vCPU to have its own id");
            if (ids is null) return null;
            if (count != vcpus) Error(key, $"{count} ids for {vcpus} vCPUs: {expected}");
            return ids.Count == vcpus ? ids : null;
        }

        /// <summary><c>all</c> (null) or a non-empty list of distinct VM ids 0..<paramref name="vms"/>-1.</summary>
        public IReadOnlyList<int>? VmIds(string key, int vms)
        {
            var expected = $"expected all or a list [ ... ] of VM ids 0..{vms - 1}";
            var ids = DistinctIds(key, "all", expected, vms - 1, out var count,
                raw => $"expected a VM id 0..{vms - 1} (vms = {vms}), found '{raw}'",
                (id, first) => $"VM {id} is also {first}: expected each VM once");
            if (ids is not null && count == 0) Error(key, $"an empty list moves no VM: {expected} (every = 0s and at = [] turn migration off)");
            return ids;
        }

        /// <summary>A list of distinct ids 0..<paramref name="max"/> at <paramref name="key"/> — each bad or repeated element
        /// an error at its path, the rest kept in order, <paramref name="count"/> the list's length — or null when the key
        /// holds <paramref name="keyword"/> (anything else that is not a list is an error).</summary>
        private List<int>? DistinctIds(string key, string keyword, string expected, int max, out int count,
            Func<string, string> badId, Func<int, string, string> repeated)
        {
            count = 0;
            if (!IsListAt(key))
            {
                var raw = Raw(key);
                if (raw is not null && raw != keyword) Error(key, $"{expected}, found '{raw}'");
                return null;
            }
            var ids = new List<int>();
            var paths = new Dictionary<int, string>();
            count = Values(key, expected, (path, raw) =>
            {
                if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id > max)
                    Error(path, badId(raw));
                else if (paths.TryGetValue(id, out var first))
                    Error(path, repeated(id, Last(first)));
                else { ids.Add(id); paths.Add(id, path); }
            });
            return ids;
        }

        /// <summary>False, with <paramref name="expected"/> as the error, when <paramref name="key"/> is set to
        /// something other than an object.</summary>
        public bool IsObject(string key, string expected)
        {
            try
            {
                if (!config.HasPath(key)) { Error(key, "missing"); return false; }
                if (config.GetValue(key).IsObject()) return true;
            }
            catch (Exception) { }
            Error(key, expected);
            return false;
        }

        private bool IsListAt(string key)
        {
            try { return config.HasPath(key) && IsList(config.GetValue(key)); }
            catch (Exception) { return false; }
        }

        /// <summary>Hands each plain value of a list to <paramref name="each"/> with its path (<c>key[i]</c>), in
        /// order; an object or list among them is an error. Returns how many elements the list has.</summary>
        private int Values(string key, string expected, Action<string, string> each)
        {
            if (!config.HasPath(key)) { Error(key, "missing"); return 0; }
            IList<HoconValue> values;
            try
            {
                var value = config.GetValue(key);
                if (!IsList(value)) { Error(key, value.IsObject() ? $"{expected}, found an object {{ ... }}" : $"{expected}, found '{value.GetString()}'"); return 0; }
                values = Elements(value);
            }
            catch (Exception) { Error(key, expected); return 0; }
            for (var i = 0; i < values.Count; i++)
            {
                var path = $"{key}[{i}]";
                if (values[i].IsObject()) Error(path, "expected a value, found an object { ... }");
                else if (IsList(values[i])) Error(path, "expected a value, found a list [ ... ]");
                else each(path, values[i].GetString());
            }
            return values.Count;
        }

        private TimeSpan DurationOf(string key, string? raw, bool allowZero, bool tick)
        {
            if (raw is null) return TimeSpan.Zero;
            if (!TryDuration(raw, out var v)) { Error(key, $"expected a duration such as 5s, 200ms or 10ms, found '{raw}'"); return TimeSpan.Zero; }
            if (v < TimeSpan.Zero || (!allowZero && v == TimeSpan.Zero)) Error(key, $"{raw} is not a {(allowZero ? "non-negative" : "positive")} duration");
            else if (tick && v > TimeSpan.Zero && v < SchedulerTick)
                Error(key, $"{raw} is shorter than Akka's scheduler tick (10 ms), so it would last a whole tick: expected {(allowZero ? "0 or " : "")}at least 10ms");
            return v;
        }

        /// <summary>HOCON durations: a number and a unit (ns, us, ms, s, m, h, d, or their long names).</summary>
        internal static bool TryDuration(string raw, out TimeSpan value)
        {
            value = TimeSpan.Zero;
            var text = raw.Trim();
            // A sign is read so that a negative duration is refused as negative, not as unreadable.
            var sign = text.StartsWith('-') ? 1 : 0;
            var i = sign;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (i == sign || !double.TryParse(text[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
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
            if (ticksPerUnit is not { } t || Math.Abs(n * t) > TimeSpan.MaxValue.Ticks) return false;
            value = TimeSpan.FromTicks((long)(n * t));
            return true;
        }

        /// <summary>An INTID range (<c>spi:0-31</c>, <c>lpi:8192-8199</c>, <c>ppi:27</c>) that fits the VM; null when invalid.</summary>
        public IntIdRange? IntIds(string key, int spis)
        {
            var raw = Raw(key);
            if (raw is null) return null;
            if (!IntIdRange.TryParse(raw, out var range, out var why)) { Error(key, $"expected an INTID range such as spi:0-31, lpi:8192-8199 or ppi:27: {why}"); return null; }
            if (range.Type == IntIdType.Spi && range.Last >= spis) { Error(key, $"{raw} reaches beyond the VM's {spis} SPIs (spi:0-{spis - 1}, spis-per-vm)"); return null; }
            if (range.Type == IntIdType.Lpi && range.Last >= 1L << VmLimits.LpiIdBits)
            {
                Error(key, $"{raw} reaches beyond the guest's {VmLimits.LpiIdBits} LPI ID bits (lpi:0-{(1L << VmLimits.LpiIdBits) - 1})");
                return null;
            }
            return range;
        }

        /// <summary>A node that may leave or be killed: 1..<paramref name="nodes"/>-1, node 0 being the seed and the driver;
        /// null when invalid. <paramref name="nodes"/> null: the node count is itself invalid, so 1..15 is allowed here.</summary>
        public int? Node(string key, int? nodes)
        {
            var raw = Raw(key);
            if (raw is null) return null;
            var max = (nodes ?? ClusterSpec.MaxNodes) - 1;
            var expected = max >= 1 ? $"expected a node 1..{max}" + (nodes is { } n ? $" (nodes = {n})" : "")
                : "with nodes = 1 no node can leave or be killed (expected leave = [] and kill = [])";
            var valid = int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var v);
            if (valid && v == 0) Error(key, $"node 0 is the seed and the driver: it cannot leave or be killed, so that at least one node remains; {expected}");
            else if (!valid || v > max) Error(key, $"{expected}, found '{raw}'");
            else return v;
            return null;
        }

        public int? Affinity(string key, int vcpus)
        {
            var raw = Raw(key);
            if (raw is null or "round-robin") return null;
            if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v >= vcpus)
            {
                Error(key, $"expected round-robin or a vCPU 0..{vcpus - 1} (vcpus-per-vm = {vcpus}), found '{raw}'");
                return null;
            }
            return v;
        }

        /// <summary>
        /// Why a value is no value, or null. Akka's parser reads <c>key = # comment</c> and <c>--set key=</c> as a value
        /// with nothing in it, and <c>key = null</c> as a null string; both would otherwise read as the key's minimum or
        /// first choice.
        /// </summary>
        private static string? Blank(HoconValue value) =>
            value.Values.Count == 0
                ? "empty (nothing after '=', or only a comment): expected a value"
                : IsNull(value) ? "null: expected a value" : null;

        /// <summary>The elements of a list. Akka's parser reads <c>[ ]</c> (or <c>[</c> and <c>]</c> on two lines) as a
        /// list of one element with nothing in it; such an element is no element.</summary>
        private static List<HoconValue> Elements(HoconValue list) => list.GetArray().Where(e => e.Values.Count > 0).ToList();

        /// <summary>Akka's HoconValue.IsArray() is false for an empty list <c>[]</c>; this is not.</summary>
        private static bool IsList(HoconValue value) => value.IsArray() || value.Values.Any(v => v is HoconArray);

        /// <summary>A list of objects, each read by <paramref name="item"/> with a reader whose paths name the element
        /// (<c>fabric.scenario.devices[1].rate</c>); keys outside <paramref name="allowed"/> are refused.</summary>
        public List<T> List<T>(string key, string[] allowed, Func<Reader, T> item)
        {
            var result = new List<T>();
            if (!config.HasPath(key)) { Error(key, "missing"); return result; }
            IList<HoconValue> values;
            try
            {
                var value = config.GetValue(key);
                if (!IsList(value)) { Error(key, "expected a list [ { ... }, ... ]"); return result; }
                values = Elements(value);
            }
            catch (Exception) { Error(key, "expected a list [ { ... }, ... ]"); return result; }
            for (var i = 0; i < values.Count; i++)
            {
                var path = $"{key}[{i}]";
                if (!values[i].IsObject()) { Error(path, "expected an object { ... }"); continue; }
                var obj = values[i].GetObject();
                foreach (var k in obj.Items.Keys.Where(k => !allowed.Contains(k))) Error($"{path}.{k}", $"unknown key (expected one of {string.Join(", ", allowed)})");
                var sub = new Reader(new Config(new HoconRoot(values[i])), where, $"{prefix}.{path}", errors);
                result.Add(item(sub));
            }
            return result;
        }
    }
}
