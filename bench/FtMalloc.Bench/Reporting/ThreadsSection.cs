// The "Threads targets" section of report.md: the four threads targets with a verdict per
// allocator (ThreadTargets.cs defines them), what the reader must know about them (a busy machine,
// families that do not allow the scaling goal), then one table per target with the figures behind
// each verdict.

using System.Collections.Generic;
using System.Linq;
using System.Text;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench.Reporting;

internal static class ThreadsSection
{
    public static void Write(StringBuilder md, Results r, ThreadsEvaluation t)
    {
        var measured = r.Measured;
        var ft = r.Find(Allocator.FtMallocName);
        md.AppendLine("## Threads targets");
        md.AppendLine();
        md.AppendLine($"Over the {t.Threaded.Count} threaded workloads that ran. Each family splits a fixed total of work among its threads " +
                      "(the scaling table's work column checks it), so throughput is work per second, the 1 → 2 scaling is wall(1) ÷ wall(2) " +
                      "and the oversubscription figure wall(16) ÷ wall(2); bench/README.md, \"The threads targets\", explains each goal.");
        md.AppendLine();
        MarkdownReport.TargetsTable(md, t.Targets, measured, ft);
        foreach (string note in t.Notes)
            md.AppendLine("- " + note);
        if (t.Notes.Count > 0)
            md.AppendLine();

        VersusMimalloc(md, r, t, measured);
        Scaling(md, r, t, measured);
        Oversubscription(md, t, measured);
        Memory(md, r, t, measured);
    }

    private static void VersusMimalloc(StringBuilder md, Results r, ThreadsEvaluation t, IReadOnlyList<Allocator> measured)
    {
        var mimalloc = r.Find("mimalloc");
        if (mimalloc == null || t.MultiThreaded.Count == 0)
            return;
        var others = measured.Where(a => a != mimalloc).ToList();
        md.AppendLine($"### Throughput: wall time ÷ mimalloc's (goal ≤ {ThreadTargets.ThroughputGoal:0.00}× on each)");
        md.AppendLine();
        md.AppendLine($"Each cell: the ratio of medians with its verdict, then {(r.RunsKnown ? $"the paired ratios to mimalloc (run k ÷ run k): their median and range ({NoiseSection.RangeName(r.Options.Repeat)})" : "no paired range (this runs.csv has no run index)")}; " +
                      $"{Noise.WithinNoiseMark} marks a range that holds {ThreadTargets.ThroughputGoal:0.00}× (within noise).");
        md.AppendLine();
        md.AppendLine("| workload | threads | mimalloc wall |" + string.Concat(others.Select(a => $" {a.Name} |")));
        md.AppendLine("|---|--:|--:|" + string.Concat(others.Select(_ => "--:|")));
        foreach (var w in t.MultiThreaded)
        {
            md.Append($"| {w.Name} | {w.Threading!.Threads} | {Fmt.Ms(r.Median(w, mimalloc, Metric.Wall))} |");
            foreach (var a in others)
            {
                double v = r.Ratio(w, a, mimalloc, Metric.Wall);
                var range = Noise.Paired(r, w, a, mimalloc, Metric.Wall);
                string paired = range.HasRange ? $" · {range.Format()}{NoiseMark(range.Against(ThreadTargets.ThroughputGoal, atMost: true))}" : "";
                md.Append(r.Failed(w, a) ? " **FAILED** |" : $" {Fmt.Ratio(v)}{Mark(v, v <= ThreadTargets.ThroughputGoal)}{paired} |");
            }
            md.AppendLine();
        }
        md.AppendLine();
    }

    private static void Scaling(StringBuilder md, Results r, ThreadsEvaluation t, IReadOnlyList<Allocator> measured)
    {
        var rows = t.Families.Where(f => f.Levels.ContainsKey(ThreadTargets.ScalingFrom) || f.Levels.ContainsKey(ThreadTargets.ScalingTo)).ToList();
        if (rows.Count == 0)
            return;
        md.AppendLine($"### Scaling {ThreadTargets.ScalingFrom} → {ThreadTargets.ScalingTo}: throughput at level {ThreadTargets.ScalingTo} ÷ at level {ThreadTargets.ScalingFrom} " +
                      $"(goal ≥ {ThreadTargets.ScalingGoal:0.0}× where the workload allows it)");
        md.AppendLine();
        md.AppendLine($"In brackets, the unpaired range low(wall 1) ÷ high(wall 2) … high(wall 1) ÷ low(wall 2), work-adjusted, low and high each level's own range ({NoiseSection.RangeName(r.Options.Repeat)}): the two levels are different " +
                      $"workloads that ran minutes apart, so their runs cannot be paired; {Noise.WithinNoiseMark} marks a judged family whose range holds {ThreadTargets.ScalingGoal:0.0}× (within noise).");
        md.AppendLine();
        md.AppendLine("| family | work |" + string.Concat(measured.Select(a => $" {a.Name} |")) + " does the workload allow it? |");
        md.AppendLine("|---|---|" + string.Concat(measured.Select(_ => "--:|")) + "---|");
        foreach (var f in rows)
        {
            md.Append($"| {f.Family.Name} | {f.Work} |");
            foreach (var a in measured)
            {
                double v = f.Scaling[a];
                var range = f.ScalingRange[a];
                string shown = range.HasRange ? range.Format() : Fmt.Ratio(v);
                md.Append(f.AllowsScaling
                    ? $" {shown}{Mark(v, v >= ThreadTargets.ScalingGoal)}{NoiseMark(range.Against(ThreadTargets.ScalingGoal, atMost: false))} |"
                    : $" {shown} |");
            }
            md.AppendLine($" {MarkdownReport.Cell(f.ScalingJudgement)} |");
        }
        md.AppendLine();
    }

