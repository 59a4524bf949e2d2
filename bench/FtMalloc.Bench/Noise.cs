// How certain a comparison of two figures is on this noisy shared machine: paired ratios, their
// range, and whether a goal lies inside it.
//
// The suite interleaves the allocators run by run (Suite.cs): run k of allocator a and run k of
// allocator b on one workload ran in the same round, seconds apart, so whatever else loaded the
// machine then weighed on both. Their quotient is a paired ratio.
//
// Glossary (w a workload, a and b allocators, m a figure, k a run index both completed)
//   paired ratio    x_k = m(w, a, run k) ÷ m(w, b, run k)
//   paired median   the median of the x_k; it can differ from Results.Ratio, the ratio of the medians
//   range           the j-th smallest x_k … the j-th largest: min … max (j = 1) up to 8 runs. The
//                   true median ratio lies below the j-th smallest when fewer than j of the n runs
//                   fall below it, which a fair coin gives with probability P(Binomial(n, ½) < j)
//                   (the sign test), so the range holds it with probability
//                   Coverage(n, j) = 1 − 2·P(Binomial(n, ½) < j): 94 % for min … max at 5 runs, 75 % at
//                   3. j is the largest rank that keeps Coverage ≥ RangeCoverage (90 %): 2 at 9 runs
//                   (96 %), so more runs narrow the range instead of widening it. The interquartile
//                   range (2nd to 4th of 5) would hold the median only 62.5 % of the time: too often
//                   wrong to call what lies outside it a clear result.
//   unpaired range  for figures that did not run in the same rounds (the 1 → 2 threads scaling
//                   compares two workloads, run minutes apart): low(a) ÷ high(b) … high(a) ÷ low(b)
//                   around the ratio of medians, low and high each side's own range (min and max at
//                   5 runs); each median lies within its own with 94 % at 5 runs, so the ratio of
//                   medians lies in this range with at least 88 %.
//   within noise    the goal lies strictly inside the range: this run cannot tell on which side of
//                   the goal the allocator is. Assessed only with at least RatioRange.MinRuns runs
//                   (a smoke run has 1, and no range).
//   run spread      (max − min) ÷ median of one allocator's runs on one workload: how much the same
//                   program moved within this invocation.
//
// The targets keep their verdict on the ratio of medians, so reports stay comparable with earlier
// ones; the noise verdict stands beside it. A replayed runs.csv without run indices
// (Results.RunsKnown false) cannot be paired: Paired then gives the ratio of medians, no range.

using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench;

/// <summary>What a figure's range says about a goal: clearly met, clearly missed, or within noise.</summary>
internal enum NoiseVerdict { NotAssessed, ClearPass, ClearFail, WithinNoise }

/// <summary>A ratio with the range it moved in (see the glossary above); Low and High are NaN without one.</summary>
internal sealed record RatioRange(double Median, double Low, double High, int Runs, bool Paired)
{
    /// <summary>Fewer runs than this give no range (2 runs would hold the median only half the time).</summary>
    public const int MinRuns = 3;

    public static readonly RatioRange None = new(double.NaN, double.NaN, double.NaN, 0, false);

    public bool HasRange => Runs >= MinRuns && Low > 0 && High > 0;

    /// <summary>High ÷ Low − 1: how far apart the range's ends are, as a fraction.</summary>
    public double Width => HasRange ? High / Low - 1 : double.NaN;

    /// <summary>Against a goal the figure must stay at or under (<paramref name="atMost"/>) or reach.</summary>
    public NoiseVerdict Against(double goal, bool atMost)
    {
        if (!HasRange)
            return NoiseVerdict.NotAssessed;
        if (Low < goal && goal < High)
            return NoiseVerdict.WithinNoise;
        return (atMost ? High <= goal : Low >= goal) ? NoiseVerdict.ClearPass : NoiseVerdict.ClearFail;
    }

    /// <summary>"1.19× (1.02–1.35)", or "1.19×" without a range.</summary>
    public string Format() => HasRange ? $"{Fmt.Ratio(Median)} ({Fmt.Num(Low)}–{Fmt.Num(High)})" : Fmt.Ratio(Median);
}

internal static class Noise
{
    /// <summary>The paired ratios of (w, a) ÷ (w, b); the ratio of medians and no range when runs cannot be paired.</summary>
    public static RatioRange Paired(Results r, Workload w, Allocator a, Allocator b, Metric m)
    {
        if (!r.RunsKnown)
            return RatioRange.None with { Median = r.Ratio(w, a, b, m) };
        var xa = r.ByRun(w, a, m);
        var xb = r.ByRun(w, b, m);
        var x = xa.Keys.Where(xb.ContainsKey).Select(k => xa[k] / xb[k])
            .Where(v => v > 0 && !double.IsInfinity(v)).OrderBy(v => v).ToList();
        if (x.Count == 0)
            return RatioRange.None;
        int j = RangeRank(x.Count);
        return new RatioRange(Stats.Median(x), x[j - 1], x[^j], x.Count, true);
    }

