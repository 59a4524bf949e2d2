// What the terminal shows at the end: wall time per workload (median and ratio to glibc), then
// the targets with their verdicts, and the threads targets with their notes when threaded
// workloads ran. The Markdown report has everything else.

using System.Collections.Generic;
using System.Linq;
using Spectre.Console;

namespace FtMalloc.Bench.Reporting;

internal static class ConsoleReport
{
    public static void Show(Results r, List<Target> targets, ThreadsEvaluation? threads)
    {
        var measured = r.Measured;
        var glibc = r.Glibc;
        foreach (var m in new[] { Metric.Wall, Metric.Rss })
        {
            var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{m.Title}[/] (median; ratio to glibc)");
            table.AddColumn("workload");
            foreach (var a in measured)
                table.AddColumn(new TableColumn(Markup.Escape(a.Name)).RightAligned());
            foreach (var w in r.Workloads)
            {
                var cells = new List<string> { Markup.Escape(w.Name) };
                foreach (var a in measured)
                {
                    if (r.Failed(w, a))
                    {
                        cells.Add("[red]FAILED[/]");
                        continue;
                    }
                    double v = r.Median(w, a, m);
                    cells.Add(a == glibc ? m.Format(v) : $"{m.Format(v)} {Colour(v / r.Median(w, glibc, m))}");
                }
                table.AddRow(cells.ToArray());
            }
            var geo = new List<string> { "[bold]geomean[/] (programs+synthetic)" };
            geo.AddRange(measured.Select(a => a == glibc ? "1" : Colour(r.GeoMean(a, glibc, m).Value)));
            table.AddRow(geo.ToArray());
            AnsiConsole.Write(table);
        }

        var ft = r.Find(Allocator.FtMallocName);
        AnsiConsole.Write(TargetsTable("Targets", targets, measured, ft));
        if (threads != null)
        {
            AnsiConsole.Write(TargetsTable("Threads targets", threads.Targets, measured, ft));
            foreach (string note in threads.Notes)
                AnsiConsole.MarkupLine($"[grey]- {Markup.Escape(note)}[/]");
        }
        if (ft == null)
        {
            var missing = r.Allocators.FirstOrDefault(a => a.Name == Allocator.FtMallocName);
            if (missing != null)
                AnsiConsole.MarkupLine($"[yellow]FtMalloc {missing.StateText}[/]: {Markup.Escape(missing.Note)}");
        }
    }

    private static Table TargetsTable(string title, IEnumerable<Target> targets, IReadOnlyList<Allocator> measured, Allocator? ft)
    {
        var t = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(title)}[/]");
        t.AddColumns("target", "goal", "verdict");
        foreach (var a in measured)
            t.AddColumn(new TableColumn(Markup.Escape(a.Name)).RightAligned());
        foreach (var target in targets)
        {
            var mine = target.For(ft);
            string noise = mine.Noise == NoiseVerdict.NotAssessed ? "" : $" [grey]({Noise.Describe(mine.Noise, mine.Verdict)})[/]";
            var row = new List<string> { Markup.Escape(target.Short), Markup.Escape(target.Goal), Verdict(mine.Verdict) + noise };
            row.AddRange(measured.Select(a =>
            {
                var v = target.For(a);
                string colour = v.Verdict switch { Bench.Verdict.Pass => "green", Bench.Verdict.Fail => "red", _ => "grey" };
                return $"[{colour}]{Markup.Escape(v.Text)}[/]";
            }));
            t.AddRow(row.ToArray());
        }
        return t;
    }

    private static string Verdict(Verdict v) => v switch
    {
        Bench.Verdict.Pass => "[green]pass[/]",
        Bench.Verdict.Fail => "[red]fail[/]",
        _ => "[grey]n/a[/]",
    };

    private static string Colour(double ratio)
    {
        if (double.IsNaN(ratio))
            return "[grey]–[/]";
        string colour = ratio <= 0.95 ? "green" : ratio >= 1.05 ? "red" : "grey";
        return $"[{colour}]{Fmt.Ratio(ratio)}[/]";
    }
}
