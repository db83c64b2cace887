using System.Text;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Fabric.Host.Scenarios;

/// <summary>
/// What Akka's HOCON parser cannot survive, found before it runs. Akka resolves a substitution by recursion with no
/// cycle check, so <c>vms = ${fabric.scenario.vms}</c>, or two keys that refer to each other, overflow the stack and
/// abort the process (exit 134: a stack overflow cannot be caught in .NET); so does nesting thousands deep. Nesting is
/// bounded by <see cref="MaxDepth"/> (ScenarioLoader's bracket scan); substitutions are checked here for cycles.
/// </summary>
public static partial class HoconGuard
{
    /// <summary>How deep objects and lists may nest (a scenario needs four or five levels).</summary>
    public const int MaxDepth = 64;

    /// <summary>How many dot-separated segments one key may have (a path of thousands of segments nests as deep).</summary>
    public const int MaxKeySegments = 64;

    private const string Marker = "__fabric_substitution_";

    [GeneratedRegex(Marker + @"(\d+)__")]
    private static partial Regex Placeholder();

    /// <summary>
    /// Null when no substitution of <paramref name="text"/> refers, directly or through others, to itself; else the
    /// message naming the key and the cycle. Each <c>${path}</c> is replaced by a unique string and the text parsed
    /// without resolving anything; then each key holding a substitution depends on every key holding one that its path
    /// names (the same key, one inside it, or one it is inside), and a cycle in that graph is what Akka cannot resolve.
    /// </summary>
    /// <para>An optional substitution <c>${?path}</c> that names no key of the file is refused too: a scenario's
    /// substitutions see only its own file, so it stands for nothing, and inside a list Akka's parser loops forever on
    /// it (found by fuzzing).</para>
    public static string? Substitutions(string text)
    {
        var targets = new List<string>();
        var optional = new List<bool>();
        var neutral = Neutralise(text, targets, optional);
        if (targets.Count == 0) return null;
        Config parsed;
        // Replacing a substitution by a string keeps valid text valid; what does not parse now is refused here, since
        // Akka's parser can loop forever on such text once the substitutions are back in (found by fuzzing).
        try { parsed = ScenarioLoader.ParseWithin(neutral, ScenarioLoader.ParseTimeout) ?? throw new TimeoutException("Akka's parser did not finish"); }
        catch (Exception e) { return $"not valid HOCON: {e.Message.Trim()}"; }
        for (var i = 0; i < targets.Count; i++)
            if (optional[i] && !Exists(parsed, targets[i]))
                return $"the optional substitution ${{?{targets[i]}}} names no key of this file (a scenario's substitutions see only its own file, not akka.hocon): write the value, or leave the key out";
        // Which key holds which substitution.
        var sites = new List<(string Key, int Target)>();
        if (parsed.Root is { } root) Collect(root, "", sites);
        foreach (var (key, target) in sites)
        {
            if (FindCycle(key, targets[target], sites, targets) is { } cycle)
                return $"{key}: the substitution ${{{targets[target]}}} refers back to itself ({string.Join(" -> ", cycle)}): Akka's parser cannot resolve a cyclic substitution; write the value itself";
        }
        return null;
    }

    /// <summary>The keys from <paramref name="start"/> back to itself, following what each substitution names; or null.</summary>
    private static List<string>? FindCycle(string start, string firstTarget, List<(string Key, int Target)> sites, List<string> targets)
    {
        var path = new List<string> { start };
        var seen = new HashSet<string>();
        return Walk(firstTarget);

        List<string>? Walk(string target)
        {
            foreach (var (key, t) in sites)
            {
                if (!Overlaps(target, key)) continue;
                if (key == start) return [.. path, key];
                if (!seen.Add(key)) continue;
                path.Add(key);
                if (Walk(targets[t]) is { } found) return found;
                path.RemoveAt(path.Count - 1);
            }
            return null;
        }
    }

    private static bool Exists(Config parsed, string path)
    {
        try { return path.Length > 0 && parsed.HasPath(path); }
        catch (Exception) { return false; }
    }

    /// <summary>Resolving <paramref name="target"/> reads <paramref name="key"/>: the same path, or one inside the other.</summary>
    private static bool Overlaps(string target, string key) =>
        target == key || key.StartsWith(target + ".", StringComparison.Ordinal) || target.StartsWith(key + ".", StringComparison.Ordinal);

    private static void Collect(HoconValue value, string path, List<(string, int)> sites)
    {
        if (value.IsObject())
        {
            foreach (var (k, v) in value.GetObject().Items) Collect(v, path.Length == 0 ? k : path + "." + k, sites);
            return;
        }
        if (value.IsArray())
        {
            foreach (var item in value.GetArray()) Collect(item, path, sites);
            return;
        }
        string s;
        try { s = value.GetString() ?? ""; }
        catch (Exception) { return; }
        foreach (Match m in Placeholder().Matches(s)) sites.Add((path, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// A comment or a quoted string starting at <paramref name="i"/>, as every scan of a scenario's text skips it (the
    /// bracket check, the empty-value check, the substitution check): null when none starts there; otherwise the index of
    /// its last character — a comment runs to the end of its line, a <c>"""</c> string to its closing quotes, a
    /// <c>"..."</c> string to its closing quote or, unclosed, to the end of its line (the newline is not its) — and
    /// whether a string was closed.
    /// </summary>
    public static (int Last, bool Closed)? CommentOrString(string text, int i)
    {
        var c = text[i];
        if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
        {
            var eol = text.IndexOf('\n', i);
            return ((eol < 0 ? text.Length : eol) - 1, true);
        }
        if (c != '"') return null;
        if (IsTripleQuote(text, i))
        {
            var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
            return end < 0 ? (text.Length - 1, false) : (end + 2, true);
        }
        var j = i + 1;
        while (j < text.Length && text[j] != '"' && text[j] != '\n') j += text[j] == '\\' ? 2 : 1;
        return j < text.Length && text[j] == '"' ? (j, true) : (Math.Min(j, text.Length) - 1, false);
    }

    /// <summary>Whether a <c>"""</c> string starts at <paramref name="i"/>.</summary>
    public static bool IsTripleQuote(string text, int i) => i + 2 < text.Length && text[i] == '"' && text[i + 1] == '"' && text[i + 2] == '"';

    /// <summary>The text with every <c>${path}</c> / <c>${?path}</c> outside strings and comments replaced by a quoted
    /// marker; the paths, in order, into <paramref name="targets"/>.</summary>
    private static string Neutralise(string text, List<string> targets, List<bool> optional)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (CommentOrString(text, i) is { Last: var last })
            {
                sb.Append(text, i, last - i + 1);
                i = last;
            }
            else if (c == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                var close = text.IndexOf('}', i + 2);
                if (close < 0) { sb.Append(text, i, text.Length - i); break; }
                var inside = text[(i + 2)..close].Trim();
                optional.Add(inside.StartsWith('?'));
                var target = inside.TrimStart('?').Trim().Trim('"');
                sb.Append('"').Append(Marker).Append(targets.Count).Append("__\"");
                targets.Add(target);
                i = close;
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
