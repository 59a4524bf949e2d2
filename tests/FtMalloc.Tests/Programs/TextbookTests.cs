// The textbook's C programs (tests/native/test0.c .. test5.c) run under the library.
// Every test proves service: the library's own stats line for the process, or, where
// the program aborts before exit, a diagnostic that only the library prints.
using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Cli.Introspection;
using FtMalloc.Cli.Stats;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Programs;

public sealed class TextbookTests
{
    private readonly ITestOutputHelper _output;

    public TextbookTests(ITestOutputHelper output) => _output = output;

    private static RunSpec Native(string name, params (string Key, string? Value)[] environment)
        => new(NativePrograms.Path(name))
        {
            Environment = environment.ToDictionary(e => e.Key, e => e.Value),
            Timeout = TimeSpan.FromMinutes(1),
        };

    [Fact(DisplayName = "test0 (no allocation) runs under the library and exits 0")]
    public void Test0()
    {
        RunResult run = ChildProcess.Run(Native("test0"), Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        // test0 allocates nothing, so the stats line itself is the proof that the library
        // was loaded and ran its exit hook in this process.
        Assert.True(run.OwnStats is not null, "no stats line: the library was not loaded\n" + run.Describe());
    }

    [Fact(DisplayName = "test1: 1024 x malloc(1024) are all served by the library")]
    public void Test1()
    {
        RunResult run = ChildProcess.RunServed(Native("test1"), minMallocs: 1024);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(run.OwnStats!.InUseBytes >= 1024 * 1024, $"in_use_bytes at exit should cover the 1024 live blocks\n{run.Describe()}");
    }

    [Fact(DisplayName = "test2: 1024 x malloc(1024)+free are all served and freed by the library")]
    public void Test2()
    {
        RunResult run = ChildProcess.RunServed(Native("test2"), minMallocs: 1024);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(run.OwnStats!.Frees >= 1024, $"expected >= 1024 frees\n{run.Describe()}");
        Assert.True(run.OwnStats!.PeakBytes < 64 * 1024, $"a freed block is reused: the peak should stay small\n{run.Describe()}");
    }

    [Fact(DisplayName = "test3: realloc keeps the data (16 MiB -> 128 MiB, TINY -> LARGE -> TINY)")]
    public void Test3()
    {
        RunResult run = ChildProcess.RunServed(Native("test3"), minMallocs: 2);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Equal("Bonjours\nBonjours\ntiny->small->large ok\ntiny->small->large ok\n", run.Stdout);
        // 1 + 9 growth steps + 1 shrink
        Assert.True(run.OwnStats!.Reallocs >= 11, $"expected the 11 reallocs to be counted\n{run.Describe()}");
    }

    [Fact(DisplayName = "test4 with FT_MALLOC_CHECK=1: bad free is reported and ignored, realloc of it returns NULL")]
    public void Test4ReportAndContinue()
    {
        RunResult run = ChildProcess.RunServed(Native("test4", ("FT_MALLOC_CHECK", "1")));
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("free(NULL) returned\n", run.Stdout);
        Assert.Contains("free(interior) returned\n", run.Stdout);
        Assert.Contains("realloc(interior) returned NULL\n", run.Stdout);
        Assert.Contains("block intact: yes\n", run.Stdout);
        Assert.EndsWith("done\n", run.Stdout);
        string pointer = InteriorPointer(run);
        AssertDiagnostic(run, "free", pointer);
        AssertDiagnostic(run, "realloc", pointer);
    }

    [Fact(DisplayName = "test4 by default (FT_MALLOC_CHECK=3): the bad free prints one line naming free and the pointer, then aborts")]
    public void Test4DefaultAborts()
    {
        RunResult run = ChildProcess.Run(Native("test4"), Allocator.FtMalloc);
        Assert.True(run.ExitCode == 128 + 6, $"expected SIGABRT (exit 134)\n{run.Describe()}");
        Assert.Contains("free(NULL) returned\n", run.Stdout);
        Assert.DoesNotContain("free(interior) returned", run.Stdout);
        // glibc's own message ("free(): invalid pointer") never names the pointer: a line
        // that does is the library's, which proves it served the program.
        AssertDiagnostic(run, "free", InteriorPointer(run));
    }

    [Fact(DisplayName = "test4 with FT_MALLOC_CHECK=2: the bad free aborts silently")]
    public void Test4SilentAbort()
    {
        RunResult run = ChildProcess.Run(Native("test4", ("FT_MALLOC_CHECK", "2")), Allocator.FtMalloc);
        Assert.True(run.ExitCode == 128 + 6, $"expected SIGABRT (exit 134)\n{run.Describe()}");
        Assert.DoesNotContain("free(interior) returned", run.Stdout);
        Assert.DoesNotContain(InteriorPointer(run).TrimStart('0'), run.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("invalid pointer", run.Stderr);
    }

    [Fact(DisplayName = "test4 with FT_MALLOC_CHECK=0: the bad free is ignored silently")]
    public void Test4Ignore()
    {
        RunResult run = ChildProcess.RunServed(Native("test4", ("FT_MALLOC_CHECK", "0")));
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("free(interior) returned\n", run.Stdout);
        Assert.Contains("block intact: yes\n", run.Stdout);
        Assert.EndsWith("done\n", run.Stdout);
        Assert.DoesNotContain(InteriorPointer(run).TrimStart('0'), run.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact(DisplayName = "test5: show_alloc_mem lists TINY, SMALL and LARGE zones, blocks by address, Total = sum")]
    public void Test5()
    {
        RunResult run = ChildProcess.RunServed(Native("test5"), minMallocs: 10);
        Assert.True(run.ExitCode == 0, $"show_alloc_mem was not found or the program failed\n{run.Describe()}");
        _output.WriteLine(run.Stdout);
        AllocMemDump dump = AllocMemDump.Parse(run.Stdout);
        List<string> problems = dump.Violations();
        Assert.True(problems.Count == 0, string.Join('\n', problems) + "\n" + run.Describe());
        string[] categories = dump.Zones.Select(z => z.Category).Distinct().ToArray();
        Assert.Contains("TINY", categories);
        Assert.Contains("SMALL", categories);
        Assert.Contains("LARGE", categories);
        // Every live block of the program is listed with its requested size (the freed
        // 128-byte block may not be); other allocations of the process may be listed too.
        var listed = dump.Blocks.Select(b => b.Size).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        foreach (ulong size in new ulong[] { 1, 42, 100, 1000, 1024, 4000, 16000, 100000, 1048576 })
        {
            Assert.True(listed.TryGetValue(size, out int count) && count > 0, $"no block of {size} bytes listed\n{run.Stdout}");
            listed[size] = count - 1;
        }
        ulong largest = dump.Blocks.Max(b => b.Size);
        Assert.Equal("LARGE", dump.Zones.First(z => z.Blocks.Any(b => b.Size == largest)).Category);
        Assert.Equal("TINY", dump.Zones.First(z => z.Blocks.Any(b => b.Size == 1)).Category);
    }

    /// <summary>The interior pointer as test4 printed it ("%p": 0x + lowercase hex),
    /// returned as bare hex digits.</summary>
    private static string InteriorPointer(RunResult run)
    {
        const string marker = "interior pointer 0x";
        int at = run.Stdout.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, "test4 did not print its interior pointer\n" + run.Describe());
        int end = run.Stdout.IndexOf('\n', at);
        return run.Stdout.Substring(at + marker.Length, end - at - marker.Length);
    }

    /// <summary>One stderr line names the function and the pointer (any case, any
    /// number of leading zeros).</summary>
    private static void AssertDiagnostic(RunResult run, string function, string pointerHex)
    {
        string digits = pointerHex.TrimStart('0');
        bool found = run.Stderr.Split('\n').Any(line =>
            line.Contains(function, StringComparison.Ordinal) &&
            line.Contains(digits, StringComparison.OrdinalIgnoreCase));
        Assert.True(found, $"no stderr line names `{function}` and the pointer 0x{pointerHex}\n{run.Describe()}");
    }
}
