// ftmalloc replay: re-runs an FT_MALLOC_TRACE recording against an allocator.
//
//   ftmalloc [--lib PATH|glibc] replay [-p PID] [-n] TRACE
//
// The replay program is C (Replay/ft_malloc_replay.c, embedded in this assembly): it
// allocates nothing but what it replays, so under libft_malloc.so its statistics are
// those of the recorded process. It is compiled with gcc on first use, next to this
// program (or in the temporary directory), and run with LD_PRELOAD set to the library:
// libft_malloc.so by default (as `run` finds it), any other allocator's .so with --lib,
// or none with --lib glibc. ftmalloc prints the replay's line, its wall time and, when
// the allocator is FtMalloc, the summary of what the library served.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using FtMalloc.Cli.Running;
using FtMalloc.Cli.Stats;

namespace FtMalloc.Cli.Replay;

public static class ReplayCommand
{
    public const string Usage = "usage: ftmalloc [--lib PATH|glibc] replay [-p PID] [-n] TRACE";
    private const string SourceResource = "ft_malloc_replay.c";
    private const string ProgramName = "ft_malloc_replay";

    public static int Run(IReadOnlyList<string> arguments, string? libraryOption)
    {
        if (arguments.Count == 0 || arguments[^1].StartsWith('-'))
        {
            Console.Error.WriteLine(Usage);
            return Program.UsageError;
        }
        string trace = arguments[^1];
        if (!File.Exists(trace))
        {
            Console.Error.WriteLine($"ftmalloc: {trace}: no such trace");
            return Program.UsageError;
        }
        string? library = null;
        if (libraryOption != "glibc")
        {
            library = LibraryLocator.Find(libraryOption, out string? error);
            if (library is null)
            {
                Console.Error.WriteLine(error);
                return Program.UsageError;
            }
        }
        string? replayer = EnsureBuilt(out string? buildError);
        if (replayer is null)
        {
            Console.Error.WriteLine(buildError);
            return Program.UsageError;
        }

        var start = new ProcessStartInfo(replayer) { UseShellExecute = false };
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        string statsFile = PreloadSession.CreateStatsFile();
        try
        {
            if (library is not null)
                PreloadSession.Apply(start.Environment, library, statsFile);
            else
                start.Environment.Remove("LD_PRELOAD");
            var clock = Stopwatch.StartNew();
            using Process child = Process.Start(start)!;
            child.WaitForExit();
            clock.Stop();
            Console.Error.WriteLine($"ftmalloc: replayed under {library ?? "glibc"} in {clock.Elapsed.TotalSeconds:0.000} s (exit {child.ExitCode})");
            List<StatsLine> stats = StatsLine.ReadFile(statsFile);
            if (stats.Count > 0)
                Console.Error.WriteLine(StatsSummary.Of(stats).Describe(library!));
            return child.ExitCode;
        }
        finally
        {
            File.Delete(statsFile);
        }
    }

    /// <summary>The compiled replay program, built from the embedded source when missing or older than this assembly.</summary>
    public static string? EnsureBuilt(out string? error)
    {
        error = null;
        string assembly = typeof(ReplayCommand).Assembly.Location;
        foreach (string directory in new[] { AppContext.BaseDirectory, Path.Combine(Path.GetTempPath(), $"ftmalloc-replay-{Environment.UserName}") })
        {
            string binary = Path.Combine(directory, ProgramName);
            if (File.Exists(binary) && (assembly.Length == 0 || File.GetLastWriteTimeUtc(binary) >= File.GetLastWriteTimeUtc(assembly)))
                return binary;
            try
            {
                Directory.CreateDirectory(directory);
                string source = Path.Combine(directory, $"{ProgramName}.{Environment.ProcessId}.c");
                string output = $"{binary}.{Environment.ProcessId}.tmp";
                using (Stream resource = typeof(ReplayCommand).Assembly.GetManifestResourceStream(SourceResource)!)
                using (FileStream file = File.Create(source))
                    resource.CopyTo(file);
                var gcc = new ProcessStartInfo("gcc") { UseShellExecute = false, RedirectStandardError = true };
                foreach (string a in new[] { "-O2", "-o", output, source })
                    gcc.ArgumentList.Add(a);
                using Process compile = Process.Start(gcc)!;
                string messages = compile.StandardError.ReadToEnd();
                compile.WaitForExit();
                File.Delete(source);
                if (compile.ExitCode != 0)
                {
                    error = $"ftmalloc: gcc could not build the replay program:\n{messages}";
                    return null;
                }
                File.Move(output, binary, overwrite: true);
                return binary;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
            {
                error = $"ftmalloc: cannot build the replay program in {directory}: {e.Message}";
            }
        }
        return null;
    }
}
