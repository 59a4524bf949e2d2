// FT_MALLOC_TRACE: one record per call, in an order the calls happened in, flushed before
// fork (the child's records follow with its pid, nothing twice) and at exit; and the
// replay tool (src/FtMalloc.Cli/Replay) re-runs a real program's trace to the very same
// statistics, under FtMalloc, and under glibc too.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using FtMalloc.Cli.Stats;
using FtMalloc.Tests.NativeLibrary;
using FtMalloc.Tests.Programs;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Introspection;

public sealed class TraceTests
{
    private readonly ITestOutputHelper _output;

    public TraceTests(ITestOutputHelper output) => _output = output;

    private sealed record Record(int Pid, int Tid, string Operation, string[] Arguments);

    private static List<Record> ReadTrace(string path, out List<string> headers)
    {
        headers = new List<string>();
        var records = new List<Record>();
        foreach (string line in File.ReadAllLines(path))
        {
            if (line.StartsWith('#'))
            {
                headers.Add(line);
                continue;
            }
            string[] f = line.Split(' ');
            Assert.True(f.Length >= 4, $"malformed record '{line}'");
            records.Add(new Record(int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3..]));
        }
        return records;
    }

    [Fact(DisplayName = "FT_MALLOC_TRACE records every call of every entry point, with pid, thread, arguments and result, in order")]
    public void RecordsEveryCall()
    {
        using var dir = new TempDirectory("trace");
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "calls").With(("FT_MALLOC_TRACE", dir["calls.trace"])), minMallocs: 13);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        var records = ReadTrace(dir["calls.trace"], out var headers);
        Assert.Equal(new[] { $"# ft_malloc trace 1 pid={run.Run.Pid}" }, headers);
        Assert.All(records, r => Assert.True(r.Pid == run.Run.Pid && r.Tid == run.Run.Pid, $"{r}"));
        Assert.Equal(new[]
        {
            "malloc", "malloc", "malloc", "calloc", "calloc", "realloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
            "memalign", "valloc", "pvalloc", "malloc_usable_size",
            "free", "free", "free", "free", "free", "free", "free", "free", "free", "free", "free", "free_sized", "free_aligned_sized",
        }, records.Select(r => r.Operation).ToArray());
        Assert.Equal(new[] { "10" }, records[0].Arguments[..1]);
        Assert.Equal(new[] { "2", "8" }, records[3].Arguments[..2]);
        Assert.Equal(new[] { "0x0", "30" }, records[5].Arguments[..2]);
        Assert.Equal(new[] { records[5].Arguments[2], "3000" }, records[6].Arguments[..2]);
        Assert.Equal(new[] { "64", "100" }, records[8].Arguments[..2]);
        Assert.Equal("0", records[8].Arguments[3]); // posix_memalign's return value
        Assert.Equal(new[] { records[0].Arguments[1], "24" }, records[13].Arguments); // malloc(10): a 32-byte block, 8 of them its cost
        Assert.Equal(new[] { "0x0" }, records[14].Arguments);
        Assert.Equal("100", records[25].Arguments[1]);
        Assert.Equal(new[] { "4096", "4096" }, records[26].Arguments[1..]);
        // Every pointer freed was handed out before, and every block handed out is freed.
        var live = new HashSet<string>();
        foreach (Record r in records)
        {
            string? result = r.Operation switch
            {
                "malloc" or "calloc" or "aligned_alloc" or "memalign" => r.Arguments[^1],
                "valloc" or "pvalloc" => r.Arguments[1],
                "realloc" => r.Arguments[2],
                "reallocarray" => r.Arguments[3],
                "posix_memalign" => r.Arguments[2],
                _ => null,
            };
            if (r.Operation is "realloc" or "reallocarray" && r.Arguments[0] != "0x0") Assert.True(live.Remove(r.Arguments[0]), $"{r}");
            if (r.Operation.StartsWith("free", StringComparison.Ordinal) && r.Arguments[0] != "0x0") Assert.True(live.Remove(r.Arguments[0]), $"{r}");
            if (result is not null) Assert.True(result != "0x0" && live.Add(result), $"{r}");
        }
        Assert.Empty(live);
    }

    [Fact(DisplayName = "the trace is flushed before fork: the parent's records appear once, the child's follow with its own pid")]
    public void ForkFlushes()
    {
        using var dir = new TempDirectory("tracefork");
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "fork").With(("FT_MALLOC_TRACE", dir["fork.trace"])), minMallocs: 2);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Match m = Regex.Match(run.Run.Stdout, @"^parent (\d+) child (\d+) ");
        Assert.True(m.Success, run.Run.Stdout);
        int parent = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), child = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.Equal(2, run.Run.Stats.Count); // both processes reported
        var records = ReadTrace(dir["fork.trace"], out var headers);
        Assert.Single(headers);
        string Ops(int pid) => string.Join(",", records.Where(r => r.Pid == pid).Select(r => r.Operation + " " + r.Arguments[0]));
        var before = records.Where(r => r.Operation == "malloc" && r.Arguments[0] == "11").ToList();
        Assert.True(before.Count == 1 && before[0].Pid == parent, "the malloc before fork must be recorded once, by the parent\n" + File.ReadAllText(dir["fork.trace"]));
        Assert.StartsWith("malloc 22,free ", Ops(child));
        Assert.Equal(3, records.Count(r => r.Pid == child)); // malloc 22, free it, free the block from before the fork
        Assert.Contains(records, r => r.Pid == parent && r.Operation == "malloc" && r.Arguments[0] == "33");
        Assert.Equal(4, records.Count(r => r.Pid == parent)); // malloc 11, malloc 33, free, free
    }

    [Fact(DisplayName = "a trace of python3 replays, under the library, to the same statistics; and under glibc with the same calls")]
    public void ReplayReproducesPython()
    {
        using var dir = new TempDirectory("replay");
        string trace = dir["python.trace"];
        RunSpec python = new RunSpec("/usr/bin/python3", "-c",
            "import json\ndata = [{'k': 'v' * i, 'n': list(range(i % 50))} for i in range(3000)]\ns = json.dumps(data)\nprint(len(s), len(json.loads(s)))")
        {
            Timeout = TimeSpan.FromMinutes(2),
        }.With(("FT_MALLOC_TRACE", trace));
        ServedRun recorded = LibraryRun.Served(python, minMallocs: 1000);
        Assert.True(recorded.Run.ExitCode == 0, recorded.Run.Describe());
        Assert.EndsWith(" 3000\n", recorded.Run.Stdout);
        int records = File.ReadLines(trace).Count(l => !l.StartsWith('#'));
        _output.WriteLine($"{records} records; {recorded.Stats.Format()}");

        ServedRun replayed = LibraryRun.Served(LibraryRun.Native("ft_malloc_replay", trace), minMallocs: 1000);
        Assert.True(replayed.Run.ExitCode == 0, replayed.Run.Describe());
        Assert.Matches($@"^ft_malloc_replay: pid {recorded.Run.Pid}: {records} calls, 0 skipped, 0 failed, [0-9.]+ s\n$", replayed.Run.Stdout);
        // Not malloc_heap_lookups: how the library found its heap, not what the program did
        // (tracing shuts the fast paths, so the recording looked it up on every malloc).
        static bool Compared(string key) => key != "pid" && key != "malloc_heap_lookups";
        var want = recorded.Stats.Fields.Where(f => Compared(f.Key)).ToDictionary(f => f.Key, f => f.Value);
        var got = replayed.Stats.Fields.Where(f => Compared(f.Key)).ToDictionary(f => f.Key, f => f.Value);
        var different = want.Where(f => got[f.Key] != f.Value).Select(f => $"{f.Key}: recorded {f.Value}, replayed {got[f.Key]}").ToList();
        Assert.True(different.Count == 0, "the replay's statistics differ:\n" + string.Join('\n', different));

        // Any allocator: without the library, the same calls replay (glibc has no free_sized, the replay uses free).
        RunResult glibc = ChildProcess.Run(LibraryRun.Native("ft_malloc_replay", trace), Allocator.Glibc);
        Assert.True(glibc.ExitCode == 0, glibc.Describe());
        Assert.Matches($@"^ft_malloc_replay: pid {recorded.Run.Pid}: {records} calls, 0 skipped, 0 failed", glibc.Stdout);
        Assert.Empty(glibc.Stats);
    }

    [Fact(DisplayName = "ftmalloc replay builds the replay program and runs a trace under the library (with its summary) or under glibc")]
    public void CliReplay()
    {
        using var dir = new TempDirectory("clireplay");
        ServedRun recorded = LibraryRun.Served(LibraryRun.Native("introspect", "calls").With(("FT_MALLOC_TRACE", dir["calls.trace"])), minMallocs: 13);
        Assert.True(recorded.Run.ExitCode == 0, recorded.Run.Describe());
        string cli = typeof(FtMalloc.Cli.Program).Assembly.Location;
        RunResult ours = ChildProcess.Run(new RunSpec("dotnet", cli, "--lib", NativeBuild.LibraryPath, "replay", dir["calls.trace"]) { Timeout = TimeSpan.FromMinutes(2) }, Allocator.Glibc);
        Assert.True(ours.ExitCode == 0, ours.Describe());
        Assert.Matches($@"^ft_malloc_replay: pid {recorded.Run.Pid}: 27 calls, 0 skipped, 0 failed", ours.Stdout);
        Assert.Contains($"ftmalloc: replayed under {NativeBuild.LibraryPath} in ", ours.Stderr);
        Assert.Contains($"ftmalloc: served by {NativeBuild.LibraryPath}: 1 process, 13 allocations, 13 frees", ours.Stderr);
        RunResult glibc = ChildProcess.Run(new RunSpec("dotnet", cli, "--lib", "glibc", "replay", "-n", dir["calls.trace"]) { Timeout = TimeSpan.FromMinutes(2) }, Allocator.Glibc);
        Assert.True(glibc.ExitCode == 0, glibc.Describe());
        Assert.Contains("ftmalloc: replayed under glibc in ", glibc.Stderr);
        Assert.DoesNotContain("served by", glibc.Stderr);
    }
}
