// The project's targets for FtMalloc, evaluated for every allocator that ran (the others are
// context: what the established allocators achieve on this machine, in this run).
//
//   time         geometric mean of wall-time ratios vs glibc (programs + synthetic)   <= 1.00
//   memory       geometric mean of peak-RSS ratios vs glibc (same workloads)          <= 1.10
//   page faults  test1 - test0 in [255, 272];  test2 - test0 <= 3
//   start-up     `ls` wall time added over glibc                                      <= +0.20 ms
//   fast path    ns per malloc/free pair of 32 B                                      <= mimalloc
//   heap size    pair cost with 1,000,000 live blocks / with 10                       <  1.5
//   correctness  failed runs                                                          == 0

using System;
using System.Collections.Generic;
using System.Linq;

namespace FtMalloc.Bench;

internal enum Verdict { Pass, Fail, NotAvailable }

internal sealed record TargetValue(string Text, Verdict Verdict)
{
    public static readonly TargetValue NotAvailable = new("–", Verdict.NotAvailable);
}

internal sealed record Target(string Name, string Short, string Goal, IReadOnlyDictionary<Allocator, TargetValue> Values)
{
    public TargetValue For(Allocator? a) => a != null && Values.TryGetValue(a, out var v) ? v : TargetValue.NotAvailable;
}

internal static class Targets
{
    public const double TimeGoal = 1.00;
    public const double MemoryGoal = 1.10;
    public const long Test1FaultsMin = 255, Test1FaultsMax = 272, Test2FaultsMax = 3;
    public const double StartupGoalMs = 0.20;
    public const double LiveRatioGoal = 1.5;

    public static List<Target> Evaluate(Results r)
    {
        var glibc = r.Glibc;
        var targets = new List<Target>
        {
            Make(r, "Time: geometric mean of wall-time ratios vs glibc (programs + synthetic)", "time ÷ glibc (geomean)", $"≤ {TimeGoal:0.00}×", a =>
            {
                var (v, n, of) = r.GeoMean(a, glibc, Metric.Wall);
                return double.IsNaN(v) ? TargetValue.NotAvailable
                    : new TargetValue($"{Fmt.Ratio(v)}{Coverage(n, of)}", v <= TimeGoal ? Verdict.Pass : Verdict.Fail);
            }),
            Make(r, "Memory: geometric mean of peak-RSS ratios vs glibc (same workloads)", "peak RSS ÷ glibc (geomean)", $"≤ {MemoryGoal:0.00}×", a =>
            {
                var (v, n, of) = r.GeoMean(a, glibc, Metric.Rss);
                return double.IsNaN(v) ? TargetValue.NotAvailable
                    : new TargetValue($"{Fmt.Ratio(v)}{Coverage(n, of)}", v <= MemoryGoal ? Verdict.Pass : Verdict.Fail);
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
                var w = r.FindWorkload("startup");
                if (w == null)
                    return TargetValue.NotAvailable;
                double d = r.Median(w, a, Metric.Wall) - r.Median(w, glibc, Metric.Wall);
                return double.IsNaN(d) ? TargetValue.NotAvailable
                    : new TargetValue($"{(d >= 0 ? "+" : "−")}{Fmt.Num(Math.Abs(d), "0.000")} ms", d <= StartupGoalMs ? Verdict.Pass : Verdict.Fail);
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

    private static double FaultDelta(Results r, Allocator a, string test)
    {
        var t0 = r.FindWorkload("test0");
        var tn = r.FindWorkload(test);
        return t0 == null || tn == null ? double.NaN : r.Median(tn, a, Metric.Faults) - r.Median(t0, a, Metric.Faults);
    }

    private static string Coverage(int n, int of) => n == of ? "" : $" ({n} of {of} workloads)";

    public static string Mark(Verdict v) => v switch
    {
        Verdict.Pass => "✅ pass",
        Verdict.Fail => "❌ fail",
        _ => "n/a",
    };
}
