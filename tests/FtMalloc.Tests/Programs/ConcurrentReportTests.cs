// Reports that walk every heap (show_alloc_mem, show_alloc_mem_ex, malloc_info, mallinfo2)
// on one thread while other threads fill zones and empty them, so that zones are unmapped
// all through the reports (tests/native/reportrace.c). Without PageMemory's foreign-reads
// exclusion this crashed about one run in three or five; the test runs it eight times and
// checks, from the library's stats line, that thousands of zones really were unmapped.
using System;
using System.Text.RegularExpressions;

namespace FtMalloc.Tests.Programs;

public sealed class ConcurrentReportTests
{
    [Fact(DisplayName = "reports walk every heap while other threads unmap zones: no crash, no starved unmap")]
    public void Reports_survive_zones_unmapped_under_them()
    {
        for (int run = 0; run < 8; run++)
        {
            var spec = new RunSpec(NativePrograms.Path("reportrace"), "4", "1000") { Timeout = TimeSpan.FromMinutes(2) };
            RunResult result = ChildProcess.RunServed(spec, minMallocs: 1_000_000);
            Assert.True(result.ExitCode == 0, $"run {run}: {result.Describe()}");
            Assert.Contains("done\n", result.Stderr);
            long reports = long.Parse(Regex.Match(result.Stderr, @"reports: (\d+)").Groups[1].Value);
            Assert.True(reports >= 5, $"only {reports} report rounds\n{result.Describe()}");
            long unmapped = result.OwnStats!.Fields["munmap_calls"];
            Assert.True(unmapped >= 1000, $"only {unmapped} munmap calls: zones were not unmapped during the reports\n{result.Describe()}");
        }
    }
}
