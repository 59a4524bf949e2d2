// A workload: a command measured under each allocator, with its inputs made beforehand and a
// check of its result afterwards (a crash or a wrong answer is a failure, not a fast time).
//
// Life of a workload in one suite run:
//   Prepare(ctx)            once, untimed: generate inputs into ctx.InputDir
//   for each run: Reset(ctx) untimed (fresh ctx.RunDir), Command(ctx) measured, Check(ctx, output)
// Invariant: Check's digest is the same under every allocator; the suite compares each run's
// digest with glibc's, so a driver need not know its expected answer in advance.

using System;
using System.Collections.Generic;
using System.IO;

namespace FtMalloc.Bench.Workloads;

/// <summary>Kinds of workload; they decide which targets a workload counts towards.</summary>
internal static class Group
{
    public const string Program = "program";     // real programs (python, gcc, git, ...)
    public const string Synthetic = "synthetic"; // C drivers measuring whole-program time
    public const string Micro = "micro";         // C drivers that time themselves (ns per pair)
    public const string PageFault = "pagefault"; // test0, test1, test2
    public const string Startup = "startup";     // ls, many executions
    public const string Threads = "threads";     // larson, prodcons, ... (only with --threads)

    /// <summary>Groups whose wall time and peak RSS make the geometric-mean time and memory targets.</summary>
    public static bool CountsForMeans(string group) => group is Program or Synthetic;
}

internal sealed class Workload
{
    public required string Name { get; init; }
    public required string Group { get; init; }
    public required string Description { get; init; }

    /// <summary>A run is many executions (--startup-execs) and its sample is their median (start-up).</summary>
    public bool ManyExecs { get; init; }

    /// <summary>For a threaded workload: its family, level and total work (the threads targets use them).</summary>
    public ThreadedShape? Threading { get; init; }

    public Action<WorkContext>? Prepare { get; init; }

    /// <summary>Makes ctx.RunDir ready for a run; the default empties it.</summary>
    public Action<WorkContext> Reset { get; init; } = ctx => ctx.FreshRunDir();

    public required Func<WorkContext, CommandSpec> Command { get; init; }

    /// <summary>Judges a run that exited 0: its digest and metrics, or why it is wrong.</summary>
    public Func<WorkContext, RunOutput, CheckResult> Check { get; init; } = Checks.ChecksumLine();
}

/// <summary>Folders and tools a workload works with.</summary>
internal sealed class WorkContext
{
    public required string Dir { get; init; }
    public required Tools Tools { get; init; }
    public required bool Smoke { get; init; }
    public required int StartupExecs { get; init; }

    /// <summary>The run is an instruction count under callgrind (about 50 times slower): the
    /// workloads that have a counted size use it (see Size with three sizes).</summary>
    public bool Counted { get; init; }

    public string InputDir => Path.Combine(Dir, "input");
    public string RunDir => Path.Combine(Dir, "run");
    public string StdoutPath => Path.Combine(Dir, "stdout.txt");
    public string StderrPath => Path.Combine(Dir, "stderr.txt");

    /// <summary>Pick the smoke or the full size of something.</summary>
    public T Size<T>(T smoke, T full) => Smoke ? smoke : full;

    /// <summary>Pick the smoke, the full or the counted size (instruction counts, --instructions,
    /// outside smoke mode): one that keeps a callgrind run under about a minute.</summary>
    public T Size<T>(T smoke, T full, T counted) => Smoke ? smoke : Counted ? counted : full;

    public void FreshRunDir()
    {
        if (Directory.Exists(RunDir))
            Directory.Delete(RunDir, recursive: true);
        Directory.CreateDirectory(RunDir);
    }
}

/// <summary>Paths of the programs the workloads run.</summary>
internal sealed class Tools
{
    public required string BinDir { get; init; }
    public required string Python { get; init; }
    public string Driver(string name) => Path.Combine(BinDir, name);
}

internal sealed record RunOutput(string Stdout, string Stderr);

internal sealed record CheckResult(bool Ok, string Digest, string Message, IReadOnlyDictionary<string, double> Metrics)
{
    public static readonly IReadOnlyDictionary<string, double> NoMetrics = new Dictionary<string, double>();

    public static CheckResult Pass(string digest, IReadOnlyDictionary<string, double>? metrics = null) =>
        new(true, digest, "", metrics ?? NoMetrics);

    public static CheckResult Fail(string message) => new(false, "", message, NoMetrics);
}
