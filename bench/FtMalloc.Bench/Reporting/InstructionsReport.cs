// The instruction counts (Suite.Instructions.cs) as a report section, a whole report.md of their
// own in --instructions mode, instructions.csv, and a table on the terminal.
//
// Invariants
//   ratio to glibc  = instructions(w, a) / instructions(w, glibc)
//   ratio to fewest = instructions(w, a) / min over the counted allocators of instructions(w, ·)
//   geometric means are taken over the workloads that every counted allocator completed, so every
//   allocator's mean covers the same workloads (the cell says n/of when some are missing).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using FtMalloc.Bench.Workloads;
using Spectre.Console;

namespace FtMalloc.Bench.Reporting;

internal static class InstructionsReport
{
    /// <summary>report.md of an --instructions run: what ran, the allocators, the counts, the failures.</summary>
    public static string WriteReport(string outDir, BenchOptions options, IReadOnlyList<Allocator> allocators, CountedRun counted,
        TimeSpan took, string load)
    {
        var md = new StringBuilder();
        md.AppendLine($"# FtMalloc benchmark report — instruction counts — {DateTime.Now:yyyy-MM-dd HH:mm}");
        md.AppendLine();
        md.AppendLine($"Mode **{options.ModeName}**: every program and synthetic workload ran once per allocator under callgrind, " +
                      $"{(options.Smoke ? "at its smoke size" : "at its counted size")}; nothing was timed. Took {took:h\\:mm\\:ss}.");
        md.AppendLine();
        md.AppendLine("## Machine and allocators");
        md.AppendLine();
        foreach (string line in MarkdownReport.MachineInfo())
            md.AppendLine("- " + line);
        md.AppendLine("- " + counted.Valgrind);
        md.AppendLine("- " + load + " (instruction counts do not depend on it)");
        md.AppendLine();
        md.AppendLine("| allocator | state | version | library / note |");
        md.AppendLine("|---|---|---|---|");
        foreach (var a in allocators)
            md.AppendLine($"| {a.Name} | {a.StateText} | {MarkdownReport.Cell(a.Version)} | {MarkdownReport.Cell(a.Ready ? (a.Preload ?? "(no preload)") + "; " + a.Note : a.Note)} |");
        md.AppendLine();
        Section(md, options, counted);
        string path = Path.Combine(outDir, "report.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>The "Instructions" section: the table, how it was counted, what was left out, failures.</summary>
    public static void Section(StringBuilder md, BenchOptions options, CountedRun counted)
    {
        var allocators = counted.Counted.ToList();
        md.AppendLine("## Instructions executed (callgrind)");
        md.AppendLine();
        md.AppendLine($"One run per workload and allocator under `valgrind --tool=callgrind`, {(options.Smoke ? "at the smoke size" : "at the counted size (bench/README.md)")}. " +
                      "Each cell: instructions (millions), then the ratio to glibc and **÷ the fewest** any allocator executed on that workload. " +
                      "Counts repeat to within a few thousand instructions, so a difference of 0.1 % is real here, unlike a wall time; " +
                      "they leave out what an instruction costs (cache misses, page faults, system calls), so read them beside the timed report.");
        md.AppendLine();
        if (counted.NoValgrind)
        {
            md.AppendLine($"**Nothing was counted: {counted.Valgrind}.**");
            md.AppendLine();
            return;
        }
        if (counted.Workloads.Count > 0 && allocators.Count > 0)
        {
            var glibc = allocators.FirstOrDefault(a => a.Name == Allocator.Reference);
            md.AppendLine("| workload | processes |" + string.Concat(allocators.Select(a => $" {a.Name} |")));
            md.AppendLine("|---|--:|" + string.Concat(allocators.Select(_ => "--:|")));
            foreach (var w in counted.Workloads)
            {
                var procs = counted.Records.Where(r => r.Workload == w && r.Count != null).Select(r => r.Count!.Processes).Distinct().OrderBy(n => n).ToList();
                string processes = procs.Count == 0 ? "–" : procs.Count == 1 ? Fmt.Inv($"{procs[0]}") : Fmt.Inv($"{procs[0]}–{procs[^1]}");
                md.Append($"| {w.Name} | {processes} |");
                double fewest = counted.Fewest(w);
                foreach (var a in allocators)
                    md.Append($" {Cell(counted, w, a, glibc, fewest)} |");
                md.AppendLine();
            }
            var (toGlibc, toFewest, n, of) = GeoMeans(counted, allocators);
            string cover = n != of ? $" ({n}/{of} workloads)" : "";
            md.AppendLine("| **geometric mean, ÷ glibc**" + cover + " | |" + string.Concat(allocators.Select(a => $" **{Fmt.Ratio(toGlibc[a])}** |")));
            md.AppendLine("| **geometric mean, ÷ the fewest**" + cover + " | |" + string.Concat(allocators.Select(a => $" **{Fmt.Ratio(toFewest[a])}** |")));
            md.AppendLine();
        }
        md.AppendLine("How it is counted:");
        md.AppendLine();
        md.AppendLine("- `measure --preload LIB -- valgrind --tool=callgrind --callgrind-out-file=/dev/null --trace-children=yes --log-file=… PROGRAM …` " +
                      "(glibc without a preload); the preload is checked under valgrind with the same probe as the timed runs.");
        md.AppendLine("- **Child processes are counted** (`--trace-children=yes`): the figure is the sum of callgrind's `Collected` over the workload's " +
                      "processes — the program and every program it executes (gcc's `cc1` and `as`, the git script's `git`, `cp` and `grep`). " +
                      "The *processes* column gives how many. A process forked without an exec (a shell's subshell) is not added: callgrind " +
                      "starts it with its parent's count, which would count the parent twice; what it executes after the fork, and what any " +
                      "child executes between its fork and its exec, are therefore left out (a few thousand instructions each).");
        md.AppendLine("- Every run is checked as a timed run is (exit code 0, the workload's own check, glibc's answer); a failure has no count.");
        if (counted.Skipped.Count > 0)
            md.AppendLine("- Not counted: " + string.Join("; ", counted.Skipped.GroupBy(s => s.Why).Select(g => $"{string.Join(", ", g.Select(s => s.Workload.Name))} ({g.Key})")) + ".");
        md.AppendLine();
        var failed = counted.Records.Where(r => !r.Ok).ToList();
        if (failed.Count == 0 && counted.Unusable.Count == 0)
            return;
        md.AppendLine("### Instruction-count failures");
        md.AppendLine();
        md.AppendLine("| workload | allocator | failure |");
        md.AppendLine("|---|---|---|");
        foreach (var (a, why) in counted.Unusable)
            md.AppendLine($"| (all) | {a.Name} | {MarkdownReport.Cell(why)} |");
        foreach (var f in failed)
            md.AppendLine($"| {f.Workload.Name} | {f.Allocator.Name} | {MarkdownReport.Cell(f.Failure)} |");
        md.AppendLine();
    }

    private static string Cell(CountedRun counted, Workload w, Allocator a, Allocator? glibc, double fewest)
    {
        var r = counted.Find(w, a);
        if (r == null)
            return "–";
        if (!r.Ok)
            return "**FAILED**";
        double v = counted.Instructions(w, a);
        double g = glibc == null ? double.NaN : counted.Instructions(w, glibc);
        double f = v / fewest;
        string toFewest = f == 1 ? "**1.00×**" : Fmt.Ratio(f);
        return a == glibc ? $"{Fmt.Instructions(v)} (÷ fewest {toFewest})" : $"{Fmt.Instructions(v)} ({Fmt.Ratio(v / g)} · ÷ fewest {toFewest})";
    }

    /// <summary>Per allocator, geometric means of the ratio to glibc and to the fewest, over the
    /// workloads every allocator completed; and how many those are of how many were counted.</summary>
    public static (Dictionary<Allocator, double> ToGlibc, Dictionary<Allocator, double> ToFewest, int Count, int Of) GeoMeans(
        CountedRun counted, IReadOnlyList<Allocator> allocators)
    {
        var glibc = allocators.FirstOrDefault(a => a.Name == Allocator.Reference);
        var complete = counted.Workloads.Where(w => allocators.All(a => !double.IsNaN(counted.Instructions(w, a)))).ToList();
        var toGlibc = allocators.ToDictionary(a => a, a => glibc == null ? double.NaN
            : Stats.GeoMean(complete.Select(w => counted.Instructions(w, a) / counted.Instructions(w, glibc))));
        var toFewest = allocators.ToDictionary(a => a, a => Stats.GeoMean(complete.Select(w => counted.Instructions(w, a) / counted.Fewest(w))));
        return (toGlibc, toFewest, complete.Count, counted.Workloads.Count);
    }

    /// <summary>instructions.csv: one line per counted run, failures included.</summary>
    public static void WriteCsv(string path, CountedRun counted)
    {
        var sb = new StringBuilder();
        sb.AppendLine("workload,allocator,ok,instructions,ratio_glibc,ratio_fewest,processes,forked_not_counted,callgrind_wall_ms,digest,failure");
        var glibc = counted.Allocators.FirstOrDefault(a => a.Name == Allocator.Reference);
        foreach (var r in counted.Records)
        {
            double v = counted.Instructions(r.Workload, r.Allocator);
            double g = glibc == null ? double.NaN : counted.Instructions(r.Workload, glibc);
            double f = counted.Fewest(r.Workload);
            sb.AppendLine(string.Join(",",
                r.Workload.Name, r.Allocator.Name, r.Ok ? "1" : "0",
                r.Count == null || !r.Ok ? "" : r.Count.Instructions.ToString(CultureInfo.InvariantCulture),
                double.IsNaN(v / g) ? "" : Fmt.Inv($"{v / g:0.00000}"),
                double.IsNaN(v / f) ? "" : Fmt.Inv($"{v / f:0.00000}"),
                r.Count == null ? "" : Fmt.Inv($"{r.Count.Processes}"),
                r.Count == null ? "" : Fmt.Inv($"{r.Count.ForkedSkipped}"),
                r.Sample == null ? "" : Fmt.Inv($"{r.Sample.WallMs:0}"),
                r.Digest, Quote(r.Failure)));
        }
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>The terminal table: instructions and ratio to glibc, the fewest in green.</summary>
    public static void Show(CountedRun counted)
    {
        var allocators = counted.Counted.ToList();
        if (counted.Workloads.Count == 0 || allocators.Count == 0 || counted.NoValgrind)
            return;
        var glibc = allocators.FirstOrDefault(a => a.Name == Allocator.Reference);
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]Instructions[/] (callgrind; ÷ glibc; [green]fewest[/])");
        table.AddColumn("workload");
        foreach (var a in allocators)
            table.AddColumn(new TableColumn(Markup.Escape(a.Name)).RightAligned());
        foreach (var w in counted.Workloads)
        {
            var cells = new List<string> { Markup.Escape(w.Name) };
            double fewest = counted.Fewest(w);
            foreach (var a in allocators)
            {
                var r = counted.Find(w, a);
                if (r is { Ok: false })
                {
                    cells.Add("[red]FAILED[/]");
                    continue;
                }
                double v = counted.Instructions(w, a);
                string text = Fmt.Instructions(v) + (a == glibc || glibc == null ? "" : $" ({Fmt.Ratio(v / counted.Instructions(w, glibc))})");
                cells.Add(v == fewest ? $"[green]{text}[/]" : text);
            }
            table.AddRow(cells.ToArray());
        }
        var (toGlibc, toFewest, n, of) = GeoMeans(counted, allocators);
        string cover = n != of ? $" ({n}/{of})" : "";
        table.AddRow(new[] { "[bold]geomean ÷ glibc[/]" + cover }.Concat(allocators.Select(a => Fmt.Ratio(toGlibc[a]))).ToArray());
        table.AddRow(new[] { "[bold]geomean ÷ fewest[/]" + cover }.Concat(allocators.Select(a => Fmt.Ratio(toFewest[a]))).ToArray());
        AnsiConsole.Write(table);
    }

    private static string Quote(string s) => s.Length == 0 ? "" : "\"" + s.Replace("\"", "\"\"") + "\"";
}