    /// <summary>
    /// <paramref name="factor"/> × median(a) ÷ median(b), with the unpaired range: for figures that
    /// did not run in the same rounds.
    /// </summary>
    public static RatioRange Unpaired(IReadOnlyList<double> a, IReadOnlyList<double> b, double factor)
    {
        if (a.Count == 0 || b.Count == 0)
            return RatioRange.None;
        var sa = a.OrderBy(v => v).ToList();
        var sb = b.OrderBy(v => v).ToList();
        int ja = RangeRank(sa.Count), jb = RangeRank(sb.Count);
        return new RatioRange(factor * Stats.Median(a) / Stats.Median(b), factor * sa[ja - 1] / sb[^jb], factor * sa[^ja] / sb[jb - 1],
            Math.Min(a.Count, b.Count), false);
    }

    /// <summary>The least probability a range may have of holding the true median (see RangeRank).</summary>
    public const double RangeCoverage = 0.90;

    /// <summary>
    /// The probability that the <paramref name="rank"/>-th smallest … <paramref name="rank"/>-th largest
    /// of n values holds their true median (sign test): 1 − 2·P(Binomial(n, ½) &lt; rank).
    /// </summary>
    public static double Coverage(int runs, int rank)
    {
        double below = 0, choose = 1; // choose = C(runs, i)
        for (int i = 0; i < rank; i++)
        {
            below += choose / Math.Pow(2, runs);
            choose = choose * (runs - i) / (i + 1);
        }
        return 1 - 2 * below;
    }

    /// <summary>The rank of a range of n values: the largest that keeps Coverage ≥ RangeCoverage, at least 1 (min … max).</summary>
    public static int RangeRank(int runs)
    {
        int j = 1;
        while (2 * (j + 1) <= runs && Coverage(runs, j + 1) >= RangeCoverage)
            j++;
        return j;
    }

    /// <summary>The probability that the range of n paired ratios holds their true median.</summary>
    public static double Coverage(int runs) => Coverage(runs, RangeRank(runs));

    /// <summary>The noise verdict of a goal that must hold on each of several figures: one clear miss
    /// fails it clearly; otherwise one figure within noise leaves it within noise.</summary>
    public static NoiseVerdict OnEach(IEnumerable<NoiseVerdict> each)
    {
        var assessed = each.Where(v => v != NoiseVerdict.NotAssessed).ToList();
        if (assessed.Count == 0)
            return NoiseVerdict.NotAssessed;
        if (assessed.Contains(NoiseVerdict.ClearFail))
            return NoiseVerdict.ClearFail;
        return assessed.Contains(NoiseVerdict.WithinNoise) ? NoiseVerdict.WithinNoise : NoiseVerdict.ClearPass;
    }

    /// <summary>"; paired runs: 1 clearly over, 2 within noise" for a target's cell; empty when nothing was assessed.</summary>
    public static string Counts(IReadOnlyCollection<NoiseVerdict> each, string ranges, string clearMiss)
    {
        if (each.All(v => v == NoiseVerdict.NotAssessed))
            return "";
        return $"; {ranges}: {each.Count(v => v == NoiseVerdict.ClearFail)} {clearMiss}, {each.Count(v => v == NoiseVerdict.WithinNoise)} within noise";
    }

    /// <summary>The noise verdict beside the verdict on the medians: "within noise", "clear" when the
    /// ranges agree with the medians, "ranges: clear pass" (or fail) when they do not.</summary>
    public static string Describe(NoiseVerdict v, Verdict onMedians) => v switch
    {
        NoiseVerdict.WithinNoise => "within noise",
        NoiseVerdict.ClearPass => onMedians == Verdict.Pass ? "clear" : "ranges: clear pass",
        NoiseVerdict.ClearFail => onMedians == Verdict.Fail ? "clear" : "ranges: clear fail",
        _ => "",
    };

    /// <summary>A mark after a figure whose goal lies within its range.</summary>
    public const string WithinNoiseMark = "≈";

    /// <summary>
    /// How much allocator a's wall time moved between its runs on the chosen workloads: the median
    /// over them of the run spread ((max − min) ÷ median), and the workload where it moved most.
    /// NaN when no workload has two runs.
    /// </summary>
    public static (double Median, Workload? Worst, double WorstSpread, int Workloads) RunSpread(Results r, Allocator a, Func<Workload, bool> chosen)
    {
        var spreads = r.Workloads.Where(chosen)
            .Select(w => (Workload: w, Values: r.Values(w, a, Metric.Wall)))
            .Where(x => x.Values.Count >= 2)
            .Select(x => (x.Workload, Spread: (x.Values.Max() - x.Values.Min()) / Stats.Median(x.Values)))
            .ToList();
        if (spreads.Count == 0)
            return (double.NaN, null, double.NaN, 0);
        var worst = spreads.OrderByDescending(x => x.Spread).First();
        return (Stats.Median(spreads.Select(x => x.Spread)), worst.Workload, worst.Spread, spreads.Count);
    }

    /// <summary>The median width (High ÷ Low − 1) of a's paired wall-time ranges against every other allocator on the chosen workloads.</summary>
    public static double PairedWidth(Results r, Allocator a, Func<Workload, bool> chosen) =>
        Stats.Median(r.Workloads.Where(chosen)
            .SelectMany(w => r.Measured.Where(b => b != a).Select(b => Paired(r, w, a, b, Metric.Wall).Width)));
}
