// Counting a command's instructions with callgrind: on this shared 2-core machine wall times move
// by 10–20 % between runs of the same binary, while callgrind's count of executed instructions
// repeats to within a few thousand. The count says nothing about cache misses, page faults or
// system calls, so it complements the timed runs rather than replacing them.
//
// How one count is taken (the measure program runs the command, so LD_PRELOAD reaches the command
// and its children exactly as in the timed runs; valgrind passes it on to the program it runs):
//
//   measure --preload LIB -- valgrind --tool=callgrind --callgrind-out-file=/dev/null
//           --trace-children=yes --log-file=LOGS/cg.%p.log PROGRAM ARGS...
//
// Every process of the workload writes its own log (cg.<pid>.log) with "Collected : N".
// Invariant: instructions = Σ N over the logs of processes that valgrind started from an exec (the
// first process and every exec'd child: gcc's cc1 and as, git's helpers, the shell script's
// commands). A process forked without an exec (a shell's subshell) is left out: callgrind gives it
// its parent's count at the fork, so adding it would count the parent twice. It is told apart by
// its log, which lacks callgrind's start-up line ("For interactive control, ..."). What a process
// executes before it calls exec is lost too (callgrind reports at exit only): a few thousand
// instructions between a fork and its exec.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace FtMalloc.Bench;

/// <summary>What callgrind counted for one run of a workload.</summary>
internal sealed record InstructionCount(
    long Instructions,   // executed instructions (callgrind's Ir), summed over the counted processes
    int Processes,       // processes counted: the first and every exec'd child
    int ForkedSkipped);  // processes forked without exec, left out (see the file comment)

internal static partial class Callgrind
{
    /// <summary>The start-up line callgrind prints once per valgrind start: forked children lack it.</summary>
    private const string StartLine = "For interactive control";

    [GeneratedRegex(@"^==\d+== Collected : (\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CollectedLine();

    /// <summary>The valgrind program on PATH, or null.</summary>
    public static string? Find() => Shell.Which("valgrind");

    /// <summary>valgrind's version line ("valgrind-3.19.0"), or "".</summary>
    public static string Version(string valgrind) => Shell.FirstLine(valgrind, "--version");

    /// <summary>The command wrapped in valgrind, each process logging into logDir.</summary>
    public static CommandSpec Wrap(string valgrind, CommandSpec cmd, string logDir)
    {
        var argv = new List<string>
        {
            valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=yes",
            "--log-file=" + Path.Combine(logDir, "cg.%p.log"),
        };
        argv.AddRange(cmd.Argv);
        return cmd with { Argv = argv };
    }

    /// <summary>Sums the logs in logDir (see the file comment); null if no process reported a count.</summary>
    public static InstructionCount? Read(string logDir)
    {
        long total = 0;
        int processes = 0, forked = 0;
        foreach (string log in Directory.EnumerateFiles(logDir, "cg.*.log"))
        {
            string text = File.ReadAllText(log);
            var m = CollectedLine().Match(text);
            if (!m.Success)
                continue; // the process exec'd (its new image has its own log) or was killed
            if (!text.Contains(StartLine, StringComparison.Ordinal))
            {
                forked++;
                continue;
            }
            total += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            processes++;
        }
        return processes == 0 ? null : new InstructionCount(total, processes, forked);
    }

    /// <summary>The first line in the logs that says valgrind itself could not go on, or "".</summary>
    public static string Complaint(string logDir) => Directory.EnumerateFiles(logDir, "cg.*.log")
        .SelectMany(File.ReadLines)
        .Select(l => Regex.Replace(l, @"^==\d+== ?", ""))
        .FirstOrDefault(l => l.StartsWith("valgrind:", StringComparison.Ordinal) || l.Contains("unhandled instruction", StringComparison.OrdinalIgnoreCase)
                             || l.StartsWith("Process terminating", StringComparison.Ordinal)) ?? "";
}
