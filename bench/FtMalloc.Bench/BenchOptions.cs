// What one invocation of the suite was asked to do: mode, repetitions, filters and paths.
// Program.cs fills it from the command line; everything else only reads it.

using System;
using System.Collections.Generic;

namespace FtMalloc.Bench;

internal sealed class BenchOptions
{
    /// <summary>Tiny inputs, one repetition, no warm-up: the CI check that everything still runs.</summary>
    public bool Smoke { get; init; }

    /// <summary>Count instructions under callgrind instead of timing runs (Suite.Instructions.cs).</summary>
    public bool Instructions { get; init; }

    /// <summary>Measured runs per workload and allocator (the report shows their medians).</summary>
    public int Repeat { get; init; } = 5;

    /// <summary>Unmeasured runs per workload and allocator before the measured ones.</summary>
    public int Warmup { get; init; } = 1;

    /// <summary>Executions of `ls` in one start-up run (the start-up figure is their median).</summary>
    public int StartupExecs { get; init; } = 300;

    /// <summary>Seconds after which one run is killed and counted as failed.</summary>
    public int TimeoutSeconds { get; init; } = 300;

    /// <summary>Workload names or groups to run; empty means the default set.</summary>
    public IReadOnlyList<string> Workloads { get; init; } = Array.Empty<string>();

    /// <summary>Allocator names to run; empty means all. glibc is always run (it is the reference).</summary>
    public IReadOnlyList<string> Allocators { get; init; } = Array.Empty<string>();

    /// <summary>Also run the threaded workloads (larson, prodcons, cachescratch, ...), which are not in the default set.</summary>
    public bool Threads { get; init; }

    /// <summary>Publish libft_malloc.so even if it exists.</summary>
    public bool RebuildFtMalloc { get; init; }

    /// <summary>Never publish libft_malloc.so: use it if it is there, else report "not built".</summary>
    public bool NoBuild { get; init; }

    /// <summary>Keep the generated inputs and scratch folders after the run.</summary>
    public bool KeepWork { get; init; }

    /// <summary>Where the report goes; default bench/results/&lt;timestamp&gt;.</summary>
    public string? OutputDir { get; init; }

    public string ModeName => (Smoke ? "smoke" : "full") + (Instructions ? " instructions" : "");
}
