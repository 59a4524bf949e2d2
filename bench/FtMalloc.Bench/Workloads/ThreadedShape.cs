// What the threads targets need to know about a threaded workload: which family it belongs to,
// its level (the N in larson-Nt or prodcons-Np), how many threads allocate at once, and how much
// work it does in all.
//
// Glossary
//   family    the workloads that run one driver with the same total work at levels 1, 2, 4, 16
//   level     the N in the name: threads (larson, cache*, threadchurn, stress) or pairs (prodcons)
//   threads   threads allocating at once: the level, or twice it for producer/consumer pairs
//   work      the family's unit of work (operations, blocks, objects, threads), counted from the
//             same numbers the workload passes to its driver
//
// Invariant the scaling figures rest on: TotalWork(smoke) is what the driver does, exactly. Where
// an integer division makes it differ between levels (threadchurn in smoke mode runs 192 threads
// at level 16, not 200), the threads targets compare work per second instead of times.

using System;

namespace FtMalloc.Bench.Workloads;

/// <param name="Name">The name before the dash: larson, prodcons, ...</param>
/// <param name="LevelSuffix">"t" (threads) or "p" (pairs), as in the workload names.</param>
/// <param name="WorkUnit">What TotalWork counts, plural: "operations", "blocks", ...</param>
/// <param name="NoScalingReason">Why the family has no 1 → 2 threads step to judge, or null.</param>
internal sealed record ThreadedFamily(string Name, string LevelSuffix, string WorkUnit, string? NoScalingReason = null)
{
    public string WorkloadName(int level) => $"{Name}-{level}{LevelSuffix}";
}

/// <param name="Family">The family the workload belongs to.</param>
/// <param name="Level">The N in the workload's name.</param>
/// <param name="Threads">Threads allocating at once.</param>
/// <param name="TotalWork">Units of Family.WorkUnit done in all, smoke (true) or full size.</param>
internal sealed record ThreadedShape(ThreadedFamily Family, int Level, int Threads, Func<bool, long> TotalWork);
