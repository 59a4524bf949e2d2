// The project's targets for FtMalloc, evaluated for every allocator that ran (the others are
// context: what the established allocators achieve on this machine, in this run).
//
// "counted" = the program and synthetic workloads (Group.CountsForMeans): not micro, page-fault,
// start-up or threaded ones. All ratios are of medians of this one invocation; a target whose
// figures move with the machine's load also gets a noise verdict (clear pass, clear fail, within
// noise) from the range of its paired ratios (Noise.cs), beside the verdict on the medians.
//
//   time         geomean over counted of wall ÷ glibc's                               <= min over the OTHER allocators
//                (every allocator's geomean over the same workloads: those where all have a figure)
//   time         on each counted workload, wall ÷ the fastest allocator's wall         <= 1.25 (worst named, count over)
//                (beside it, the noise verdict from the paired runs' range: Noise.cs)
//   memory       on each counted workload, peak RSS ÷ glibc's                          <= 1.10 (worst named; geomean shown)
//   page faults  test1 - test0 in [255, 272];  test2 - test0 <= 3;  test0 - glibc's test0 <= 10
//   start-up     `ls` wall time added over glibc                                      <= +0.20 ms
//   fast path    ns per malloc/free pair of 32 B                                      <= mimalloc
//   heap size    pair cost with 1,000,000 live blocks / with 10                       <  1.5
//   correctness  failed runs                                                          == 0

using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench;

internal enum Verdict { Pass, Fail, NotAvailable }

internal sealed record TargetValue(string Text, Verdict Verdict, NoiseVerdict Noise = NoiseVerdict.NotAssessed)
{
    public static readonly TargetValue NotAvailable = new("–", Verdict.NotAvailable);
}

internal sealed record Target(string Name, string Short, string Goal, IReadOnlyDictionary<Allocator, TargetValue> Values)
{
    public TargetValue For(Allocator? a) => a != null && Values.TryGetValue(a, out var v) ? v : TargetValue.NotAvailable;
}

internal static class Targets
{
    public const double PerWorkloadTimeGoal = 1.25; // wall ÷ the fastest allocator's, on every counted workload
    public const double MemoryGoal = 1.10;          // peak RSS ÷ glibc's, on every counted workload
    public const long Test1FaultsMin = 255, Test1FaultsMax = 272, Test2FaultsMax = 3;
    public const long Test0OverGlibcMax = 10;       // test0's minor faults − glibc's test0
    public const double StartupGoalMs = 0.20;
    public const double LiveRatioGoal = 1.5;

