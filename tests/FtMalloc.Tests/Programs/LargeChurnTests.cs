// Freed LARGE memory under LD_PRELOAD (tests/native/largechurn.c): a churn of big blocks
// reuses freed pages instead of faulting new ones, resident memory after freeing
// everything is bounded (the 16 MiB floor of the LARGE budget), and a thread that exits
// gives its free LARGE memory back.
using System;
using System.Linq;

namespace FtMalloc.Tests.Programs;

public sealed class LargeChurnTests
{
    private static long[] Numbers(string stdout, string prefix) =>
        stdout.Split('\n').Single(l => l.StartsWith(prefix + " ", StringComparison.Ordinal))
              .Split(' ').Select(t => long.TryParse(t, out long v) ? v : -1).Where(v => v >= 0).ToArray();

    [Fact(DisplayName = "large-block churn: freed pages reused (under 5% of written pages fault), memory back after free and thread exit")]
    public void ChurnReusesAndGivesBack()
    {
        var spec = new RunSpec(NativePrograms.Path("largechurn")) { Timeout = TimeSpan.FromMinutes(1) };
        RunResult run = ChildProcess.RunServed(spec, minMallocs: 3000);
        Assert.True(run.ExitCode == 0, run.Describe());
        long[] faults = Numbers(run.Stdout, "faults"); // faults F pages P
        long[] rss = Numbers(run.Stdout, "rss");       // rss start S peak K end E (KiB)
        long thread = Numbers(run.Stdout, "thread")[0];
        Assert.True(faults[0] * 20 < faults[1], $"{faults[0]} page faults for {faults[1]} pages written\n{run.Stdout}");
        Assert.True(rss[2] - rss[0] <= 18 * 1024, $"{rss[2] - rss[0]} KiB still resident after every block was freed\n{run.Stdout}");
        Assert.True(thread - rss[2] <= 2 * 1024, $"the exited thread left {thread - rss[2]} KiB resident\n{run.Stdout}");
        var stats = run.OwnStats!;
        Assert.True(stats.Fields["mmap_calls"] < 40, $"{stats.Fields["mmap_calls"]} mmap calls for 3,000 LARGE blocks");
    }
}
