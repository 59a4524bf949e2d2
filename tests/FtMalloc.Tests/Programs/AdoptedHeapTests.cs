// A heap whose thread exited keeps its most recent cached blocks, up to a base-limit bin's
// worth, for the thread that adopts it, and merges the rest (HeapRegistry.Abandon,
// Heap.ShrinkQuickBinsToBase; tests/native/adopt.c): the adopting thread's first malloc of
// a cached size returns the block the exited thread freed last, and a thread whose bins
// grew leaves at most 32 cached blocks of that size behind.
using System;

namespace FtMalloc.Tests.Programs;

public sealed class AdoptedHeapTests
{
    [Fact(DisplayName = "an adopted heap keeps the exited thread's warm cached blocks, cut back to the base limit")]
    public void Adopted_heap_keeps_a_base_limit_of_cached_blocks()
    {
        var spec = new RunSpec(NativePrograms.Path("adopt")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 20_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.DoesNotContain("FAILED", run.Stdout);
        Assert.EndsWith("all ok\n", run.Stdout);
    }
}