    private static void Oversubscription(StringBuilder md, ThreadsEvaluation t, IReadOnlyList<Allocator> measured)
    {
        var rows = t.Families.Where(f => f.Oversubscription.Values.Any(v => !double.IsNaN(v))).ToList();
        if (rows.Count == 0)
            return;
        md.AppendLine($"### Oversubscription: wall at {ThreadTargets.Oversubscribed} threads ÷ at {ThreadTargets.ScalingTo}, work-adjusted " +
                      $"(collapse: above {ThreadTargets.CollapseFactor:0.0}× the best other allocator's figure, and above {ThreadTargets.CollapseFactor:0.0}×, unless fastest at {ThreadTargets.Oversubscribed})");
        md.AppendLine();
        md.AppendLine($"1.00× means 16 threads did the work as fast as 2; a cell above its limit shows the limit; \"fastest at {ThreadTargets.Oversubscribed}\" marks a figure above it " +
                      $"from an allocator that did the {ThreadTargets.Oversubscribed}-thread work faster than every other one (its 2-thread run was the fast one, not its {ThreadTargets.Oversubscribed}-thread run slow).");
        md.AppendLine();
        md.AppendLine("| family |" + string.Concat(measured.Select(a => $" {a.Name} |")));
        md.AppendLine("|---|" + string.Concat(measured.Select(_ => "--:|")));
        foreach (var f in rows)
        {
            md.Append($"| {f.Family.Name} |");
            foreach (var a in measured)
            {
                double v = f.Oversubscription[a];
                md.Append(f.Collapsed(a)
                    ? $" {Fmt.Ratio(v)} ❌ collapse (limit {Fmt.Ratio(f.CollapseLimit[a])}) |"
                    : f.OverCollapseLimit(a)
                        ? $" {Fmt.Ratio(v)} ✅ fastest at {ThreadTargets.Oversubscribed} (limit {Fmt.Ratio(f.CollapseLimit[a])}) |"
                        : $" {Fmt.Ratio(v)}{Mark(v, true)} |");
            }
            md.AppendLine();
        }
        md.AppendLine();
    }

    private static void Memory(StringBuilder md, Results r, ThreadsEvaluation t, IReadOnlyList<Allocator> measured)
    {
        var glibc = r.Glibc;
        md.AppendLine($"### Peak RSS of the threaded workloads: median, and ratio to glibc (goal: geometric mean ≤ {ThreadTargets.MemoryGoal:0.00}×)");
        md.AppendLine();
        md.AppendLine("| workload |" + string.Concat(measured.Select(a => $" {a.Name} |")));
        md.AppendLine("|---|" + string.Concat(measured.Select(_ => "--:|")));
        foreach (var w in t.Threaded)
        {
            md.Append($"| {w.Name} |");
            foreach (var a in measured)
            {
                double v = r.Median(w, a, Metric.Rss);
                md.Append(r.Failed(w, a) ? " **FAILED** |"
                    : a == glibc ? $" {Fmt.Kb(v)} |"
                    : $" {Fmt.Kb(v)} ({Fmt.Ratio(v / r.Median(w, glibc, Metric.Rss))}) |");
            }
            md.AppendLine();
        }
        md.Append("| **geometric mean of ratios to glibc** |");
        foreach (var a in measured)
        {
            var (v, n, of) = r.GeoMean(a, glibc, Metric.Rss, w => w.Threading != null);
            md.Append($" **{Fmt.Ratio(v)}**{(n != of ? $" ({n}/{of})" : "")} |");
        }
        md.AppendLine();
        md.AppendLine();
    }

    /// <summary>The within-noise mark after a range that holds its goal; nothing otherwise.</summary>
    private static string NoiseMark(NoiseVerdict v) => v == NoiseVerdict.WithinNoise ? " " + Noise.WithinNoiseMark : "";

    /// <summary>A pass or fail mark after a figure; nothing where there is no figure.</summary>
    private static string Mark(double value, bool pass) => double.IsNaN(value) ? "" : pass ? " ✅" : " ❌";
}
