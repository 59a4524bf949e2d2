// Per-thread heaps over a thread's whole life (tests/native/threads.c): a thread whose
// first call is free() of another thread's block, blocks outliving the thread that
// allocated them, 10,000 short-lived threads without resident growth, and memory given
// back once every block of an exited thread is freed elsewhere.
using System;

namespace FtMalloc.Tests.Programs;

public sealed class ThreadLifecycleTests
{
    [Fact(DisplayName = "thread lifecycle: first call free, blocks after exit, 10,000-thread churn, memory given back")]
    public void Thread_lifecycle_cases_hold()
    {
        var spec = new RunSpec(NativePrograms.Path("threads"), "10000") { Timeout = TimeSpan.FromMinutes(3) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 100_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.DoesNotContain("FAILED", run.Stdout);
        Assert.EndsWith("all ok\n", run.Stdout);
    }
}
