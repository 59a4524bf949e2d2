// FT_MALLOC_LEAKS=1: at exit, exactly the blocks still allocated, with their sizes and
// categories, then the totals; nothing else. The C driver (tests/native/leaks.c) prints
// the address and size of each block it leaks; the blocks it frees (at once, through
// realloc, or in an atexit handler) must not be listed.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

public sealed class LeakReportTests
{
    /// <summary>The "leak 0x... SIZE" lines the driver printed.</summary>
    internal static List<(ulong Address, ulong Size)> PrintedLeaks(RunResult run)
    {
        var leaks = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Where(f => f.Length == 3 && f[0] == "leak")
            .Select(f => (ulong.Parse(f[1].AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture), ulong.Parse(f[2], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.True(leaks.Count == 6, "the driver did not print its 6 leaks\n" + run.Describe());
        return leaks;
    }

    private static string CategoryOf(ulong size) => size <= 512 ? "TINY" : size <= 128 * 1024 ? "SMALL" : "LARGE";

    [Fact(DisplayName = "FT_MALLOC_LEAKS=1 lists exactly the leaked blocks (address, size, category) and the totals, in this format")]
    public void ExactlyTheLeaks()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("leaks").With(("FT_MALLOC_LEAKS", "1")), minMallocs: 9);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        var leaks = PrintedLeaks(run.Run).OrderBy(l => l.Address).ToList();

        var expected = new StringBuilder();
        int pid = run.Run.Pid;
        expected.Append($"ft_malloc: leaks of pid {pid}: blocks still allocated at exit\n");
        foreach (var (address, size) in leaks)
            expected.Append($"0x{address:X} : {size} bytes, {CategoryOf(size)}\n");
        string Count(IEnumerable<(ulong Address, ulong Size)> blocks, string separator)
        {
            var list = blocks.ToList();
            return $"{list.Count} block{(list.Count == 1 ? "" : "s")}{separator}{list.Sum(b => (decimal)b.Size)} bytes";
        }
        expected.Append($"ft_malloc: leaks of pid {pid}: {Count(leaks, ", ")} (");
        expected.Append(string.Join(", ", new[] { "TINY", "SMALL", "LARGE" }.Select(c => $"{c} {Count(leaks.Where(l => CategoryOf(l.Size) == c), " ")}")));
        expected.Append(")\n");

        string report = string.Concat(run.ReportLines.Select(l => l + "\n"));
        ChildProcess.AssertSameText("leak report", expected.ToString(), report, run.Run);
        Assert.Contains($"ft_malloc: leaks of pid {pid}: 6 blocks, 201257 bytes (TINY 4 blocks 557 bytes, SMALL 1 block 700 bytes, LARGE 1 block 200000 bytes)\n", report);
    }

    [Fact(DisplayName = "without FT_MALLOC_LEAKS there is no leak report")]
    public void OffByDefault()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("leaks"), minMallocs: 9);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Assert.Empty(run.ReportLines);
    }
}
