// Runs one program under the library: stdio passed straight through, the library told
// to report (FT_MALLOC_STATS=1) into a private file (FT_MALLOC_OUTPUT, opened O_APPEND
// by every process, so the program's children report there too), and the lines read
// back once the program has exited. This process never loads the library: only the
// child's environment carries LD_PRELOAD.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using FtMalloc.Cli.Stats;

namespace FtMalloc.Cli.Running;

public static class PreloadSession
{
    /// <summary>Sets the variables that make a child run under the library and report
    /// to <paramref name="statsFile"/>. Keeps the caller's other LD_PRELOAD entries,
    /// after ours, and the caller's other FT_MALLOC_* settings (FT_MALLOC_CHECK...).</summary>
    public static void Apply(IDictionary<string, string?> environment, string library, string statsFile)
    {
        environment.TryGetValue("LD_PRELOAD", out string? existing);
        environment["LD_PRELOAD"] = string.IsNullOrWhiteSpace(existing) ? library : library + ":" + existing;
        environment["FT_MALLOC_STATS"] = "1";
        environment["FT_MALLOC_OUTPUT"] = statsFile;
    }

    /// <summary>A fresh, empty file for the stats lines of one run.</summary>
    public static string CreateStatsFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ftmalloc-{Environment.ProcessId}-{Guid.NewGuid():N}.stats");
        File.WriteAllBytes(path, Array.Empty<byte>());
        return path;
    }

    /// <summary>Runs <paramref name="program"/> (already located) with inherited stdio and
    /// returns its exit code (128+N when killed by signal N) and the stats lines.</summary>
    public static (int ExitCode, List<StatsLine> Stats) Run(string program, IReadOnlyList<string> arguments, string library, string? keepStatsIn)
    {
        string statsFile = CreateStatsFile();
        try
        {
            var start = new ProcessStartInfo(program) { UseShellExecute = false };
            foreach (string argument in arguments)
                start.ArgumentList.Add(argument);
            Apply(start.Environment, library, statsFile);

            using Process child = Process.Start(start)!;
            // Ctrl-C and Ctrl-\ reach the child through the terminal's process group:
            // ftmalloc stays to collect its stats. A SIGTERM sent to ftmalloc alone is
            // passed on to the child.
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
            using var onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                try { Kill(child.Id, 15); } catch (InvalidOperationException) { }
            });
            child.WaitForExit();
            int exitCode = child.ExitCode;
            if (keepStatsIn is not null)
                File.AppendAllText(keepStatsIn, File.ReadAllText(statsFile));
            return (exitCode, StatsLine.ReadFile(statsFile));
        }
        finally
        {
            File.Delete(statsFile);
        }
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
