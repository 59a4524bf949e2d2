// LARGE blocks grown by realloc under LD_PRELOAD (tests/native/largegrow.c): 4,000 live
// blocks of 140-300 KB, each grown by 20 KB three times, the new bytes written. A block that
// cannot grow in place is moved by mremap, so the rounds fault in only the pages they add,
// with few munmaps, and each moved block stays one mapping.
using System;
using System.Linq;

namespace FtMalloc.Tests.Programs;

public sealed class LargeGrowTests
{
    private static long[] Numbers(string stdout, string prefix) =>
        stdout.Split('\n').Single(l => l.StartsWith(prefix + " ", StringComparison.Ordinal))
              .Split(' ').Select(t => long.TryParse(t, out long v) ? v : -1).Where(v => v >= 0).ToArray();

    [Fact(DisplayName = "large blocks grown by realloc: the rounds fault in only what they add, under 2,000 munmaps, about one mapping per block")]
    public void GrowthMovesPagesInsteadOfFaulting()
    {
        var spec = new RunSpec(NativePrograms.Path("largegrow")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 4000);
        Assert.True(run.ExitCode == 0, run.Describe());
        long[] grow = Numbers(run.Stdout, "grow");          // grow faults F pages P
        long mappings = Numbers(run.Stdout, "mappings")[0]; // lines of /proc/self/maps after the rounds
        // Copying a moved block into pages that were never touched (or were purged) faults all of it
        // again: 222K faults for the 60K pages the rounds add, before moves were used below 1 MiB.
        Assert.True(grow[0] * 4 <= grow[1] * 5, $"{grow[0]} page faults in the realloc rounds for {grow[1]} pages they wrote\n{run.Stdout}");
        // Moved by mremap into a window and then grown in place over the next extents, a block spans
        // more mappings with every round (7,622 after 3 rounds); moved and resized at once, it is one.
        Assert.True(mappings <= 5000, $"{mappings} mappings for 4,000 live blocks\n{run.Stdout}");
        var stats = run.OwnStats!;
        Assert.True(stats.Fields["munmap_calls"] < 2000, $"{stats.Fields["munmap_calls"]} munmap calls (4,000 blocks, 12,000 reallocs)\n{run.Stdout}");
    }
}
