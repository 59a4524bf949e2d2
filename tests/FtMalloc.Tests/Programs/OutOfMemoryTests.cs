// When mmap fails, every entry point says ENOMEM, nothing already allocated is lost, and
// allocation recovers once memory is available again (tests/native/oom.c limits its own
// address space with setrlimit, as `ulimit -v` would).
using System;

namespace FtMalloc.Tests.Programs;

public sealed class OutOfMemoryTests
{
    [Fact(DisplayName = "mmap refused: NULL with ENOMEM, old blocks intact, later calls recover")]
    public void Mmap_failure_is_reported_and_recovered_from()
    {
        var spec = new RunSpec(NativePrograms.Path("oom")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 100);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.DoesNotContain("FAILED", run.Stdout);
        Assert.EndsWith("all ok\n", run.Stdout);
    }
}
