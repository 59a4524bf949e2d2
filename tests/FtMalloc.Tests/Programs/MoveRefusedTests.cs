// LARGE realloc and malloc move pages with mremap(MREMAP_FIXED) into a window the library
// owns, and the kernel refuses some moves (EFAULT: the block, or the free extent the pages
// come from, spans more than one mapping). Linux up to at least 6.10 unmapped the target
// before it looked the source up, so a refused move left a hole where the library thought it
// had a free extent (or a block's clean tail): the next block placed there faulted. This
// machine's kernel checks first, so tests/native/oldmremap.so (preloaded after the library)
// gives mremap the old order, and tests/native/moverefused.c writes and checks every page of
// LARGE blocks it grows, shrinks, frees and allocates again.
using System;
using System.Linq;

namespace FtMalloc.Tests.Programs;

public sealed class MoveRefusedTests
{
    [Fact(DisplayName = "A refused mremap move leaves no hole in LARGE memory (old kernels unmapped the target first)")]
    public void RefusedMovesLeaveTheTargetMapped()
    {
        var spec = new RunSpec(NativePrograms.Path("moverefused"), new[] { "20000", "64" })
        {
            Timeout = TimeSpan.FromMinutes(1),
            Environment = { ["LD_PRELOAD"] = NativePrograms.Path("oldmremap.so") },
        };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 1000);
        // Before the fix: SIGSEGV (exit 139) within the first few hundred rounds.
        Assert.True(run.ExitCode == 0, run.Describe());
        long refused = long.Parse(run.Stdout.Split('\n').Single(l => l.StartsWith("refused ", StringComparison.Ordinal)).Substring(8));
        Assert.True(refused > 0, $"the shim saw no refused move, so the test tested nothing\n{run.Describe()}");
    }
}
