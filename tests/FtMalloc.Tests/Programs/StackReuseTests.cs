// A thread's heap is its own even when its stack is not new, or not its own memory:
// glibc gives a dead thread's stack (and pthread_self() value) to the next thread
// (tests/native/stackreuse.c), and a thread may run on an array in another live thread's
// stack (tests/native/nestedstack.c). Both rule on ways of finding the caller's heap
// (docs/ARCHITECTURE.md, "Threads and fork", Ownership), as does the key slot the fast paths
// read, beside other keys' values (tests/native/keyslot.c), and the table fallback they use
// when there is no key slot (tests/native/manykeys.c).
using System;
using FtMalloc.Cli.Stats;

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
        AssertFastPathsServed(run);
    }

    [Theory(DisplayName = "with pthread keys 0 to 31 taken before the library's set-up (no key slot: its key is 32), the process starts, the threaded fast paths still serve through the heap table, and exited threads' memory comes back")]
    [InlineData("keyslot", "checks: ok")]
    [InlineData("threads", "all ok")]
    public void Without_a_key_slot_the_fast_paths_use_the_table(string program, string verdict)
    {
        var spec = new RunSpec(NativePrograms.Path(program))
        {
            Timeout = TimeSpan.FromMinutes(1), // before the fallback: a hang at load
            Environment = { ["LD_PRELOAD"] = NativePrograms.Path("manykeys.so") }, // after the library: its constructor runs first
        };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 10_000);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains(verdict, run.Stdout);
        // The shim took the keys before the library made its own: the case under test happened.
        Assert.Contains("manykeys: first key 0, last key 31", run.Stderr);
        AssertFastPathsServed(run);
    }

    /// <summary>Few mallocs looked their heap up (a thread's first; threads.c runs 10,000 short threads): the fast paths served the rest (shut, every malloc looks it up).</summary>
    private static void AssertFastPathsServed(RunResult run)
    {
        StatsLine own = run.OwnStats!;
        long calls = own.Fields["calls_malloc"], lookups = own.Fields["malloc_heap_lookups"];
        Assert.True(calls >= 10_000 && lookups * 10 < calls, $"{lookups} of {calls} mallocs looked their heap up: the fast paths did not serve\n{run.Describe()}");
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
