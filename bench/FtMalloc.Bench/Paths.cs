// Where things are: the bench folder (found from the running assembly, so the harness works from
// any working directory and any clone) and the repository root above it.

using System;
using System.IO;

namespace FtMalloc.Bench;

internal static class Paths
{
    /// <summary>bench/ in the clone this harness was built from.</summary>
    public static string BenchDir { get; } = FindBenchDir();

    /// <summary>The repository root (bench/..), where libft_malloc.so is published.</summary>
    public static string RepoRoot => Path.GetDirectoryName(BenchDir)!;

    public static string Harness(string file) => Path.Combine(BenchDir, "harness", file);
    public static string Driver(string file) => Path.Combine(BenchDir, "drivers", file);
    public static string Script(string file) => Path.Combine(BenchDir, "workloads", file);

    private static string FindBenchDir()
    {
        string? env = Environment.GetEnvironmentVariable("FTMALLOC_BENCH_DIR");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "harness", "measure.c")))
            return Path.GetFullPath(env);
        for (string? dir = AppContext.BaseDirectory; dir != null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "harness", "measure.c")))
                return dir;
        }
        throw new InvalidOperationException("cannot find bench/ (harness/measure.c) above " + AppContext.BaseDirectory);
    }
}
