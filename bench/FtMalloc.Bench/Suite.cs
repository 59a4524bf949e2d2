// The suite: builds the drivers, finds the allocators, runs every workload under every allocator
// (interleaved run by run), checks each run, and hands the records to the reports.
//
// Order of runs for one workload, with allocators A..E and R repetitions:
//   warm-up:  A B C D E                (unmeasured; glibc first)
//   rep 1:    A B C D E
//   rep 2:    B C D E A               (rotated, so no allocator always runs first or last)
//   ...
// A (workload, allocator) pair that fails once is not run again: the failure is the result.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using FtMalloc.Bench.Reporting;
using FtMalloc.Bench.Workloads;
using Spectre.Console;

namespace FtMalloc.Bench;

/// <summary>One run of one workload under one allocator.</summary>
internal sealed class RunRecord
{
    public required Workload Workload { get; init; }
    public required Allocator Allocator { get; init; }

    /// <summary>0-based repetition; -1 for a warm-up run.</summary>
    public required int Rep { get; init; }

    public Sample? Sample { get; set; }
    public bool Ok { get; set; }
    public string Failure { get; set; } = "";
    public string Digest { get; set; } = "";
    public IReadOnlyDictionary<string, double> Metrics { get; set; } = CheckResult.NoMetrics;

    /// <summary>For a run under callgrind (--instructions): what it counted; null for a timed run
    /// or when nothing was counted.</summary>
    public InstructionCount? Count { get; set; }

    public bool Warmup => Rep < 0;

    /// <summary>The run counted instructions under callgrind instead of being timed.</summary>
    public bool Counted { get; init; }
}

internal sealed partial class Suite(BenchOptions options)
{
    private readonly List<RunRecord> _records = new();
    private string _outDir = "";
    private string _workDir = "";

    public int Run()
    {
        var clock = Stopwatch.StartNew();
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = 160; // CI logs: wide tables read better than wrapped ones
        double loadAtStart = MachineLoad.Now();
        string stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        _outDir = Path.GetFullPath(options.OutputDir ?? Path.Combine(Paths.BenchDir, "results", stamp + (options.Smoke ? "-smoke" : "")));
        _workDir = Path.Combine(_outDir, "work");
        Directory.CreateDirectory(_workDir);
        AnsiConsole.MarkupLine(options.Instructions
            ? $"[bold]FtMalloc benchmark suite[/] — {options.ModeName} mode: one run per workload and allocator under callgrind; results in [blue]{Markup.Escape(_outDir)}[/]"
            : $"[bold]FtMalloc benchmark suite[/] — {options.ModeName} mode, {options.Repeat} measured run(s) after {options.Warmup} warm-up; results in [blue]{Markup.Escape(_outDir)}[/]");
        if (loadAtStart > MachineLoad.BusyPerCpu * Environment.ProcessorCount && !options.Instructions)
            AnsiConsole.MarkupLine($"[yellow]the machine is busy (load average {loadAtStart:0.0} on {Environment.ProcessorCount} CPUs): timings will be noisy[/]");

        // 1. Build the measure program and the drivers.
        var tools = Toolchain.Build(Path.Combine(_outDir, "bin"), Log);
        if (tools == null)
            return 2;

        // 2. Find the allocators and check that each preload takes effect.
        var env = BaseEnvironment();
        var measurer = new Measurer(Path.Combine(tools.BinDir, "measure"), env);
        var allocators = AllocatorCatalog.Discover(options, _outDir, Log);
        AllocatorCatalog.Probe(allocators, measurer, tools.Driver("whichmalloc"), _workDir);
        ShowAllocators(allocators);
        var active = allocators.Where(a => a.Ready).ToList();
        if (!active.Any(a => a.Name == Allocator.Reference))
        {
            AnsiConsole.MarkupLine("[red]glibc itself cannot run the probe program; giving up.[/]");
            return 2;
        }

        // 3. Choose the workloads.
        var workloads = SelectWorkloads();
        if (workloads.Count == 0)
        {
            AnsiConsole.MarkupLine("[red]no workload matches the filter[/] (see --list)");
            return 2;
        }

        // 4. Run them: count their instructions (--instructions), or time them.
        if (options.Instructions)
            return RunInstructionsMode(clock, loadAtStart, allocators, active, workloads, tools, measurer);
        int totalRuns = workloads.Sum(_ => (options.Warmup + options.Repeat) * active.Count);
        ShowProgress(progress =>
        {
            var task = progress.AddTask("starting", maxValue: totalRuns);
            foreach (var w in workloads)
                RunWorkload(w, active, tools, measurer, task);
        });

        // Smoke mode also takes one tiny instruction count per allocator, so that path keeps working.
        var counted = options.Smoke && workloads.Any(w => w.Name == SmokeCountedWorkload)
            ? CountInstructions(workloads.Where(w => w.Name == SmokeCountedWorkload).ToList(), active, tools, measurer)
            : null;

        // 5. Report.
        var results = new Results(allocators, workloads, _records, options);
        var load = new MachineLoad(loadAtStart, MachineLoad.Now(), Environment.ProcessorCount);
        var targets = Targets.Evaluate(results);
        var threadTargets = ThreadTargets.Evaluate(results, load);
        string chart = Chart.Write(_outDir, results, Log);
        string report = MarkdownReport.Write(_outDir, results, targets, threadTargets, chart, clock.Elapsed, load.Describe());
        CsvExport.Write(Path.Combine(_outDir, "runs.csv"), _records);
        ConsoleReport.Show(results, targets, threadTargets);
        if (counted != null)
            WriteInstructions(counted, report);
        int passed = _records.Count(r => r.Ok), failed = _records.Count(r => !r.Ok);
        if (counted != null)
        {
            passed += counted.Records.Count(r => r.Ok);
            failed += counted.Failures;
        }
        return Finish(clock, allocators, report, chart, passed, failed);
    }

