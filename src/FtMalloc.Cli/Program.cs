// ftmalloc: the command line entry point.
//
//   ftmalloc [--lib PATH] [--stats-file PATH] run [--] PROGRAM [ARGS...]
//   ftmalloc [--lib PATH] [--stats-file PATH] PROGRAM [ARGS...]      (same as run)
//   ftmalloc [--lib PATH|glibc] replay [-p PID] [-n] TRACE             (Replay/ReplayCommand.cs)
//
// Exit code: the program's (128+N if signal N killed it); 127 / 126 when the program
// cannot be found / executed, as in the shell; 125 when ftmalloc itself cannot run it
// (no library, bad usage), as env(1) does. The repository's ./ftmalloc script builds the
// library and this program, then calls it; it also owns the `test` command.
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Linq;
using FtMalloc.Cli.Running;
using FtMalloc.Cli.Stats;

namespace FtMalloc.Cli;

public static class Program
{
    public const int UsageError = 125;

    private const string Usage =
        "usage: ftmalloc [--lib PATH] [--stats-file PATH] run [--] PROGRAM [ARGS...]\n" +
        "       ftmalloc PROGRAM [ARGS...]        (same as run)\n" +
        "       ftmalloc [--lib PATH|glibc] replay [-p PID] [-n] TRACE\n" +
        "                                         (re-run an FT_MALLOC_TRACE recording under an allocator)\n" +
        "       ./ftmalloc test                   (the repository script: install, build, test)\n" +
        "\n" +
        "Runs PROGRAM with libft_malloc.so preloaded, then prints on stderr what the library\n" +
        "served (processes, allocations, frees, peak bytes in use, zones mapped).\n" +
        "  --lib PATH          the library to preload (default: $FT_MALLOC_LIBRARY, else the\n" +
        "                      libft_malloc.so found above this program or the current directory)\n" +
        "  --stats-file PATH   also append the raw per-process stats lines to PATH\n" +
        "The program's exit code is passed on; 127: not found, 126: not executable.";

    public static int Main(string[] args)
    {
        string? library = null;
        string? statsFile = null;
        int i = 0;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a is "-h" or "--help" or "help")
            {
                Console.Out.WriteLine(Usage);
                return 0;
            }
            if ((a is "--lib" or "--stats-file") && i + 1 < args.Length)
            {
                if (a == "--lib")
                    library = args[++i];
                else
                    statsFile = args[++i];
                continue;
            }
            if (a.StartsWith("--lib=", StringComparison.Ordinal))
            {
                library = a.Substring("--lib=".Length);
                continue;
            }
            if (a.StartsWith("--stats-file=", StringComparison.Ordinal))
            {
                statsFile = a.Substring("--stats-file=".Length);
                continue;
            }
            break;
        }
        if (i < args.Length && args[i] == "replay")
            return Replay.ReplayCommand.Run(args.Skip(i + 1).ToList(), library);
        if (i < args.Length && args[i] == "run")
            i++;
        if (i < args.Length && args[i] == "--")
            i++;
        else if (i < args.Length && args[i].StartsWith('-'))
            return Fail($"ftmalloc: unknown option '{args[i]}'\n{Usage}");
        if (i >= args.Length)
            return Fail(Usage);
        return Run(args[i], args.Skip(i + 1).ToList(), library, statsFile);
    }

    private static int Run(string command, List<string> arguments, string? libraryOption, string? statsFile)
    {
        LocatedProgram program = ProgramLocator.Locate(command, Environment.GetEnvironmentVariable("PATH"));
        if (!program.Runnable)
        {
            Console.Error.WriteLine(program.Error);
            return program.ExitCode;
        }
        string? library = LibraryLocator.Find(libraryOption, out string? error);
        if (library is null)
            return Fail(error!);

        int exitCode;
        List<StatsLine> stats;
        try
        {
            (exitCode, stats) = PreloadSession.Run(program.Path!, arguments, library, statsFile);
        }
        catch (Win32Exception e)
        {
            // exec failed after the checks above (e.g. not a valid executable format).
            Console.Error.WriteLine($"ftmalloc: {command}: {e.Message}");
            return ProgramLocator.NotExecutable;
        }

        string? signal = exitCode > 128 ? SignalName(exitCode - 128) : null;
        if (stats.Count > 0)
            Console.Error.WriteLine(StatsSummary.Of(stats).Describe(library));
        else if (signal is not null)
            Console.Error.WriteLine($"ftmalloc: no statistics: {command} was killed by {signal} before {library} could report");
        else
            Console.Error.WriteLine(
                $"ftmalloc: warning: {library} reported nothing: it did not serve {command} " +
                "(a static or setuid program, or the library's exports not bound)");
        if (signal is not null)
            Console.Error.WriteLine($"ftmalloc: {command}: exit status {exitCode} ({signal})");
        return exitCode;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return UsageError;
    }

    private static string? SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 3 => "SIGQUIT", 4 => "SIGILL", 5 => "SIGTRAP",
        6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV",
        13 => "SIGPIPE", 14 => "SIGALRM", 15 => "SIGTERM",
        _ => null,
    };
}
