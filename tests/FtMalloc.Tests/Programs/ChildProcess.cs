// Runs a program once, with or without the library, and captures everything a test
// compares: exit code, stdout, stderr, and the library's stats lines.
//
// Both kinds of run start from the test process's environment with every LD_PRELOAD,
// FT_MALLOC_* and MSBuild* setting removed, LC_ALL=C and TZ=UTC, so the only difference between a
// baseline run and a preloaded one is the allocator. A preloaded run gets LD_PRELOAD,
// FT_MALLOC_STATS=1 and a private FT_MALLOC_OUTPUT file (shared, by O_APPEND, with every
// descendant), set by the same code the ftmalloc command uses.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using FtMalloc.Cli.Running;
using FtMalloc.Cli.Stats;
using FtMalloc.Tests.NativeLibrary;

namespace FtMalloc.Tests.Programs;

internal enum Allocator
{
    /// <summary>glibc's malloc: the reference behaviour.</summary>
    Glibc,

    /// <summary>libft_malloc.so through LD_PRELOAD.</summary>
    FtMalloc,
}

/// <summary>What to run.</summary>
internal sealed record RunSpec(string Program, params string[] Arguments)
{
    public string? WorkingDirectory { get; init; }

    /// <summary>Extra variables; a null value removes the variable.</summary>
    public Dictionary<string, string?> Environment { get; init; } = new();

    /// <summary>Text fed to stdin, then closed; null gives an empty stdin.</summary>
    public string? Stdin { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(3);
}

/// <summary>What happened.</summary>
internal sealed record RunResult(
    RunSpec Spec, Allocator Allocator, int Pid, int ExitCode, string Stdout, string Stderr,
    List<StatsLine> Stats, TimeSpan Elapsed)
{
    /// <summary>The stats line of the process started (not of its descendants).</summary>
    public StatsLine? OwnStats => Stats.FirstOrDefault(s => s.Pid == Pid);

    public string Command => string.Join(' ', new[] { Spec.Program }.Concat(Spec.Arguments.Select(Quote)));

    public string Describe() =>
        $"`{Command}` under {Allocator}: exit {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n" +
        $"--- stdout (first 2000 chars)\n{Head(Stdout)}\n--- stderr (first 4000 chars)\n{Head(Stderr, 4000)}\n" +
        $"--- stats lines\n{string.Join('\n', Stats.Select(s => s.Format()))}";

    private static string Head(string s, int n = 2000) => s.Length <= n ? s : s.Substring(0, n) + "...";

    private static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./=:,+%@".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";
}

internal static class ChildProcess
{
    public static RunResult Run(RunSpec spec, Allocator allocator)
    {
        string? statsFile = null;
        var start = new ProcessStartInfo(spec.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            WorkingDirectory = spec.WorkingDirectory ?? Path.GetTempPath(),
        };
        foreach (string argument in spec.Arguments)
            start.ArgumentList.Add(argument);
        foreach (string key in start.Environment.Keys.ToList())
        {
            // No allocator setting of the test host's, and none of the MSBuild settings
            // that `dotnet test` gives it (they would steer a `dotnet` run by a child).
            if (key == "LD_PRELOAD" || key.StartsWith("FT_MALLOC_", StringComparison.Ordinal) ||
                key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(key);
        }
        start.Environment["LC_ALL"] = "C";
        start.Environment["TZ"] = "UTC";
        foreach (var (key, value) in spec.Environment)
        {
            if (value is null)
                start.Environment.Remove(key);
            else
                start.Environment[key] = value;
        }
        if (allocator == Allocator.FtMalloc)
        {
            statsFile = PreloadSession.CreateStatsFile();
            PreloadSession.Apply(start.Environment, NativeBuild.LibraryPath, statsFile);
        }

        try
        {
            var clock = Stopwatch.StartNew();
            using Process process = Process.Start(start)!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            try
            {
                if (spec.Stdin is not null)
                    process.StandardInput.Write(spec.Stdin);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program exited without reading all of its input: its exit code says why.
            }
            if (!process.WaitForExit(spec.Timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new TimeoutException(
                    $"`{spec.Program} {string.Join(' ', spec.Arguments)}` under {allocator} ran longer than {spec.Timeout}\n" +
                    $"--- stderr so far\n{(stderr.IsCompleted ? stderr.Result : "")}");
            }
            process.WaitForExit();
            clock.Stop();
            List<StatsLine> stats = statsFile is null ? new List<StatsLine>() : StatsLine.ReadFile(statsFile);
            return new RunResult(spec, allocator, process.Id, process.ExitCode, stdout.Result, stderr.Result, stats, clock.Elapsed);
        }
        finally
        {
            if (statsFile is not null)
                File.Delete(statsFile);
        }
    }

    /// <summary>Runs under the library and asserts the library served the program:
    /// its own stats line is there and counts at least <paramref name="minMallocs"/>.</summary>
    public static RunResult RunServed(RunSpec spec, long minMallocs = 1)
    {
        RunResult run = Run(spec, Allocator.FtMalloc);
        AssertServed(run, minMallocs);
        return run;
    }

    public static void AssertServed(RunResult run, long minMallocs = 1)
    {
        StatsLine? own = run.OwnStats;
        Assert.True(own is not null,
            $"no stats line from pid {run.Pid}: libft_malloc.so did not serve the program (Trap 1)\n{run.Describe()}");
        Assert.True(own!.Mallocs >= minMallocs,
            $"the library served only {own.Mallocs} allocations (expected >= {minMallocs})\n{run.Describe()}");
    }

    /// <summary>Asserts a preloaded run did what the baseline did: same exit code and
    /// the same stdout (and, when asked, the same stderr).</summary>
    public static void AssertSameAs(RunResult baseline, RunResult served, bool compareStderr = false)
    {
        Assert.True(baseline.ExitCode == served.ExitCode,
            $"exit code {served.ExitCode} under the library, {baseline.ExitCode} under glibc\n{served.Describe()}\n\n{baseline.Describe()}");
        AssertSameText("stdout", baseline.Stdout, served.Stdout, served);
        if (compareStderr)
            AssertSameText("stderr", baseline.Stderr, served.Stderr, served);
    }

    public static void AssertSameText(string what, string expected, string actual, RunResult served)
    {
        if (expected == actual)
            return;
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at])
            at++;
        int from = Math.Max(0, at - 200);
        string Around(string s) => s.Substring(Math.Min(from, s.Length), Math.Min(400, Math.Max(0, s.Length - from)));
        Assert.Fail($"{what} differs from glibc's at character {at} (lengths {expected.Length} and {actual.Length})\n" +
            $"--- glibc, around it\n{Around(expected)}\n--- ft_malloc, around it\n{Around(actual)}\n\n{served.Describe()}");
    }
}

/// <summary>A temporary directory deleted with the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string label)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ftmalloc-{label}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
