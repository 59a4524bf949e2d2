// The threaded fast paths find the caller's heap from its stack address (FtMalloc.Native/
// ThreadHeap.cs); a heap forgets its owner's stack when the owner exits, before glibc gives
// that stack to a new thread (tests/native/stackreuse.c: two threads, one of them on the
// dead thread's stack, allocate and check blocks at the same time).
using System;

namespace FtMalloc.Tests.Programs;

public sealed class StackReuseTests
{
    [Fact(DisplayName = "a thread on a dead thread's reused stack gets its own heap, not the dead thread's")]
    public void Reused_stack_does_not_name_the_old_heap()
    {
        for (int run = 0; run < 3; run++)
        {
            var spec = new RunSpec(NativePrograms.Path("stackreuse")) { Timeout = TimeSpan.FromMinutes(1) };
            RunResult run1 = ChildProcess.Run(spec, Allocator.FtMalloc);
            Assert.True(run1.ExitCode == 0, run1.Describe());
            Assert.Contains("checks: ok", run1.Stdout);
            // glibc's stack cache gave the second thread the first one's stack: the case under test happened.
            Assert.Contains("stack reused: yes", run1.Stdout);
        }
    }
}
