// The instruction-count mode (bench/run --instructions): each selected program and synthetic
// workload runs once per allocator under callgrind (Callgrind.cs), is checked as a timed run is,
// and the report gives instructions per workload and allocator with their ratios. Smoke mode also
// counts one tiny workload (SmokeCountedWorkload) after its timed runs, so the path keeps working.
//
// Which workloads are counted: the programs and the synthetic drivers (Group.CountsForMeans), at
// their counted size (WorkContext.Size with three sizes; smoke size in smoke mode). Not counted:
// the micro drivers (they time fixed loops; their instruction count is the loop), the page-fault
// programs (judged by faults) and start-up (a few hundred thousand instructions of ld.so and ls),
// and the threaded workloads: callgrind runs one thread at a time, so spinning and lock hand-offs
// count instructions that depend on its scheduler, and the counts are no longer repeatable.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using FtMalloc.Bench.Reporting;
using FtMalloc.Bench.Workloads;
using Spectre.Console;

namespace FtMalloc.Bench;

/// <summary>The instruction counts of one invocation.</summary>
internal sealed class CountedRun
{
    /// <summary>The workloads counted, in report order.</summary>
    public required IReadOnlyList<Workload> Workloads { get; init; }

    /// <summary>The allocators that were ready before counting began, in report order.</summary>
    public required IReadOnlyList<Allocator> Allocators { get; init; }

    /// <summary>One record per (workload, allocator) counted; Count is set when Ok.</summary>
    public List<RunRecord> Records { get; } = new();

    /// <summary>Allocators whose preload did not take effect under valgrind, with why: not counted.</summary>
    public Dictionary<Allocator, string> Unusable { get; } = new();

    /// <summary>The selected workloads that are not counted, with why.</summary>
    public List<(Workload Workload, string Why)> Skipped { get; } = new();

    /// <summary>valgrind's version line, or why there is no valgrind.</summary>
    public string Valgrind { get; set; } = "";

    /// <summary>valgrind was missing: nothing could be counted.</summary>
    public bool NoValgrind { get; set; }

    public TimeSpan Took { get; set; }

    public IEnumerable<Allocator> Counted => Allocators.Where(a => !Unusable.ContainsKey(a));

    public int Failures => Records.Count(r => !r.Ok) + Unusable.Count + (NoValgrind ? 1 : 0);

    public RunRecord? Find(Workload w, Allocator a) => Records.FirstOrDefault(r => r.Workload == w && r.Allocator == a);

    /// <summary>The count of (w, a), or NaN if it failed or did not run.</summary>
    public double Instructions(Workload w, Allocator a) =>
        Find(w, a) is { Ok: true, Count: { } c } ? c.Instructions : double.NaN;

    /// <summary>The fewest instructions any allocator executed on w, or NaN.</summary>
    public double Fewest(Workload w) =>
        Counted.Select(a => Instructions(w, a)).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Min();
}

internal sealed partial class Suite
{
    /// <summary>The workload smoke mode counts: realloc's smoke size is a few million instructions.</summary>
    private const string SmokeCountedWorkload = "realloc";

    /// <summary>Whether a workload is counted in instruction mode (see the file comment).</summary>
    public static string? WhyNotCounted(Workload w) => w.Group switch
    {
        Group.Program or Group.Synthetic => null,
        Group.Micro => "times a fixed loop itself",
        Group.PageFault => "judged by its page faults",
        Group.Startup => "start-up: a few hundred thousand instructions of ld.so",
        Group.Threads => "threaded: callgrind serialises threads, so the count depends on its scheduling",
        _ => "not a program or synthetic workload",
    };

