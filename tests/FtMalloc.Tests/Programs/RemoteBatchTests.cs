// Remote frees are batched per freeing thread (Heap.Remote.cs): a batch that never fills
// must still reach its owner when the freeing thread runs a slow malloc and when it exits
// (tests/native/batchflush.c). The owner's "freed" count (blocks it has taken in) is read
// from malloc_stats() after malloc_trim(0) at each step; the statistics prove service.
using System;
using System.Text.RegularExpressions;

namespace FtMalloc.Tests.Programs;

public sealed class RemoteBatchTests
{
    private static long FreedAfter(RunResult run, string marker)
    {
        Match m = Regex.Match(run.Stderr, "== " + Regex.Escape(marker) + @"\n(?:.*\n)*?\s+freed\s+(\d+)\n");
        Assert.True(m.Success, $"no malloc_stats after '{marker}'\n{run.Describe()}");
        return long.Parse(m.Groups[1].Value);
    }

    private static long InUseAfter(RunResult run, string marker)
    {
        Match m = Regex.Match(run.Stderr, "== " + Regex.Escape(marker) + @"\n(?:.*\n)*?\s+in use now\s+(\d+)\n");
        Assert.True(m.Success, $"no malloc_stats after '{marker}'\n{run.Describe()}");
        return long.Parse(m.Groups[1].Value);
    }

    [Fact(DisplayName = "remote frees of TINY, SMALL and LARGE blocks, interleaved on one list, are each taken in once and give their bytes back")]
    public void Mixed_remote_frees_are_taken_in()
    {
        var spec = new RunSpec(NativePrograms.Path("remotemix")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(InUseAfter(run, "before") > 40 * 200000, run.Describe());
        Assert.True(FreedAfter(run, "after") - FreedAfter(run, "before") >= 120, run.Describe());
        // Every block's bytes came back (what stays is the C library's own, a few hundred bytes).
        Assert.True(InUseAfter(run, "after") - InUseAfter(run, "empty") < 4096, run.Describe());
    }

    [Fact(DisplayName = "a remote-free batch that never fills reaches its owner at the freeing thread's slow malloc and at its exit")]
    public void Unfilled_batches_are_delivered()
    {
        var spec = new RunSpec(NativePrograms.Path("batchflush")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        long start = FreedAfter(run, "start");
        // Batched: ten remote frees wait in the freeing thread (this is what makes the next two checks mean something).
        Assert.Equal(start, FreedAfter(run, "stranded"));
        Assert.Equal(start + 10, FreedAfter(run, "after slow malloc"));
        Assert.True(FreedAfter(run, "after exit") >= FreedAfter(run, "before exit") + 10, run.Describe());
    }
}
