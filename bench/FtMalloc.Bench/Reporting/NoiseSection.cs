// The report's account of its own noise: FtMalloc's wall time against every other allocator as
// paired ratios with their range (Noise.cs), how much this invocation's runs moved, and the sentence
// "How to read" uses instead of a fixed noise level. Ranges are the only certainty this report
// claims: a ratio whose goal lies inside its range is within noise, whatever its median says.

using System;
using System.Linq;
using System.Text;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench.Reporting;

internal static class NoiseSection
{
    /// <summary>The wall-time table's last column: FtMalloc's paired ratio to the fastest allocator, with a noise mark on counted workloads.</summary>
    public static string VersusFastestCell(Results r, Workload w, Allocator ft)
    {
        var fastest = Targets.Fastest(r, w);
        if (fastest == null || r.Failed(w, ft) || double.IsNaN(r.Median(w, ft, Metric.Wall)))
            return "–";
        if (fastest == ft)
            return "fastest";
        var range = Noise.Paired(r, w, ft, fastest, Metric.Wall);
        string mark = !Group.CountsForMeans(w.Group) ? "" : range.Against(Targets.PerWorkloadTimeGoal, atMost: true) switch
        {
            NoiseVerdict.ClearPass => " ✅",
            NoiseVerdict.ClearFail => " ❌",
            NoiseVerdict.WithinNoise => " " + Noise.WithinNoiseMark,
            _ => "",
        };
        return $"{range.Format()} vs {fastest.Name}{mark}";
    }

    /// <summary>What the wall-time table's last column means, under the table.</summary>
    public static void VersusFastestLegend(StringBuilder md, Results r)
    {
        md.AppendLine($"Last column: FtMalloc's wall time ÷ that of the allocator fastest on the workload (by median), {PairingPhrase(r)}. " +
                      (r.RunsKnown && r.Options.Repeat >= RatioRange.MinRuns && r.Workloads.Any(w => Group.CountsForMeans(w.Group))
                          ? $"On the workloads the per-workload time target counts: ✅ the whole range is at most {Targets.PerWorkloadTimeGoal:0.00}×, " +
                            $"❌ all of it is above, {Noise.WithinNoiseMark} {Targets.PerWorkloadTimeGoal:0.00}× lies inside it (within noise)."
                          : ""));
        md.AppendLine();
    }

    /// <summary>FtMalloc ÷ every other allocator, paired run by run, on every workload.</summary>
    public static void PairedTable(StringBuilder md, Results r, Allocator ft)
    {
        var others = r.Measured.Where(a => a != ft).ToList();
        if (others.Count == 0)
            return;
        md.AppendLine($"### Wall time, {(r.RunsKnown ? "paired run by run" : "ratios of medians (runs not paired)")}: FtMalloc ÷ each other allocator");
        md.AppendLine();
        md.AppendLine((r.RunsKnown ? "The allocators run interleaved, so run k of FtMalloc and run k of another allocator ran in the same round, seconds apart. " : "") +
                      $"Each cell is {PairingPhrase(r)}. {SpreadSentence(r)}");
        md.AppendLine();
        md.AppendLine("| workload |" + string.Concat(others.Select(a => $" ÷ {a.Name} |")));
        md.AppendLine("|---|" + string.Concat(others.Select(_ => "--:|")));
        foreach (var w in r.Workloads)
        {
            md.Append($"| {w.Name} |");
            foreach (var b in others)
                md.Append(r.Failed(w, ft) || r.Failed(w, b) ? " – |" : $" {Noise.Paired(r, w, ft, b, Metric.Wall).Format()} |");
            md.AppendLine();
        }
        md.AppendLine();
    }

    /// <summary>How the ratios with a range were formed, or why there is no range.</summary>
    private static string PairingPhrase(Results r)
    {
        if (!r.RunsKnown)
            return "the ratio of the medians: the runs.csv this report was written from has no run index, so its runs cannot be paired " +
                   "and no range or noise verdict is given";
        int n = r.Options.Repeat;
        if (n < RatioRange.MinRuns)
            return $"the median of the paired ratios (run k ÷ run k); with {n} measured run(s) there is no range";
        string iqr = IqrCoverage(n) < Noise.Coverage(n) ? $"; the interquartile range would hold it only {IqrCoverage(n):0 %} of the time" : "";
        return $"the median of the {n} paired ratios (run k ÷ run k) and, in brackets, their range ({RangeName(n)}), which holds the true median ratio " +
               $"with probability {Noise.Coverage(n):0 %} at {n} runs (sign test{iqr})";
    }

    /// <summary>
    /// The sign-test coverage of the interquartile range of n values, taken inward as the j-th
    /// smallest to the j-th largest, j = 1 + ⌊(n − 1) ÷ 4⌋ (the 2nd to 4th of 5).
    /// </summary>
    private static double IqrCoverage(int n) => Noise.Coverage(n, 1 + (n - 1) / 4);

    /// <summary>"min–max", or "2nd smallest to 2nd largest" for a range of rank 2.</summary>
    public static string RangeName(int runs)
    {
        int j = Noise.RangeRank(runs);
        string nth = j switch { 2 => "2nd", 3 => "3rd", _ => $"{j}th" };
        return j == 1 ? "min–max" : $"{nth} smallest to {nth} largest";
    }

    /// <summary>
    /// This invocation's own noise, measured: how far FtMalloc's (or, without it, glibc's) wall
    /// times moved between runs of the same workload, and how wide its paired ranges are.
    /// </summary>
    public static string SpreadSentence(Results r)
    {
        var a = r.Find(Allocator.FtMallocName) ?? r.Glibc;
        static bool Timed(Workload w) => Group.CountsForMeans(w.Group) || w.Threading != null;
        var (median, worst, worstSpread, count) = Noise.RunSpread(r, a, Timed);
        if (double.IsNaN(median))
            return $"With {r.Options.Repeat} measured run(s) per allocator this report cannot measure its own noise: " +
                   "treat any difference between allocators on one workload as unproven.";
        string which = r.Workloads.Any(w => w.Threading != null)
            ? r.Workloads.Any(w => Group.CountsForMeans(w.Group)) ? "program, synthetic and threaded" : "threaded"
            : "program and synthetic";
        string sentence = Fmt.Inv($"In this run {a.Name}'s wall time on one workload moved by a median of {median:0 %} between its runs ") +
                          Fmt.Inv($"((max − min) ÷ median, over its {count} {which} workloads; most on {worst!.Name}, {worstSpread:0 %})");
        double width = Noise.PairedWidth(r, a, Timed);
        if (!double.IsNaN(width))
            sentence += Fmt.Inv($", and the ranges of its paired ratios to the other allocators spanned a median of {width:0 %} (max ÷ min − 1)");
        return sentence + ". A difference smaller than that on one workload is not established by this run.";
    }
}
