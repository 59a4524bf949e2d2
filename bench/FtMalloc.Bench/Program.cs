// Entry point: the command line of the benchmark suite. bench/run builds this project and passes
// its arguments here; bench/README.md documents them.

using System;
using System.CommandLine;
using System.Linq;
using FtMalloc.Bench;
using FtMalloc.Bench.Workloads;
using Spectre.Console;

var smoke = new Option<bool>("--smoke") { Description = "Tiny inputs, 1 run, no warm-up (CI): exits non-zero on any failed run" };
var repeat = new Option<int?>("--repeat", "-r") { Description = "Measured runs per workload and allocator (default 5; smoke 1)" };
var warmup = new Option<int?>("--warmup") { Description = "Unmeasured warm-up runs before them (default 1; smoke 0)" };
var workloads = new Option<string[]>("--workloads", "-w")
{
    Description = "Only these workloads or groups, comma-separated (see --list)",
    AllowMultipleArgumentsPerToken = true,
};
var allocators = new Option<string[]>("--allocators", "-a")
{
    Description = "Only these allocators, comma-separated: FtMalloc, jemalloc, tcmalloc, mimalloc (glibc always runs)",
    AllowMultipleArgumentsPerToken = true,
};
var threads = new Option<bool>("--threads") { Description = "Also run the threaded workloads (larson, prodcons, cachescratch, cachethrash, threadchurn, stress at 1, 2, 4, 16) and judge the threads targets" };
var startupExecs = new Option<int?>("--startup-execs") { Description = "Executions of ls per start-up run (default 300; smoke 20)" };
var timeout = new Option<int?>("--timeout") { Description = "Seconds before one run is killed and counted as failed (default 300; smoke 60; with --instructions 900, smoke 300)" };
var output = new Option<string?>("--out", "-o") { Description = "Report folder (default bench/results/<timestamp>)" };
var rebuild = new Option<bool>("--rebuild") { Description = "Publish libft_malloc.so even if it exists" };
var noBuild = new Option<bool>("--no-build") { Description = "Never publish libft_malloc.so; report FtMalloc as not built if it is missing" };
var keepWork = new Option<bool>("--keep-work") { Description = "Keep generated inputs and scratch folders (work/) after the run" };
var from = new Option<string?>("--from") { Description = "Run nothing: write the report again from an earlier result folder's runs.csv (with today's targets)" };
var instructions = new Option<bool>("--instructions")
{
    Description = "Count instructions instead of timing: each program and synthetic workload once per allocator under callgrind " +
                  "(valgrind), at a size that keeps a run under a minute (smoke size with --smoke); report.md and instructions.csv",
};
var list = new Option<bool>("--list") { Description = "List the workloads and exit" };

var root = new RootCommand("FtMalloc benchmark suite: real programs and synthetic drivers under FtMalloc, glibc, jemalloc, tcmalloc and mimalloc");
foreach (Option o in new Option[] { smoke, repeat, warmup, workloads, allocators, threads, startupExecs, timeout, output, rebuild, noBuild, keepWork, from, instructions, list })
    root.Options.Add(o);

root.SetAction(parse =>
{
    if (parse.GetValue(list))
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("workload", "group", "what it does");
        foreach (var w in Catalog.All().Concat(Catalog.Threaded()))
            table.AddRow(Markup.Escape(w.Name), w.Group, Markup.Escape(w.Description));
        AnsiConsole.Write(table);
        return 0;
    }
    static string[] Split(string[]? xs) =>
        (xs ?? Array.Empty<string>()).SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    bool isSmoke = parse.GetValue(smoke);
    bool counting = parse.GetValue(instructions);
    var options = new BenchOptions
    {
        Smoke = isSmoke,
        Repeat = Math.Max(1, parse.GetValue(repeat) ?? (isSmoke ? 1 : 5)),
        Warmup = Math.Max(0, parse.GetValue(warmup) ?? (isSmoke ? 0 : 1)),
        StartupExecs = Math.Max(1, parse.GetValue(startupExecs) ?? (isSmoke ? 20 : 300)),
        // callgrind runs about 50 times slower than the program alone.
        TimeoutSeconds = Math.Max(1, parse.GetValue(timeout) ?? (counting ? (isSmoke ? 300 : 900) : isSmoke ? 60 : 300)),
        Instructions = counting,
        Workloads = Split(parse.GetValue(workloads)),
        Allocators = Split(parse.GetValue(allocators)),
        Threads = parse.GetValue(threads),
        RebuildFtMalloc = parse.GetValue(rebuild),
        NoBuild = parse.GetValue(noBuild),
        KeepWork = parse.GetValue(keepWork),
        OutputDir = parse.GetValue(output),
    };
    string? replayFrom = parse.GetValue(from);
    return replayFrom != null ? Replay.Run(replayFrom, options) : new Suite(options).Run();
});

return root.Parse(args).Invoke();