    private int RunInstructionsMode(Stopwatch clock, double loadAtStart, List<Allocator> allocators, List<Allocator> active,
        List<Workload> workloads, Tools tools, Measurer measurer)
    {
        var counted = CountInstructions(workloads, active, tools, measurer);
        var load = new MachineLoad(loadAtStart, MachineLoad.Now(), Environment.ProcessorCount);
        string report = InstructionsReport.WriteReport(_outDir, options, allocators, counted, clock.Elapsed, load.Describe());
        InstructionsReport.WriteCsv(Path.Combine(_outDir, "instructions.csv"), counted);
        InstructionsReport.Show(counted);
        return Finish(clock, allocators, report, chart: "", counted.Records.Count(r => r.Ok), counted.Failures);
    }

    /// <summary>After smoke mode's timed runs: the counts go into the same report and instructions.csv.</summary>
    private void WriteInstructions(CountedRun counted, string reportPath)
    {
        var md = new System.Text.StringBuilder();
        md.AppendLine();
        InstructionsReport.Section(md, options, counted);
        File.AppendAllText(reportPath, md.ToString());
        InstructionsReport.WriteCsv(Path.Combine(_outDir, "instructions.csv"), counted);
        InstructionsReport.Show(counted);
    }

    /// <summary>Counts every countable workload once per allocator (glibc first), with progress.</summary>
    private CountedRun CountInstructions(List<Workload> selected, List<Allocator> active, Tools tools, Measurer measurer)
    {
        var clock = Stopwatch.StartNew();
        var counted = new CountedRun { Workloads = selected.Where(w => WhyNotCounted(w) == null).ToList(), Allocators = active };
        foreach (var w in selected)
        {
            if (WhyNotCounted(w) is { } why)
                counted.Skipped.Add((w, why));
        }
        if (counted.Skipped.Count > 0)
            Log("not counted: " + string.Join(", ", counted.Skipped.Select(s => s.Workload.Name)) + " (only programs and synthetic drivers are)");
        if (counted.Workloads.Count == 0)
            return counted;

        string? valgrind = Callgrind.Find();
        if (valgrind == null)
        {
            counted.NoValgrind = true;
            counted.Valgrind = "valgrind is not installed (bench/run installs it with apt-get)";
            AnsiConsole.MarkupLine($"[red]{counted.Valgrind}: no instruction counts[/]");
            return counted;
        }
        counted.Valgrind = Callgrind.Version(valgrind);

        // The preload must take effect under valgrind too (it passes LD_PRELOAD on to the program
        // it runs): the same probe as before the timed runs, run under callgrind.
        string probeDir = Path.Combine(_workDir, "callgrind-probe");
        Directory.CreateDirectory(probeDir);
        foreach (var a in active)
        {
            string logs = Path.Combine(probeDir, a.Name);
            Directory.CreateDirectory(logs);
            var (ok, note) = AllocatorCatalog.ProbeOne(a, measurer, tools.Driver("whichmalloc"), probeDir, cmd => Callgrind.Wrap(valgrind, cmd, logs));
            if (!ok)
            {
                counted.Unusable[a] = "under valgrind: " + note;
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(a.Name)} cannot be counted:[/] {Markup.Escape(counted.Unusable[a])}");
            }
        }
        var usable = counted.Counted.ToList();

