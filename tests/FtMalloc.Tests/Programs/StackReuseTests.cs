// A thread's heap is its own even when its stack is not new, or not its own memory:
// glibc gives a dead thread's stack (and pthread_self() value) to the next thread
// (tests/native/stackreuse.c), and a thread may run on an array in another live thread's
// stack (tests/native/nestedstack.c). Both rule on ways of finding the caller's heap
// (docs/ARCHITECTURE.md, "Threads and fork", Ownership), as does the key slot the fast paths
// read, beside other keys' values (tests/native/keyslot.c).
using System;

namespace FtMalloc.Tests.Programs;

public sealed class StackReuseTests
{
    [Fact(DisplayName = "a thread on a dead thread's reused stack gets its own heap, not the dead thread's")]
    public void Reused_stack_does_not_name_the_old_heap()
    {
        for (int i = 0; i < 3; i++)
        {
            var spec = new RunSpec(NativePrograms.Path("stackreuse")) { Timeout = TimeSpan.FromMinutes(1) };
            RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains("checks: ok", run.Stdout);
            // glibc's stack cache gave the second thread the first one's stack: the case under test happened.
            Assert.Contains("stack reused: yes", run.Stdout);
        }
    }

    [Fact(DisplayName = "the threaded fast paths read the library's own key, not another of the descriptor's first 32, and a thread's other keys' destructors may free and allocate after its heap is gone")]
    public void Other_keys_values_are_never_taken_for_a_heap()
    {
        var spec = new RunSpec(NativePrograms.Path("keyslot")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("checks: ok", run.Stdout);
        // The program filled the other keys of the first block (glibc keeps their values beside the library's).
        Assert.Matches(@"keys: (2\d|3[01])\n", run.Stdout);
    }

    [Fact(DisplayName = "a thread whose stack is an array in another live thread's stack gets a heap of its own")]
    public void Nested_stack_gets_its_own_heap()
    {
        var spec = new RunSpec(NativePrograms.Path("nestedstack")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        // Two heaps: the threads' first blocks come from two zones (a stack-address lookup gave "yes").
        Assert.Contains("same zone: no", run.Stdout);
        Assert.Contains("checks: ok", run.Stdout);
    }
}
