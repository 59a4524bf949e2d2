// The measured runs of one suite invocation, reduced to medians and ratios.
//
// Invariants
//   Median(w, a, m) is NaN when (w, a) has a failed run or no measured run: a crash or a wrong
//   answer never becomes a figure, so it can never look fast.
//   Ratio(w, a, b, m) = Median(w, a, m) / Median(w, b, m)   (both from this invocation)
//   GeoMean(a, b, m) = exp(mean over workloads of ln Ratio), over the workloads where both ran
//   (programs + synthetic unless another set of workloads is given).
//   ByRun(w, a, m)[k] is the figure of measured run k (0-based, the round of Suite.cs's interleaving)
//   when RunsKnown; PairedRatios.cs pairs them between allocators.

using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench;

internal sealed class Results
{
    private readonly Dictionary<(Workload, Allocator), List<RunRecord>> _cells = new();

    public Results(IReadOnlyList<Allocator> allocators, IReadOnlyList<Workload> workloads, IReadOnlyList<RunRecord> records, BenchOptions options)
    {
        Allocators = allocators;
        Workloads = workloads;
        Records = records;
        Options = options;
        foreach (var r in records)
        {
            if (!_cells.TryGetValue((r.Workload, r.Allocator), out var list))
                _cells[(r.Workload, r.Allocator)] = list = new List<RunRecord>();
            list.Add(r);
        }
    }

    /// <summary>Every allocator considered, ready or not, in report order.</summary>
    public IReadOnlyList<Allocator> Allocators { get; }

    /// <summary>The allocators that were run.</summary>
    public IReadOnlyList<Allocator> Measured => Allocators.Where(a => a.Ready).ToList();

    public IReadOnlyList<Workload> Workloads { get; }
    public IReadOnlyList<RunRecord> Records { get; }
    public BenchOptions Options { get; }

    /// <summary>
    /// Whether each record's Rep is the round it ran in, so that run k of two allocators can be
    /// paired. True for a suite run; false for a replayed runs.csv without the run column.
    /// </summary>
    public bool RunsKnown { get; init; } = true;

    public Allocator Glibc => Allocators.First(a => a.Name == Allocator.Reference);

    public Allocator? Find(string name) => Measured.FirstOrDefault(a => a.Name == name);

    public Workload? FindWorkload(string name) => Workloads.FirstOrDefault(w => w.Name == name);

    public IReadOnlyList<RunRecord> Runs(Workload w, Allocator a) =>
        _cells.TryGetValue((w, a), out var list) ? list : Array.Empty<RunRecord>();

    public RunRecord? FirstFailure(Workload w, Allocator a) => Runs(w, a).FirstOrDefault(r => !r.Ok);

    public bool Failed(Workload w, Allocator a) => FirstFailure(w, a) != null;

    private IEnumerable<RunRecord> MeasuredRuns(Workload w, Allocator a) =>
        Failed(w, a) ? Enumerable.Empty<RunRecord>() : Runs(w, a).Where(r => !r.Warmup && r.Sample != null);

    public double Median(Workload w, Allocator a, Metric m) => Stats.Median(MeasuredRuns(w, a).Select(r => m.Get(r.Sample!)));

    /// <summary>The figure of every measured run of (w, a), by run index; empty if (w, a) failed.</summary>
    public IReadOnlyDictionary<int, double> ByRun(Workload w, Allocator a, Metric m) =>
        MeasuredRuns(w, a).GroupBy(r => r.Rep).ToDictionary(g => g.Key, g => m.Get(g.First().Sample!));

    /// <summary>The figure of every measured run of (w, a), in the order they ran; empty if (w, a) failed.</summary>
    public IReadOnlyList<double> Values(Workload w, Allocator a, Metric m) => MeasuredRuns(w, a).Select(r => m.Get(r.Sample!)).ToList();

    /// <summary>The median of a figure the driver printed itself ("metric NAME VALUE").</summary>
    public double Custom(Workload w, Allocator a, string name) =>
        Stats.Median(MeasuredRuns(w, a).Where(r => r.Metrics.ContainsKey(name)).Select(r => r.Metrics[name]));

    public double Ratio(Workload w, Allocator a, Allocator b, Metric m) => Median(w, a, m) / Median(w, b, m);

    /// <summary>Geometric mean of a/b over the workloads that count for the means and ran under both.</summary>
    public (double Value, int Count, int Of) GeoMean(Allocator a, Allocator b, Metric m) =>
        GeoMean(a, b, m, w => Group.CountsForMeans(w.Group));

    /// <summary>Geometric mean of a/b over the chosen workloads that ran under both.</summary>
    public (double Value, int Count, int Of) GeoMean(Allocator a, Allocator b, Metric m, Func<Workload, bool> counts)
    {
        var counted = Workloads.Where(counts).ToList();
        var ratios = counted.Select(w => Ratio(w, a, b, m)).Where(r => r > 0 && !double.IsInfinity(r)).ToList();
        return (Stats.GeoMean(ratios), ratios.Count, counted.Count);
    }

    public int FailedRuns(Allocator a) => Records.Count(r => r.Allocator == a && !r.Ok);
}