        int total = counted.Workloads.Count * usable.Count;
        ShowProgress(progress =>
        {
            var task = progress.AddTask("starting callgrind", maxValue: Math.Max(1, total));
            foreach (var w in counted.Workloads)
                CountWorkload(w, usable, tools, measurer, valgrind, task, counted);
        });
        counted.Took = clock.Elapsed;
        return counted;
    }

    private void CountWorkload(Workload w, List<Allocator> usable, Tools tools, Measurer measurer, string valgrind,
        ProgressTask task, CountedRun counted)
    {
        var ctx = new WorkContext
        {
            // Apart from the timed runs' folder: the counted inputs have their own size.
            Dir = Path.Combine(_workDir, w.Name + "-callgrind"),
            Tools = tools,
            Smoke = options.Smoke,
            Counted = true,
            StartupExecs = options.StartupExecs,
        };
        Directory.CreateDirectory(ctx.InputDir);
        task.Description = $"{w.Name}: preparing inputs";
        w.Prepare?.Invoke(ctx);

        var mine = new List<RunRecord>();
        foreach (var a in usable.OrderBy(a => a.Name == Allocator.Reference ? 0 : 1))
        {
            task.Description = $"{w.Name} · {a.Name} · callgrind";
            mine.Add(CountOnce(w, a, ctx, measurer, valgrind));
            task.Increment(1);
        }
        CompareDigests(mine);
        counted.Records.AddRange(mine);
        LogCounted(w, usable, mine);
    }

    private RunRecord CountOnce(Workload w, Allocator a, WorkContext ctx, Measurer measurer, string valgrind)
    {
        var rec = new RunRecord { Workload = w, Allocator = a, Rep = 0, Counted = true };
        // Outside the run folder: git.sh commits everything in it.
        string logs = Path.Combine(ctx.Dir, "callgrind-logs");
        try
        {
            w.Reset(ctx);
            if (Directory.Exists(logs))
                Directory.Delete(logs, recursive: true);
            Directory.CreateDirectory(logs);
            var cmd = Callgrind.Wrap(valgrind, w.Command(ctx), logs);
            var executions = measurer.Run(cmd, a.Preload, ctx.RunDir, ctx.StdoutPath, ctx.StderrPath, 1, options.TimeoutSeconds);
            rec.Sample = executions[^1].Sample;
            Judge(rec, ctx, executions, 1);
            rec.Count = Callgrind.Read(logs);
            if (rec.Ok && rec.Count == null)
            {
                rec.Ok = false;
                string complaint = Callgrind.Complaint(logs);
                rec.Failure = "callgrind reported no instruction count" + (complaint.Length > 0 ? " — " + complaint : "");
            }
            else if (!rec.Ok && Callgrind.Complaint(logs) is { Length: > 0 } complaint)
                rec.Failure += " (valgrind: " + complaint + ")";
            if (!rec.Ok)
                KeepFailureOutput(rec, ctx);
        }
        catch (Exception e)
        {
            rec.Ok = false;
            rec.Failure = $"harness error: {e.GetType().Name}: {e.Message}";
        }
        finally
        {
            try
            {
                if (Directory.Exists(logs))
                    Directory.Delete(logs, recursive: true);
            }
            catch (IOException) { }
        }
        return rec;
    }

    private static void LogCounted(Workload w, List<Allocator> usable, List<RunRecord> runs)
    {
        var glibc = runs.FirstOrDefault(r => r.Allocator.Name == Allocator.Reference && r.Ok)?.Count?.Instructions;
        var parts = new List<string>();
        foreach (var a in usable)
        {
            var r = runs.FirstOrDefault(x => x.Allocator == a);
            if (r == null)
                continue;
            if (!r.Ok || r.Count == null)
            {
                parts.Add($"{a.Name} [red]FAILED[/]");
                continue;
            }
            long n = r.Count.Instructions;
            parts.Add(a.Name == Allocator.Reference || glibc is not > 0
                ? $"{a.Name} {Fmt.Instructions(n)}"
                : $"{a.Name} {Fmt.Instructions(n)} [grey]({Fmt.Ratio(n / (double)glibc)})[/]");
        }
        double seconds = runs.Where(r => r.Sample != null).Sum(r => r.Sample!.WallMs) / 1000;
        bool allOk = runs.All(r => r.Ok);
        AnsiConsole.MarkupLine($"{(allOk ? "[green]✓[/]" : "[red]✗[/]")} [bold]{w.Name,-10}[/] {string.Join(" · ", parts)} [grey]{seconds:0} s[/]");
        foreach (var r in runs.Where(r => !r.Ok))
            AnsiConsole.MarkupLine($"    [red]{Markup.Escape(r.Allocator.Name)}[/] callgrind: {Markup.Escape(r.Failure)}");
    }
}