    public static List<Target> Evaluate(Results r)
    {
        var glibc = r.Glibc;
        var targets = new List<Target>
        {
            Make(r, $"Time: geometric mean of wall-time ratios vs glibc ({CountedSet}), against the best of the other allocators", "time ÷ glibc (geomean)", "≤ best other's geomean", a => TimeGeoMean(r, a)),
            Make(r, $"Time: wall time ÷ the fastest allocator's on each workload ({CountedSet})", "time ÷ fastest, per workload", $"≤ {PerWorkloadTimeGoal:0.00}× on each", a => TimeVsFastest(r, a)),
            Make(r, $"Memory: peak RSS ÷ glibc's on each workload ({CountedSet}); geomean for information", "peak RSS ÷ glibc, per workload", $"≤ {MemoryGoal:0.00}× on each", a => MemoryWorst(r, a)),
            Make(r, "Page faults: test0 − glibc's test0 (minor faults)", "faults test0 − glibc's", $"≤ +{Test0OverGlibcMax}", a =>
            {
                double d = OverGlibc(r, a, "test0", Metric.Faults);
                return double.IsNaN(d) ? TargetValue.NotAvailable
                    : new TargetValue($"{Signed(d, "0")} ({Fmt.Count(r.Median(r.FindWorkload("test0")!, a, Metric.Faults))})",
                        d <= Test0OverGlibcMax ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Page faults: test1 − test0 (minor faults)", "faults test1 − test0", $"{Test1FaultsMin} … {Test1FaultsMax}", a =>
            {
                double d = FaultDelta(r, a, "test1");
                return double.IsNaN(d) ? TargetValue.NotAvailable
                    : new TargetValue(Fmt.Num(d, "0"), d >= Test1FaultsMin && d <= Test1FaultsMax ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Page faults: test2 − test0 (minor faults)", "faults test2 − test0", $"≤ {Test2FaultsMax}", a =>
            {
                double d = FaultDelta(r, a, "test2");
                return double.IsNaN(d) ? TargetValue.NotAvailable
                    : new TargetValue(Fmt.Num(d, "0"), d <= Test2FaultsMax ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Start-up: `ls` wall time added over glibc", "start-up (ls) over glibc", $"≤ +{StartupGoalMs:0.00} ms", a =>
            {
                double d = OverGlibc(r, a, "startup", Metric.Wall);
                return double.IsNaN(d) ? TargetValue.NotAvailable
                    : new TargetValue($"{Signed(d, "0.000")} ms", d <= StartupGoalMs ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Fast path: ns per malloc/free pair (32 B, one thread)", "fast path ns/pair (32 B)", "≤ mimalloc", a =>
            {
                var w = r.FindWorkload("fastpath");
                var mi = r.Find("mimalloc");
                if (w == null)
                    return TargetValue.NotAvailable;
                double v = r.Custom(w, a, "ns_pair");
                double goal = mi == null ? double.NaN : r.Custom(w, mi, "ns_pair");
                if (double.IsNaN(v))
                    return TargetValue.NotAvailable;
                return double.IsNaN(goal)
                    ? new TargetValue($"{Fmt.Num(v, "0.0")} ns (no mimalloc figure)", Verdict.NotAvailable)
                    : new TargetValue($"{Fmt.Num(v, "0.0")} ns", v <= goal ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Heap size: pair cost with 1,000,000 live blocks (smoke: 100,000) ÷ with 10", "pair cost big heap ÷ 10 live", $"< {LiveRatioGoal:0.0}", a =>
            {
                var w = r.FindWorkload("livecost");
                if (w == null)
                    return TargetValue.NotAvailable;
                double v = r.Custom(w, a, "ratio_pair");
                double small = r.Custom(w, a, "ns_pair_small"), large = r.Custom(w, a, "ns_pair_large");
                return double.IsNaN(v) ? TargetValue.NotAvailable
                    : new TargetValue($"{Fmt.Num(v)} ({Fmt.Num(small, "0.0")} → {Fmt.Num(large, "0.0")} ns)", v < LiveRatioGoal ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Correctness: failed runs (crash, timeout, wrong answer)", "failed runs", "0", a =>
            {
                int n = r.FailedRuns(a);
                return new TargetValue(n.ToString(System.Globalization.CultureInfo.InvariantCulture), n == 0 ? Verdict.Pass : Verdict.Fail);
            }),
        };
        return targets;
    }

    private static Target Make(Results r, string name, string shortName, string goal, Func<Allocator, TargetValue> eval) =>
        new(name, shortName, goal, r.Measured.ToDictionary(a => a, eval));

    /// <summary>The median of <paramref name="metric"/> on <paramref name="workload"/> under <paramref name="a"/> less glibc's (NaN if it did not run).</summary>
    private static double OverGlibc(Results r, Allocator a, string workload, Metric metric)
    {
        var w = r.FindWorkload(workload);
        return w == null ? double.NaN : r.Median(w, a, metric) - r.Median(w, r.Glibc, metric);
    }

    /// <summary>"+1.23" or "−1.23" (a true minus sign), in <paramref name="format"/>.</summary>
    private static string Signed(double d, string format) => $"{(d >= 0 ? "+" : "−")}{Fmt.Num(Math.Abs(d), format)}";

    private static double FaultDelta(Results r, Allocator a, string test)
    {
        var t0 = r.FindWorkload("test0");
        var tn = r.FindWorkload(test);
        return t0 == null || tn == null ? double.NaN : r.Median(tn, a, Metric.Faults) - r.Median(t0, a, Metric.Faults);
    }

    /// <summary>The workloads the time and memory targets count: Group.CountsForMeans.</summary>
    public const string CountedSet = "programs + synthetic";

    private static bool Counts(Workload w) => Group.CountsForMeans(w.Group);

    /// <summary>
    /// Time target 1. Every allocator's geomean of wall ÷ glibc's is taken over the same workloads
    /// (the counted ones where every measured allocator has a figure), so the geomeans compare;
    /// allocator a passes when its geomean is at most the lowest of the other allocators'.
    /// </summary>
    private static TargetValue TimeGeoMean(Results r, Allocator a)
    {
        var measured = r.Measured;
        var counted = r.Workloads.Where(Counts).ToList();
        var common = counted.Where(w => measured.All(b => r.Median(w, b, Metric.Wall) > 0)).ToList();
        if (common.Count == 0)
            return TargetValue.NotAvailable;
        double Geo(Allocator b) => r.GeoMean(b, r.Glibc, Metric.Wall, w => common.Contains(w)).Value;
        double mine = Geo(a);
        var best = measured.Where(b => b != a).Select(b => (Allocator: b, Geo: Geo(b))).OrderBy(x => x.Geo).FirstOrDefault();
        string cover = common.Count == counted.Count ? "" : $" ({common.Count} of {counted.Count} workloads: where every allocator has a figure)";
        if (best.Allocator == null)
            return new TargetValue($"{Fmt.Ratio(mine)}; no other allocator ran{cover}", Verdict.NotAvailable);
        return new TargetValue($"{Fmt.Ratio(mine)} (best other: {best.Allocator.Name} {Fmt.Ratio(best.Geo)}){cover}",
            mine <= best.Geo ? Verdict.Pass : Verdict.Fail);
    }

    /// <summary>The allocator with the lowest median wall time on w (null if none has a figure).</summary>
    public static Allocator? Fastest(Results r, Workload w) =>
        r.Measured.Select(b => (Allocator: b, Wall: r.Median(w, b, Metric.Wall)))
            .Where(x => x.Wall > 0).OrderBy(x => x.Wall).FirstOrDefault().Allocator;

    /// <summary>
    /// Time target 2: on each counted workload, wall ÷ the lowest wall of any allocator (itself
    /// included). The verdict is on the ratio of medians; the noise verdict on each workload's paired
    /// range against the same fastest allocator.
    /// </summary>
    private static TargetValue TimeVsFastest(Results r, Allocator a)
    {
        var counted = r.Workloads.Where(Counts).ToList();
        var ratios = counted
            .Select(w =>
            {
                var fastest = Fastest(r, w);
                return (Workload: w, Fastest: fastest,
                    Ratio: fastest == null ? double.NaN : r.Ratio(w, a, fastest, Metric.Wall),
                    Noise: fastest == null ? NoiseVerdict.NotAssessed : Noise.Paired(r, w, a, fastest, Metric.Wall).Against(PerWorkloadTimeGoal, atMost: true));
            })
            .Where(x => !double.IsNaN(x.Ratio)).ToList();
        if (ratios.Count == 0)
            return TargetValue.NotAvailable;
        var worst = ratios.OrderByDescending(x => x.Ratio).First();
        int over = ratios.Count(x => x.Ratio > PerWorkloadTimeGoal);
        string who = worst.Fastest == a ? "fastest there" : $"vs {worst.Fastest!.Name}";
        var noise = ratios.Select(x => x.Noise).ToList();
        return new TargetValue($"worst {Fmt.Ratio(worst.Ratio)} ({worst.Workload.Name}, {who}); {over} of {ratios.Count} over" +
                               $"{Noise.Counts(noise, "paired runs", "clearly over")}{Coverage(ratios.Count, counted.Count)}",
            over == 0 ? Verdict.Pass : Verdict.Fail, Noise.OnEach(noise));
    }

    /// <summary>Memory target: peak RSS ÷ glibc's on each counted workload; the worst one is judged.</summary>
    private static TargetValue MemoryWorst(Results r, Allocator a)
    {
        var counted = r.Workloads.Where(Counts).ToList();
        var ratios = counted.Select(w => (Workload: w, Ratio: r.Ratio(w, a, r.Glibc, Metric.Rss)))
            .Where(x => x.Ratio > 0 && !double.IsInfinity(x.Ratio)).ToList();
        if (ratios.Count == 0)
            return TargetValue.NotAvailable;
        var worst = ratios.OrderByDescending(x => x.Ratio).First();
        int over = ratios.Count(x => x.Ratio > MemoryGoal);
        var (geo, _, _) = r.GeoMean(a, r.Glibc, Metric.Rss);
        return new TargetValue($"worst {Fmt.Ratio(worst.Ratio)} ({worst.Workload.Name}); {over} of {ratios.Count} over; geomean {Fmt.Ratio(geo)}{Coverage(ratios.Count, counted.Count)}",
            over == 0 ? Verdict.Pass : Verdict.Fail);
    }

    private static string Coverage(int n, int of) => n == of ? "" : $" ({n} of {of} workloads)";

    public static string Mark(Verdict v) => v switch
    {
        Verdict.Pass => "✅ pass",
        Verdict.Fail => "❌ fail",
        _ => "n/a",
    };

    /// <summary>The verdict on the medians, and the noise verdict beside it when there is one: "❌ fail (within noise)".</summary>
    public static string Mark(TargetValue v) =>
        v.Noise == NoiseVerdict.NotAssessed ? Mark(v.Verdict) : $"{Mark(v.Verdict)} ({Noise.Describe(v.Noise, v.Verdict)})";
}
