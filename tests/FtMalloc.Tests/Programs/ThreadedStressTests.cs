// tests/native/stress.c under the library at several thread counts, and a fork storm:
// many fork() calls while the other threads are inside the allocator, each child freeing
// (and reallocating, and handing to a thread of its own) blocks that other threads, running
// or exited, allocated before the fork. Every block is verified against a pattern derived
// from its address and size. stress reports its fork children's results through a shared
// mapping; each child that exits also writes its own stats line.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace FtMalloc.Tests.Programs;

public sealed class ThreadedStressTests
{
    /// <summary>The number after `name=` on stress's "ok" line.</summary>
    private static long Field(RunResult run, string name)
    {
        Match m = Regex.Match(run.Stdout, $@"\b{name}=(\d+)\b");
        Assert.True(m.Success, $"no {name}= on stress's line\n{run.Describe()}");
        return long.Parse(m.Groups[1].Value);
    }

    [Theory(DisplayName = "stress at 2, 8 and 32 threads: cross-thread frees, orphans, stolen blocks, fork")]
    [InlineData(2, 60_000)]
    [InlineData(8, 60_000)]
    [InlineData(32, 15_000)]
    public void Stress_at_thread_count(int threads, int opsPerThread)
    {
        var spec = new RunSpec(NativePrograms.Path("stress"), threads.ToString(), opsPerThread.ToString())
        {
            Timeout = TimeSpan.FromMinutes(3),
        };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 20_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.StartsWith($"stress: ok threads={threads} ", run.Stdout);
        // The parent and its two fork children (one per round) report; grandchildren _exit.
        Assert.True(run.Stats.Count == 3, $"expected 3 stats lines (parent + 2 fork children)\n{run.Describe()}");
        Assert.True(run.Stats.All(s => s.Mallocs > 0 && s.Frees > 0), run.Describe());
        Assert.Equal(2, Field(run, "children_ok"));
        Assert.Equal(2, Field(run, "grandchildren_ok"));
        // Round 2's child always finds blocks that round 1's (exited) threads published.
        Assert.True(Field(run, "child_freed_of_exited") > 0, run.Describe());
        Assert.True(run.OwnStats!.InUseBytes < 1024 * 1024,
            $"in_use_bytes at exit should be tiny: did cross-thread frees go uncounted?\n{run.Describe()}");
    }

    [Fact(DisplayName = "fork storm: 20 forks during 16-thread allocation, children free other threads' pre-fork blocks")]
    public void Fork_during_allocation_storm()
    {
        const int threads = 16, forksPerRound = 10, forks = 2 * forksPerRound;
        var spec = new RunSpec(NativePrograms.Path("stress"), threads.ToString(), "10000", forksPerRound.ToString())
        {
            Timeout = TimeSpan.FromMinutes(3),
        };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 20_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.StartsWith($"stress: ok threads={threads} ", run.Stdout);
        Assert.Equal(forks, Field(run, "forks"));
        Assert.Equal(forks, Field(run, "children_ok"));
        Assert.Equal(forks, Field(run, "grandchildren_ok"));
        // Blocks of threads that were running at the fork, and of threads that had exited.
        Assert.True(Field(run, "child_freed_foreign") > Field(run, "child_freed_of_exited"), run.Describe());
        Assert.True(Field(run, "child_freed_of_exited") > 0, run.Describe());

        // Every child was served by the library and both allocated and freed in it.
        Assert.True(run.Stats.Count == 1 + forks, $"expected {1 + forks} stats lines (parent + every fork child)\n{run.Describe()}");
        List<FtMalloc.Cli.Stats.StatsLine> children = run.Stats.Where(s => s.Pid != run.Pid).ToList();
        Assert.Equal(forks, children.Count);
        Assert.All(children, c => Assert.True(c.Mallocs > 0 && c.Frees > 0 && c.Fields.GetValueOrDefault("misuse_detected") == 0,
            $"fork child {c.Pid}: {c.Format()}\n{run.Describe()}"));
    }
}
