// --from DIR: the report again from an earlier invocation's DIR/runs.csv, without running anything,
// with the current Targets.cs / ThreadTargets.cs / Reporting/ (to judge old data by new targets).
// The machine section describes the machine now, not then; the load average is unknown; allocator
// versions and preloads are not in runs.csv. Repetitions and warm-ups are read from the rows;
// --smoke says the data were a smoke run (it changes captions only).
//
// Columns are found by their header name. The run column (1-based run index, or "warmup") is what
// pairs run k of one allocator with run k of another (Noise.cs); a runs.csv without it is read
// with every row as a measured run, in file order, and the report falls back to ratios of medians
// without ranges and says so (Results.RunsKnown).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using FtMalloc.Bench.Reporting;
using FtMalloc.Bench.Workloads;
using Spectre.Console;

namespace FtMalloc.Bench;

internal static class Replay
{
    public static int Run(string from, BenchOptions given)
    {
        string csv = Directory.Exists(from) ? Path.Combine(from, "runs.csv") : from;
        if (!File.Exists(csv))
        {
            AnsiConsole.MarkupLine($"[red]no runs.csv at {Markup.Escape(csv)}[/]");
            return 2;
        }
        var catalog = Catalog.All().Concat(Catalog.Threaded()).ToDictionary(w => w.Name);
        var allocators = new List<Allocator>();
        var workloads = new List<Workload>();
        var records = new List<RunRecord>();
        var inv = CultureInfo.InvariantCulture;
        var header = SplitCsv(File.ReadLines(csv).FirstOrDefault() ?? "");
        var column = header.Select((name, i) => (name, i)).Where(x => x.name.Length > 0)
            .GroupBy(x => x.name).ToDictionary(g => g.Key, g => g.First().i);
        string[] required = { "workload", "allocator", "ok", "wall_ms", "user_ms", "sys_ms", "maxrss_kb", "minflt", "majflt" };
        var absent = required.Where(c => !column.ContainsKey(c)).ToList();
        if (absent.Count > 0)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(csv)} has no column {Markup.Escape(string.Join(", ", absent))}[/]");
            return 2;
        }
        bool runsKnown = column.ContainsKey("run");
        if (!runsKnown)
            AnsiConsole.MarkupLine("[yellow]runs.csv has no run column: every row is read as a measured run, and runs are not paired[/]");
        var seen = new Dictionary<(Workload, Allocator), int>();
        foreach (string line in File.ReadLines(csv).Skip(1))
        {
            if (line.Length == 0)
                continue;
            var row = SplitCsv(line);
            string Field(string name) => column.TryGetValue(name, out int i) && i < row.Count ? row[i] : "";
            // The fields in the order this file used to read them by position.
            var f = new[] { "workload", "allocator", "run", "ok", "wall_ms", "user_ms", "sys_ms", "maxrss_kb", "minflt", "majflt", "digest", "metrics", "failure" }
                .Select(Field).ToList();
            if (!catalog.TryGetValue(f[0], out var w))
            {
                AnsiConsole.MarkupLine($"[yellow]skipped unknown workload {Markup.Escape(f[0])}[/]");
                continue;
            }
            if (!workloads.Contains(w))
                workloads.Add(w);
            var a = allocators.FirstOrDefault(x => x.Name == f[1]);
            if (a == null)
                allocators.Add(a = new Allocator { Name = f[1], Note = "replayed from " + csv });
            Sample? s = f[4].Length == 0 ? null : new Sample(
                double.Parse(f[4], inv), double.Parse(f[5], inv), double.Parse(f[6], inv),
                long.Parse(f[7], inv), long.Parse(f[8], inv), long.Parse(f[9], inv));
            var metrics = f[11].Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => double.Parse(kv[1], inv));
            int inFile = seen[(w, a)] = seen.GetValueOrDefault((w, a)) + 1;
            records.Add(new RunRecord
            {
                Workload = w, Allocator = a, Rep = !runsKnown ? inFile - 1 : f[2] == "warmup" ? -1 : int.Parse(f[2], inv) - 1,
                Sample = s, Ok = f[3] == "1", Digest = f[10], Metrics = metrics, Failure = f[12],
            });
        }
        if (!allocators.Any(a => a.Name == Allocator.Reference))
        {
            AnsiConsole.MarkupLine("[red]runs.csv has no glibc rows[/]");
            return 2;
        }
        // Report order: glibc first, then as the suite orders them.
        string[] order = { Allocator.Reference, Allocator.FtMallocName, "jemalloc", "tcmalloc", "mimalloc" };
        allocators = allocators.OrderBy(a => Array.IndexOf(order, a.Name) is int i && i >= 0 ? i : order.Length).ToList();
        var options = new BenchOptions
        {
            Smoke = given.Smoke,
            Repeat = records.Where(r => !r.Warmup).Select(r => r.Rep + 1).DefaultIfEmpty(0).Max(),
            Warmup = records.GroupBy(r => (r.Workload, r.Allocator)).Select(g => g.Count(r => r.Warmup)).DefaultIfEmpty(0).Max(),
            StartupExecs = given.StartupExecs,
            Threads = workloads.Any(w => w.Threading != null),
        };
        string outDir = Path.GetFullPath(given.OutputDir ?? Path.Combine(Paths.BenchDir, "results",
            DateTime.Now.ToString("yyyyMMdd-HHmmss", inv) + "-from-" + new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(csv))!).Name));
        Directory.CreateDirectory(outDir);

        var results = new Results(allocators, workloads, records, options) { RunsKnown = runsKnown };
        var load = new MachineLoad(double.NaN, double.NaN, Environment.ProcessorCount);
        var targets = Targets.Evaluate(results);
        var threadTargets = ThreadTargets.Evaluate(results, load);
        string chart = Chart.Write(outDir, results, msg => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(msg)}[/]"));
        string report = MarkdownReport.Write(outDir, results, targets, threadTargets, chart, TimeSpan.Zero,
            $"replayed from `{csv}`: the machine lines above describe the machine now; the load average during the runs is unknown" +
            (runsKnown ? "" : "; that runs.csv has no run column, so runs are not paired and the time comparisons have no range"));
        CsvExport.Write(Path.Combine(outDir, "runs.csv"), records);
        ConsoleReport.Show(results, targets, threadTargets);
        AnsiConsole.MarkupLine($"report: [blue]{Markup.Escape(report)}[/]");
        return 0;
    }

    /// <summary>One line of runs.csv: commas separate, a field in double quotes may hold commas and doubled quotes.</summary>
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cur.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cur.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(cur.ToString()); cur.Clear(); }
            else cur.Append(c);
        }
        fields.Add(cur.ToString());
        while (fields.Count < 13)
            fields.Add("");
        return fields;
    }
}
