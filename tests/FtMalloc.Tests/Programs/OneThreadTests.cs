// The single-thread shortcut (CSemantics/FastPaths.cs) and the way out of it
// (tests/native/onethread.c): blocks allocated, reallocated and freed while the process has
// one thread, in a child forked then, across the first pthread_create, and after the
// second thread exits, all keep their contents and every free is accepted (a misuse report
// would abort the program).
using System;

namespace FtMalloc.Tests.Programs;

public sealed class OneThreadTests
{
    [Fact(DisplayName = "blocks cross from the one-thread path to the threaded one unharmed: fork child, remote frees, an exited thread's blocks")]
    public void Blocks_survive_the_first_thread()
    {
        var spec = new RunSpec(NativePrograms.Path("onethread")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 12_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Equal("ok\n", run.Stdout);
    }
}