    /// <summary>Spectre's progress display with the suite's columns, for the timed runs and the counts alike.</summary>
    private static void ShowProgress(Action<ProgressContext> work)
    {
        var columns = new ProgressColumn[]
        {
            new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
            new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn(),
        };
        AnsiConsole.Progress().AutoClear(true).HideCompleted(true).Columns(columns).Start(work);
    }

    /// <summary>
    /// The end of every run: the work folder removed (unless kept), broken allocators named,
    /// where the report is, and the closing line CI reads; the exit code. An allocator whose
    /// probe crashed or did not take effect is a failure too (not built or not installed is
    /// not: that is reported, and the others still run).
    /// </summary>
    private int Finish(Stopwatch clock, List<Allocator> allocators, string report, string chart, int passed, int failed)
    {
        if (!options.KeepWork)
        {
            try { Directory.Delete(_workDir, recursive: true); }
            catch (IOException e) { Log("could not remove " + _workDir + ": " + e.Message); }
        }
        var broken = allocators.Where(a => a.State == AllocatorState.Broken).ToList();
        failed += broken.Count;
        foreach (var a in broken)
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(a.Name)} is broken:[/] {Markup.Escape(a.Note)}");
        AnsiConsole.MarkupLine($"report: [blue]{Markup.Escape(report)}[/]");
        if (chart.Length > 0)
            AnsiConsole.MarkupLine($"chart:  [blue]{Markup.Escape(chart)}[/]");
        AnsiConsole.MarkupLine($"took {clock.Elapsed:mm\\:ss}; not run: {string.Join(", ", allocators.Where(a => !a.Ready).Select(a => $"{a.Name} ({a.StateText})").DefaultIfEmpty("none"))}");
        // The plain closing line CI reads.
        Console.WriteLine($"{options.ModeName}: {passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    private List<Workload> SelectWorkloads()
    {
        var all = Catalog.All().Concat(Catalog.Threaded()).ToList();
        if (options.Workloads.Count == 0)
            return all.Where(w => w.Group != Group.Threads || options.Threads).ToList();
        var wanted = new HashSet<string>(options.Workloads, StringComparer.OrdinalIgnoreCase);
        return all.Where(w => wanted.Contains(w.Name) || wanted.Contains(w.Group)).ToList();
    }

    private IReadOnlyDictionary<string, string> BaseEnvironment()
    {
        var env = new Dictionary<string, string>
        {
            ["LC_ALL"] = "C",
            ["LANG"] = "C",
            ["TZ"] = "UTC",
            ["HOME"] = Path.Combine(_workDir, "home"),
        };
        Directory.CreateDirectory(env["HOME"]);
        return env;
    }

    private void RunWorkload(Workload w, List<Allocator> active, Tools tools, Measurer measurer, ProgressTask task)
    {
        var ctx = new WorkContext
        {
            Dir = Path.Combine(_workDir, w.Name),
            Tools = tools,
            Smoke = options.Smoke,
            StartupExecs = options.StartupExecs,
        };
        Directory.CreateDirectory(ctx.InputDir);
        task.Description = $"{w.Name}: preparing inputs";
        var prep = Stopwatch.StartNew();
        w.Prepare?.Invoke(ctx);
        if (prep.Elapsed.TotalSeconds > 2)
            Log($"{w.Name}: inputs prepared in {prep.Elapsed.TotalSeconds:0.0} s");

        var mine = new List<RunRecord>();
        var failed = new HashSet<Allocator>();
        // Warm-up with glibc first: if anything is wrong with the workload itself, it shows there.
        var warmOrder = active.OrderBy(a => a.Name == Allocator.Reference ? 0 : 1).ToList();
        for (int rep = -options.Warmup; rep < options.Repeat; rep++)
        {
            var order = rep < 0 ? warmOrder : Rotate(active, rep);
            foreach (var a in order)
            {
                task.Description = rep < 0
                    ? $"{w.Name} · {a.Name} · warm-up"
                    : $"{w.Name} · {a.Name} · run {rep + 1}/{options.Repeat}";
                if (failed.Contains(a))
                {
                    task.Increment(1);
                    continue;
                }
                var rec = RunOnce(w, a, rep, ctx, measurer);
                mine.Add(rec);
                if (!rec.Ok)
                    failed.Add(a);
                task.Increment(1);
            }
        }
        CompareDigests(mine);
        foreach (var rec in mine.Where(r => !r.Ok))
            failed.Add(rec.Allocator);
        _records.AddRange(mine);
        LogWorkload(w, active, mine);
    }

    private static List<Allocator> Rotate(List<Allocator> xs, int by) =>
        xs.Skip(by % xs.Count).Concat(xs.Take(by % xs.Count)).ToList();

    private RunRecord RunOnce(Workload w, Allocator a, int rep, WorkContext ctx, Measurer measurer)
    {
        var rec = new RunRecord { Workload = w, Allocator = a, Rep = rep };
        try
        {
            w.Reset(ctx);
            var cmd = w.Command(ctx);
            int execs = w.ManyExecs ? Math.Max(1, ctx.StartupExecs) : 1;
            var executions = measurer.Run(cmd, a.Preload, ctx.RunDir, ctx.StdoutPath, ctx.StderrPath, execs, options.TimeoutSeconds);
            rec.Sample = Sample.Median(executions.Select(e => e.Sample).ToList());
            Judge(rec, ctx, executions, execs);
            if (!rec.Ok)
                KeepFailureOutput(rec, ctx);
        }
        catch (Exception e)
        {
            // Whatever went wrong in preparing, measuring or checking, it is this run's failure:
            // the suite goes on with the others and reports it.
            rec.Ok = false;
            rec.Failure = $"harness error: {e.GetType().Name}: {e.Message}";
        }
        return rec;
    }

    /// <summary>
    /// Sets rec.Ok, Failure, Digest and Metrics from how the executions ended and what the last
    /// one printed: exit 0 and the workload's own check (its digest is compared with glibc's later).
    /// </summary>
    private static void Judge(RunRecord rec, WorkContext ctx, IReadOnlyList<Execution> executions, int execs)
    {
        string stdout = ReadText(ctx.StdoutPath, 1 << 20), stderr = ReadText(ctx.StderrPath, 1 << 16);
        var last = executions[^1];
        if (!last.Succeeded)
            rec.Failure = $"{last.Describe()}{(executions.Count > 1 ? $" (execution {executions.Count} of {execs})" : "")}{StderrHint(stderr)}";
        else if (executions.Count < execs)
            rec.Failure = $"only {executions.Count} of {execs} executions ran";
        else if (stderr.Contains("cannot be preloaded", StringComparison.Ordinal))
            rec.Failure = "ld.so could not preload the library" + StderrHint(stderr);
        else
        {
            var check = rec.Workload.Check(ctx, new RunOutput(stdout, stderr));
            rec.Ok = check.Ok;
            rec.Digest = check.Digest;
            rec.Metrics = check.Metrics;
            if (!check.Ok)
                rec.Failure = "wrong result: " + check.Message + StderrHint(stderr);
        }
    }

    /// <summary>Every allocator must give glibc's answer; glibc must agree with itself.</summary>
    private static void CompareDigests(List<RunRecord> runs)
    {
        var ok = runs.Where(r => r.Ok).ToList();
        if (ok.Count == 0)
            return;
        string reference = ok.FirstOrDefault(r => r.Allocator.Name == Allocator.Reference)?.Digest
            ?? ok.GroupBy(r => r.Digest).OrderByDescending(g => g.Count()).First().Key;
        foreach (var r in ok.Where(r => r.Digest != reference))
        {
            r.Ok = false;
            r.Failure = r.Allocator.Name == Allocator.Reference
                ? $"glibc gave two different answers ({reference}, {r.Digest}): the workload is not deterministic"
                : $"wrong result: checksum {r.Digest}, glibc gave {reference}";
        }
    }

    private void KeepFailureOutput(RunRecord rec, WorkContext ctx)
    {
        string dir = Path.Combine(_outDir, "failures");
        Directory.CreateDirectory(dir);
        string name = $"{rec.Workload.Name}-{rec.Allocator.Name}-{(rec.Counted ? "callgrind" : rec.Warmup ? "warmup" : "run" + (rec.Rep + 1))}";
        foreach (var (from, ext) in new[] { (ctx.StdoutPath, "stdout"), (ctx.StderrPath, "stderr") })
        {
            if (File.Exists(from))
                File.WriteAllText(Path.Combine(dir, $"{name}.{ext}"), ReadText(from, 1 << 16));
        }
    }

    private static string StderrHint(string stderr)
    {
        // The last line: where a traceback or a chain of "fatal:" messages ends up saying what happened.
        string line = stderr.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0 && !l.StartsWith("measure:", StringComparison.Ordinal)) ?? "";
        return line.Length == 0 ? "" : " — " + (line.Length > 120 ? line[..120] + "…" : line);
    }

