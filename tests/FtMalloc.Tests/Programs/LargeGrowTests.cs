// LARGE blocks grown by realloc under LD_PRELOAD (tests/native/largegrow.c). A block that
// cannot grow in place is moved and resized by one mremap, and one that grows in place over
// clean extents has its mapping extended: the rounds fault in only the pages they add, with
// few munmaps, and each block stays about one mapping however many times it grew (the
// kernel's limit is 65,530 mappings per process).
using System;
using System.Linq;

namespace FtMalloc.Tests.Programs;

public sealed class LargeGrowTests
{
    private static long[] Numbers(string stdout, string prefix) =>
        stdout.Split('\n').Single(l => l.StartsWith(prefix + " ", StringComparison.Ordinal))
              .Split(' ').Select(t => long.TryParse(t, out long v) ? v : -1).Where(v => v >= 0).ToArray();

    /// <summary>Runs largegrow with <paramref name="args"/>; checks the contents (exit 0) and that the rounds faulted at most 1.25 times the pages they wrote.</summary>
    private static (RunResult Run, long Mappings) Grow(params string[] args)
    {
        var spec = new RunSpec(NativePrograms.Path("largegrow"), args) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 200);
        Assert.True(run.ExitCode == 0, run.Describe());
        long[] grow = Numbers(run.Stdout, "grow"); // grow faults F pages P
        Assert.True(grow[0] * 4 <= grow[1] * 5, $"{grow[0]} page faults in the realloc rounds for {grow[1]} pages they wrote\n{run.Stdout}");
        return (run, Numbers(run.Stdout, "mappings")[0]);
    }

    [Fact(DisplayName = "4,000 large blocks of 140-300 KB grown by 20 KB 3 times: faults only for the new pages, under 2,000 munmaps, about one mapping per block")]
    public void ManyBlocksGrowWithoutFaulting()
    {
        // Copying each moved block into clean or purged pages faulted it all in again (222K faults
        // for the rounds' 60K pages, 5,350 munmaps: the free-extent table overflowing with holes).
        var (run, mappings) = Grow();
        // Moved without resizing, blocks spanned 7,622 mappings after these 3 rounds.
        Assert.True(mappings <= 5000, $"{mappings} mappings for 4,000 live blocks\n{run.Stdout}");
        long munmaps = run.OwnStats!.Fields["munmap_calls"];
        Assert.True(munmaps < 2000, $"{munmaps} munmap calls (4,000 blocks, 12,000 reallocs)\n{run.Stdout}");
    }

    [Fact(DisplayName = "200 large blocks of 1-2 MB grown by 100 KB 30 times stay about one mapping each")]
    public void GrownBlocksStayOneMapping()
    {
        // Moved with their tails filled from other extents, or grown in place over extents of other
        // mappings, these blocks spanned 7,621 mappings after 30 rounds (25,299 after 90).
        var (run, mappings) = Grow("200", "30", "1100000", "1000000", "102400");
        Assert.True(mappings <= 600, $"{mappings} mappings for 200 live blocks\n{run.Stdout}");
    }
}
