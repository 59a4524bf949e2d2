// Compiles the measure program and the C drivers with the system gcc at the start of every run,
// into the run's own bin/ folder (so a report always says which sources it measured).

using System;
using System.Collections.Generic;
using System.IO;
using FtMalloc.Bench.Workloads;

namespace FtMalloc.Bench;

internal static class Toolchain
{
    // Drivers keep malloc and free as real calls: gcc may otherwise remove a pair it can see through.
    private static readonly string[] s_driverFlags =
        { "-O2", "-pthread", "-fno-builtin-malloc", "-fno-builtin-free", "-fno-builtin-realloc", "-fno-builtin-calloc" };

    private static readonly string[] s_drivers =
        { "churn", "realloc", "large", "million", "fastpath", "livecost", "whichmalloc", "larson", "prodcons",
          "falseshare", "threadchurn", "stress" };

    // The textbook page-fault programs are compiled as the textbook compiles them: without optimisation.
    private static readonly string[] s_pageFaultTests = { "test0", "test1", "test2" };

    public static Tools? Build(string binDir, Action<string> log)
    {
        Directory.CreateDirectory(binDir);
        var jobs = new List<(string Output, string[] Args)>
        {
            ("measure", new[] { "-O2", "-Wall", "-o", Path.Combine(binDir, "measure"), Paths.Harness("measure.c") }),
        };
        foreach (string d in s_drivers)
        {
            var args = new List<string>(s_driverFlags) { "-Wall", "-o", Path.Combine(binDir, d), Paths.Driver(d + ".c") };
            jobs.Add((d, args.ToArray()));
        }
        foreach (string t in s_pageFaultTests)
            jobs.Add((t, new[] { "-O0", "-o", Path.Combine(binDir, t), Paths.Driver(t + ".c") }));

        foreach (var (output, args) in jobs)
        {
            var r = Shell.Run("gcc", args, timeout: TimeSpan.FromMinutes(2));
            if (!r.Ok)
            {
                Spectre.Console.AnsiConsole.MarkupLine($"[red]gcc failed on {output}:[/] {Spectre.Console.Markup.Escape(r.Output)}");
                return null;
            }
        }
        log($"compiled measure and {jobs.Count - 1} drivers with gcc into {binDir}");
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : Shell.Which("python3") ?? "python3";
        return new Tools { BinDir = binDir, Python = python };
    }
}