    private static string ReadText(string path, int limit)
    {
        if (!File.Exists(path))
            return "";
        using var s = File.OpenRead(path);
        var buffer = new byte[(int)Math.Min(limit, s.Length)];
        int n = s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, n);
    }

    private static void LogWorkload(Workload w, List<Allocator> active, List<RunRecord> runs)
    {
        double Med(Allocator a) => Stats.Median(runs.Where(r => r.Allocator == a && !r.Warmup && r.Ok).Select(r => r.Sample!.WallMs));
        double glibc = Med(active.First(a => a.Name == Allocator.Reference));
        var parts = new List<string>();
        foreach (var a in active)
        {
            var bad = runs.FirstOrDefault(r => r.Allocator == a && !r.Ok);
            if (bad != null)
            {
                parts.Add($"{a.Name} [red]FAILED[/]");
                continue;
            }
            double m = Med(a);
            parts.Add(a.Name == Allocator.Reference || double.IsNaN(glibc)
                ? $"{a.Name} {Fmt.Ms(m)}"
                : $"{a.Name} {Fmt.Ms(m)} [grey]({Fmt.Ratio(m / glibc)})[/]");
        }
        bool allOk = runs.All(r => r.Ok);
        AnsiConsole.MarkupLine($"{(allOk ? "[green]✓[/]" : "[red]✗[/]")} [bold]{w.Name,-10}[/] {string.Join(" · ", parts)}");
        foreach (var r in runs.Where(r => !r.Ok))
            AnsiConsole.MarkupLine($"    [red]{Markup.Escape(r.Allocator.Name)}[/] {(r.Warmup ? "warm-up" : $"run {r.Rep + 1}")}: {Markup.Escape(r.Failure)}");
    }

    private static void ShowAllocators(List<Allocator> allocators)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("allocator", "state", "version", "library / note");
        foreach (var a in allocators)
        {
            string state = a.Ready ? "[green]ready[/]" : $"[yellow]{a.StateText}[/]";
            table.AddRow(Markup.Escape(a.Name), state, Markup.Escape(a.Version), Markup.Escape(a.Ready ? a.Preload ?? a.Note : a.Note));
        }
        AnsiConsole.Write(table);
    }

    private static void Log(string message) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
}
