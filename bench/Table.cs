namespace ClusterNode.Bench;

/// <summary>The bench's output: one row per result, printed at the end so that no log line splits it.</summary>
public sealed class Table
{
    private readonly List<(string Id, string Label, TimeSpan? Time, double? MBps, string Ratio, string Runs)?> _rows = new();
    private readonly List<(int After, string Text)> _notes = new();

    public void Add(string id, string label, TimeSpan? time, double? megabytesPerSecond, string ratio, string runs) =>
        _rows.Add((id, label, time, megabytesPerSecond, ratio, runs));

    public void Note(string text) => _notes.Add((_rows.Count, text));

    public void Print()
    {
        var labelWidth = Math.Max(20, _rows.Max(r => r!.Value.Label.Length));
        Console.WriteLine($"{"#",-3} {"measurement".PadRight(labelWidth)} {"time",9} {"MB/s",8}  {"ratio",-20} runs (s)");
        for (var i = 0; i <= _rows.Count; i++)
        {
            foreach (var note in _notes.Where(n => n.After == i)) Console.WriteLine(note.Text);
            if (i == _rows.Count) break;
            var (id, label, time, mbps, ratio, runs) = _rows[i]!.Value;
            var timeText = time is { } t ? $"{t.TotalSeconds:F2} s" : "";
            var mbpsText = mbps is { } m ? $"{m:F1}" : "";
            Console.WriteLine($"{id,-3} {label.PadRight(labelWidth)} {timeText,9} {mbpsText,8}  {ratio,-20} {runs}");
        }
    }
}

public static class Stats
{
    public static T Median<T>(IReadOnlyList<T> runs, Func<T, TimeSpan> key) => runs.OrderBy(key).ElementAt(runs.Count / 2);

    public static string Runs(IEnumerable<TimeSpan> runs) => string.Join(" / ", runs.Select(r => r.TotalSeconds.ToString("F2")));

    public static string MiB(long bytes) => $"{bytes / 1048576.0:F1} MiB";
}
