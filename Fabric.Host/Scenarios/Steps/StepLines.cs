namespace Fabric.Host.Scenarios.Steps;

/// <summary>
/// Where each step begins in the scenario's text. Akka's HOCON parser keeps no line numbers, so the text is scanned
/// here: the last key <c>steps</c> (quoted or not, alone or as the end of a dotted path such as
/// <c>fabric.scenario.steps</c>) followed by <c>=</c>, <c>:</c> or directly by a list — HOCON lets a later key win, and a
/// scenario sets <c>steps</c> once — then the line on which each element of its list starts, skipping comments
/// (<c>#</c>, <c>//</c>), strings and nested objects and lists. Element i of the result is the line (1-based) of step i.
/// </summary>
public static class StepLines
{
    public static IReadOnlyList<int> Find(string text)
    {
        var start = LastStepsList(text);
        return start < 0 ? [] : Elements(text, start);
    }

    /// <summary>The index of the '[' that opens the last <c>steps</c> list, or -1.</summary>
    private static int LastStepsList(string text)
    {
        var found = -1;
        Scan(text, i =>
        {
            if (!IsKeyAt(text, i)) return;
            var j = i + (text[i] == '"' ? 7 : 5);
            while (j < text.Length && text[j] is ' ' or '\t') j++;
            if (j < text.Length && text[j] is '=' or ':') j++;
            while (j < text.Length && char.IsWhiteSpace(text[j])) j++;
            if (j < text.Length && text[j] == '[') found = j;
        });
        return found;
    }

    /// <summary><c>steps</c> or <c>"steps"</c> as a whole key at <paramref name="i"/>: after a separator or a dot, and not
    /// followed by more of a name.</summary>
    private static bool IsKeyAt(string text, int i)
    {
        var quoted = text[i] == '"';
        var word = quoted ? "\"steps\"" : "steps";
        if (string.CompareOrdinal(text, i, word, 0, word.Length) != 0) return false;
        if (i > 0 && !(char.IsWhiteSpace(text[i - 1]) || text[i - 1] is '{' or ',' or '.')) return false;
        var after = i + word.Length;
        return after >= text.Length || !(char.IsLetterOrDigit(text[after]) || text[after] is '-' or '_' || (!quoted && text[after] == '"'));
    }

    /// <summary>The start line of each element of the list whose '[' is at <paramref name="open"/>.</summary>
    private static List<int> Elements(string text, int open)
    {
        var lines = new List<int>();
        var line = 1 + text.AsSpan(0, open).Count('\n');
        var depth = 0;
        var between = true;
        for (var i = open; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                if (depth == 1) between = true;   // a newline separates elements as a comma does
                continue;
            }
            if (char.IsWhiteSpace(c)) continue;
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                continue;
            }
            if (depth == 1 && c == ',') { between = true; continue; }
            if (depth == 1 && c == ']') return lines;
            if (depth == 1 && between && c != ']') { lines.Add(line); between = false; }
            switch (c)
            {
                case '[' or '{': depth++; break;
                case ']' or '}': depth--; break;
                case '"':
                    i++;
                    while (i < text.Length && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
                    break;
            }
        }
        return lines;
    }

    /// <summary>Calls <paramref name="at"/> with the index of every 's' and every quote outside comments and strings: where
    /// the key <c>steps</c> may begin.</summary>
    private static void Scan(string text, Action<int> at)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                continue;
            }
            if (c == '"')
            {
                if (IsKeyAt(text, i)) at(i);
                i++;
                while (i < text.Length && text[i] != '"' && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
                continue;
            }
            if (c == 's') at(i);
        }
    }
}
