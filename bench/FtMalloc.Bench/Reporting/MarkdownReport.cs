// report.md: what was run, the targets with pass/fail for FtMalloc (and the threads targets when
// threaded workloads ran: ThreadsSection.cs), one summary table per metric (median and ratio to
// glibc; the wall-time table also FtMalloc's paired ratio to the fastest allocator, followed by
// FtMalloc's paired ratios to every allocator and the run's measured noise: NoiseSection.cs),
// geometric-mean ratio matrices, the figures the drivers measured themselves, every figure
// of every workload as a ratio to every other allocator, and failures.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench.Reporting;

internal static class MarkdownReport
{
    public static string Write(string outDir, Results r, List<Target> targets, ThreadsEvaluation? threads, string chart, TimeSpan took, string load)
    {
        var md = new StringBuilder();
        var measured = r.Measured;
        var ft = r.Find(Allocator.FtMallocName);
        var glibc = r.Glibc;

        md.AppendLine($"# FtMalloc benchmark report — {DateTime.Now:yyyy-MM-dd HH:mm}");
        md.AppendLine();
        md.AppendLine($"Mode **{r.Options.ModeName}**: {r.Options.Repeat} measured run(s) per workload and allocator after {r.Options.Warmup} warm-up run(s), " +
                      $"interleaved run by run; every figure is the **median** of the measured runs. Took {took:h\\:mm\\:ss}. " +
                      "The time targets also say whether their goal lies within the range of the paired runs (**within noise**), beside the verdict on the medians.");
        if (r.Options.Smoke)
            md.AppendLine("Smoke inputs are tiny: these figures check that everything runs, they say little about speed.");
        md.AppendLine();
        md.AppendLine("## Machine and allocators");
        md.AppendLine();
        foreach (string line in MachineInfo())
            md.AppendLine("- " + line);
        md.AppendLine("- " + load);
        md.AppendLine();
        md.AppendLine("| allocator | state | version | library / note |");
        md.AppendLine("|---|---|---|---|");
        foreach (var a in r.Allocators)
            md.AppendLine($"| {a.Name} | {a.StateText} | {Cell(a.Version)} | {Cell(a.Ready ? (a.Preload ?? "(no preload)") + "; " + a.Note : a.Note)} |");
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        if (ft == null)
        {
            var missing = r.Allocators.FirstOrDefault(a => a.Name == Allocator.FtMallocName);
            md.AppendLine($"**FtMalloc was not measured: {(missing == null ? "not selected" : missing.StateText + " — " + missing.Note)}.** " +
                          "The other allocators' columns show what the targets mean on this machine.");
            md.AppendLine();
        }
        TargetsTable(md, targets, measured, ft);
        if (threads != null)
            ThreadsSection.Write(md, r, threads);

        if (chart.Length > 0)
        {
            md.AppendLine($"![time and peak RSS ratios to glibc per workload]({Path.GetFileName(chart)})");
            md.AppendLine();
        }

        foreach (var m in Metric.All)
        {
            md.AppendLine($"## {m.Title}: median, and ratio to glibc");
            md.AppendLine();
            bool versusFastest = m == Metric.Wall && ft != null;
            md.Append("| workload |");
            foreach (var a in measured)
                md.Append($" {a.Name} |");
            md.AppendLine(versusFastest ? " FtMalloc ÷ fastest, paired |" : "");
            md.AppendLine("|---|" + string.Concat(measured.Select(_ => "--:|")) + (versusFastest ? "--:|" : ""));
            foreach (var w in r.Workloads)
            {
                md.Append($"| {w.Name} |");
                foreach (var a in measured)
                    md.Append($" {ValueCell(r, w, a, glibc, m)} |");
                md.AppendLine(versusFastest ? $" {NoiseSection.VersusFastestCell(r, w, ft!)} |" : "");
            }
            md.Append("| **geometric mean of ratios to glibc** (programs + synthetic) |");
            foreach (var a in measured)
            {
                var (v, n, of) = r.GeoMean(a, glibc, m);
                md.Append($" **{Fmt.Ratio(v)}**{(n != of ? $" ({n}/{of})" : "")} |");
            }
            md.AppendLine(versusFastest ? " |" : "");
            md.AppendLine();
            if (versusFastest)
            {
                NoiseSection.VersusFastestLegend(md, r);
                NoiseSection.PairedTable(md, r, ft!);
            }
        }

        md.AppendLine("## Geometric means of ratios, every allocator against every other (row ÷ column)");
        md.AppendLine();
        md.AppendLine("Over the programs and synthetic workloads that ran under both allocators. Below 1 means the row allocator is faster / smaller.");
        md.AppendLine();
        foreach (var m in Metric.All)
        {
            md.AppendLine($"**{m.Title}**");
            md.AppendLine();
            md.AppendLine("| row ÷ column |" + string.Concat(measured.Select(a => $" {a.Name} |")));
            md.AppendLine("|---|" + string.Concat(measured.Select(_ => "--:|")));
            foreach (var a in measured)
                md.AppendLine($"| {a.Name} |" + string.Concat(measured.Select(b => $" {(a == b ? "1" : Fmt.Ratio(r.GeoMean(a, b, m).Value))} |")));
            md.AppendLine();
        }

        CustomMetrics(md, r, measured);
        PerWorkload(md, r, measured);
        Failures(md, r);
        HowToRead(md, r);

        string path = Path.Combine(outDir, "report.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>One row per target: its goal, FtMalloc's verdict, and every allocator's value.</summary>
    public static void TargetsTable(StringBuilder md, IEnumerable<Target> targets, IReadOnlyList<Allocator> measured, Allocator? ft)
    {
        md.Append("| target | goal | FtMalloc verdict |");
        foreach (var a in measured)
            md.Append($" {a.Name} |");
        md.AppendLine();
        md.Append("|---|---|---|");
        md.AppendLine(string.Concat(measured.Select(_ => "---|")));
        foreach (var t in targets)
        {
            md.Append($"| {t.Name} | {t.Goal} | **{Targets.Mark(t.For(ft))}** |");
            foreach (var a in measured)
            {
                var v = t.For(a);
                md.Append($" {Cell(v.Text)}{(v.Verdict == Verdict.Fail ? " ❌" : v.Verdict == Verdict.Pass ? " ✅" : "")} |");
            }
            md.AppendLine();
        }
        md.AppendLine();
    }

    private static string ValueCell(Results r, Workload w, Allocator a, Allocator glibc, Metric m)
    {
        if (r.Failed(w, a))
            return "**FAILED**";
        double v = r.Median(w, a, m);
        if (double.IsNaN(v))
            return "–";
        return a == glibc ? m.Format(v) : $"{m.Format(v)} ({Fmt.Ratio(v / r.Median(w, glibc, m))})";
    }

    private static void CustomMetrics(StringBuilder md, Results r, IReadOnlyList<Allocator> measured)
    {
        var rows = new List<(string Label, Func<Allocator, string> Value)>();
        var fast = r.FindWorkload("fastpath");
        if (fast != null)
        {
            foreach (var (key, label) in new[] { ("ns_pair", "32 B"), ("ns_pair_16", "16 B"), ("ns_pair_64", "64 B"), ("ns_pair_256", "256 B"), ("ns_pair_1024", "1 KB") })
                rows.Add(($"fastpath: ns per malloc/free pair, {label}", a => Fmt.Num(r.Custom(fast, a, key), "0.0")));
        }
        var live = r.FindWorkload("livecost");
        if (live != null)
        {
            var any = r.Measured.Select(a => r.Custom(live, a, "live_large")).FirstOrDefault(v => !double.IsNaN(v));
            string big = double.IsNaN(any) ? "the large heap" : Fmt.Count(any) + " live";
            rows.Add(("livecost: ns per pair, 10 live", a => Fmt.Num(r.Custom(live, a, "ns_pair_small"), "0.0")));
            rows.Add(($"livecost: ns per pair, {big}", a => Fmt.Num(r.Custom(live, a, "ns_pair_large"), "0.0")));
            rows.Add(("livecost: **ratio** (target < 1.5)", a => Fmt.Num(r.Custom(live, a, "ratio_pair"))));
            rows.Add(("livecost: ns per random replace, 10 live", a => Fmt.Num(r.Custom(live, a, "ns_replace_small"), "0.0")));
            rows.Add(($"livecost: ns per random replace, {big}", a => Fmt.Num(r.Custom(live, a, "ns_replace_large"), "0.0")));
            rows.Add(("livecost: replace ratio (context: includes cache misses)", a => Fmt.Num(r.Custom(live, a, "ratio_replace"))));
        }
        var t0 = r.FindWorkload("test0");
        if (t0 != null)
        {
            foreach (var name in new[] { "test0", "test1", "test2" })
            {
                var w = r.FindWorkload(name);
                if (w != null)
                    rows.Add(($"{name}: minor page faults", a => Fmt.Count(r.Median(w, a, Metric.Faults))));
            }
        }
        var startup = r.FindWorkload("startup");
        if (startup != null)
        {
            rows.Add(("startup: `ls` wall time per execution", a => Fmt.Ms(r.Median(startup, a, Metric.Wall))));
            rows.Add(("startup: `ls` peak RSS", a => Fmt.Kb(r.Median(startup, a, Metric.Rss))));
            rows.Add(("startup: `ls` minor page faults", a => Fmt.Count(r.Median(startup, a, Metric.Faults))));
        }
        if (rows.Count == 0)
            return;
        md.AppendLine("## Figures the drivers measured themselves, page faults and start-up");
        md.AppendLine();
        md.AppendLine("| figure |" + string.Concat(measured.Select(a => $" {a.Name} |")));
        md.AppendLine("|---|" + string.Concat(measured.Select(_ => "--:|")));
        foreach (var (label, value) in rows)
            md.AppendLine($"| {label} |" + string.Concat(measured.Select(a => $" {value(a)} |")));
        md.AppendLine();
    }

    private static void PerWorkload(StringBuilder md, Results r, IReadOnlyList<Allocator> measured)
    {
        md.AppendLine("## Every workload: figures, and each as a ratio to every other allocator");
        md.AppendLine();
        md.AppendLine("Ratio cells read *row ÷ column* as `wall / cpu / rss / faults`.");
        md.AppendLine();
        foreach (var w in r.Workloads)
        {
            md.AppendLine($"### {w.Name} ({w.Group})");
            md.AppendLine();
            md.AppendLine(w.Description + (w.ManyExecs ? $" ({r.Options.StartupExecs} executions per run)" : "") + ".");
            md.AppendLine();
            md.AppendLine("| allocator | wall | cpu | peak RSS | minor faults | runs |" + string.Concat(measured.Select(b => $" ÷ {b.Name} |")));
            md.AppendLine("|---|--:|--:|--:|--:|--:|" + string.Concat(measured.Select(_ => "--:|")));
            foreach (var a in measured)
            {
                var fail = r.FirstFailure(w, a);
                int runs = r.Runs(w, a).Count(x => !x.Warmup);
                if (fail != null)
                {
                    md.AppendLine($"| {a.Name} | **FAILED** | | | | {runs} |" + string.Concat(measured.Select(_ => " |")));
                    continue;
                }
                md.Append($"| {a.Name} |");
                foreach (var m in Metric.All)
                    md.Append($" {m.Format(r.Median(w, a, m))} |");
                md.Append($" {runs} |");
                foreach (var b in measured)
                {
                    md.Append(a == b ? " |" : $" {string.Join(" / ", Metric.All.Select(m => Fmt.Num(r.Ratio(w, a, b, m))))} |");
                }
                md.AppendLine();
            }
            md.AppendLine();
        }
    }

    private static void Failures(StringBuilder md, Results r)
    {
        var failed = r.Records.Where(x => !x.Ok).ToList();
        md.AppendLine("## Failures");
        md.AppendLine();
        if (failed.Count == 0)
        {
            md.AppendLine("None: every run exited 0 and gave glibc's answer.");
            md.AppendLine();
            return;
        }
        md.AppendLine("A failed (workload, allocator) pair is not run again. Its output is kept in `failures/`.");
        md.AppendLine();
        md.AppendLine("| workload | allocator | run | failure |");
        md.AppendLine("|---|---|---|---|");
        foreach (var f in failed)
            md.AppendLine($"| {f.Workload.Name} | {f.Allocator.Name} | {(f.Warmup ? "warm-up" : (f.Rep + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))} | {Cell(f.Failure)} |");
        md.AppendLine();
    }

    private static void HowToRead(StringBuilder md, Results r)
    {
        md.AppendLine("## How to read this report");
        md.AppendLine();
        md.AppendLine("- Figures come from `wait4(2)` on the workload's process: wall time (monotonic clock around fork and wait), user+system CPU, " +
                      "peak RSS (`ru_maxrss`, the largest single process of the workload), and minor page faults (summed over its processes).");
        md.AppendLine("- A ratio below 1 means less time or memory than the allocator it is compared with. Ratios of medians of the same invocation only: " +
                      "never compare figures across reports from different days.");
        md.AppendLine("- `FAILED` means a crash, a non-zero exit, a timeout or a different answer from glibc's; it counts as a failure, never as a time.");
        md.AppendLine("- The machine is shared and noisy. " + NoiseSection.SpreadSentence(r) + " " +
                      "A time verdict marked *within noise* has its goal inside the range of the paired runs: rerun with more runs (`-r 9`) before acting on it. " +
                      "Look at the geometric means and at large ratios.");
        md.AppendLine("- `runs.csv` beside this report has every run, warm-ups included.");
    }

    public static IEnumerable<string> MachineInfo()
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        yield return $"{Shell.FirstLine("uname", "-srm")}, {cpu}, {Environment.ProcessorCount} CPUs";
        string debian = File.Exists("/etc/debian_version") ? File.ReadAllText("/etc/debian_version").Trim() : "?";
        yield return $"Debian {debian}; {Shell.FirstLine("gcc", "--version")}; {Shell.FirstLine("/usr/bin/python3", "--version")}; " +
                     $"{Shell.FirstLine("git", "--version")}; sqlite3 {Shell.FirstLine("sqlite3", "--version").Split(' ')[0]}; " +
                     $"perl {Shell.FirstLine("perl", "-e", "print $^V")}; {Shell.FirstLine("sort", "--version")}";
        string commit = Shell.Run("git", new[] { "log", "-1", "--format=%h %s" }, cwd: Paths.RepoRoot).Stdout.Trim();
        yield return $"repository at {(commit.Length > 0 ? commit : "(no commit yet)")}";
    }

    public static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
