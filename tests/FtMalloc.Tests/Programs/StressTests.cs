// tests/native/stress.c under the library: 8 threads passing blocks between them,
// threads exiting with live blocks, fork() in the middle of the storm; every block is
// verified against a pattern derived from its address and size before it is freed.
using System;
using System.Linq;

namespace FtMalloc.Tests.Programs;

public sealed class StressTests
{
    [Fact(DisplayName = "stress: 8 threads, cross-thread frees, orphaned blocks and fork, all verified")]
    public void Stress()
    {
        var spec = new RunSpec(NativePrograms.Path("stress")) { Timeout = TimeSpan.FromMinutes(3) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 100_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.StartsWith("stress: ok ", run.Stdout);
        // The parent and the two fork children each report at exit.
        Assert.True(run.Stats.Count == 3, $"expected 3 stats lines (parent + 2 fork children)\n{run.Describe()}");
        Assert.True(run.Stats.All(s => s.Mallocs > 0), run.Describe());
        // stress frees every block it allocates; what stays in use is libc's (the stdout
        // buffer, thread bookkeeping): far below what the storm had live.
        Assert.True(run.OwnStats!.InUseBytes < 1024 * 1024, $"in_use_bytes at exit should be tiny: did cross-thread frees go uncounted?\n{run.Describe()}");
    }
}
