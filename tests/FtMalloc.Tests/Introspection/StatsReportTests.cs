// The statistics: the one-line record tools parse (its original fields, in their order,
// then the new ones), the human report that malloc_stats() prints and FT_MALLOC_STATS=2
// writes at exit, both from the one list of counters, and the calls per entry point.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FtMalloc.Cli.Stats;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

public sealed class StatsReportTests
{
    /// <summary>The human report's layout: sections in order, each with (label, stats-line key) rows in order.</summary>
    private static readonly (string Section, (string Label, string Key)[] Rows)[] s_layout =
    {
        ("calls", new[]
        {
            ("malloc", "calls_malloc"), ("free", "calls_free"), ("calloc", "calls_calloc"), ("realloc", "calls_realloc"),
            ("reallocarray", "calls_reallocarray"), ("posix_memalign", "calls_posix_memalign"), ("aligned_alloc", "calls_aligned_alloc"),
            ("memalign", "calls_memalign"), ("valloc", "calls_valloc"), ("pvalloc", "calls_pvalloc"),
            ("malloc_usable_size", "calls_malloc_usable_size"), ("free_sized", "calls_free_sized"), ("free_aligned_sized", "calls_free_aligned_sized"),
            ("malloc looked up its heap", "malloc_heap_lookups"),
        }),
        ("blocks", new[] { ("allocated", "mallocs"), ("freed", "frees"), ("reallocated", "reallocs"), ("reallocated in place", "reallocs_in_place") }),
        ("bytes", new[] { ("requested", "bytes_requested"), ("in use now", "in_use_bytes"), ("in use at peak", "peak_bytes"), ("served", "bytes_served") }),
        ("zones", new[]
        {
            ("tiny mapped", "zones_tiny"), ("small mapped", "zones_small"), ("large mapped", "zones_large"),
            ("tiny unmapped", "zones_tiny_unmapped"), ("small unmapped", "zones_small_unmapped"), ("large unmapped", "zones_large_unmapped"),
            ("tiny holes borrowed", "tiny_holes_borrowed"), ("tiny spare taken over", "tiny_spare_taken_over"),
        }),
        ("system", new[]
        {
            ("mmap calls", "mmap_calls"), ("mmap bytes", "mmap_bytes"), ("munmap calls", "munmap_calls"), ("munmap bytes", "munmap_bytes"),
            ("mapped now", "mapped_bytes"), ("mapped at peak", "peak_mapped_bytes"),
            ("malloc_trim calls", "trim_calls"), ("madvise calls", "madvise_calls"), ("madvise bytes", "madvise_bytes"),
            ("mremap calls", "mremap_calls"), ("mremap bytes", "mremap_bytes"),
        }),
        ("misuse", new[] { ("bad or double frees", "misuse_detected") }),
    };

    /// <summary>The report for these counter values, as the library must print it.</summary>
    private static string Render(int pid, IReadOnlyDictionary<string, long> fields)
    {
        var text = new StringBuilder($"ft_malloc: statistics of pid {pid}\n");
        foreach (var (section, rows) in s_layout)
        {
            text.Append($"  {section}\n");
            foreach (var (label, key) in rows)
                text.Append("    ").Append(label.PadRight(24)).Append(fields[key].ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(20)).Append('\n');
        }
        return text.ToString();
    }

    [Fact(DisplayName = "malloc_stats() prints every counter on stderr, by section, in this exact layout")]
    public void MallocStatsExact()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "stats"), minMallocs: 12);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        // Nothing is allocated after malloc_stats(), so the exit line holds the same values.
        ChildProcess.AssertSameText("malloc_stats output", Render(run.Run.Pid, run.Stats.Fields), run.Run.Stderr, run.Run);
        var f = run.Stats.Fields;
        Assert.Equal(11, f["calls_malloc"]);
        Assert.Equal(7, f["calls_free"]);  // 5 + big + free(NULL)
        Assert.Equal(1, f["calls_calloc"]);
        Assert.Equal(1, f["calls_realloc"]);
        Assert.Equal(1, f["zones_large"]);
    }

    [Fact(DisplayName = "FT_MALLOC_STATS=2 writes the human report, then the stats line, at exit")]
    public void ReportAtExit()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "calls").With(("FT_MALLOC_STATS", "2")), minMallocs: 13);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        string expected = Render(run.Run.Pid, run.Stats.Fields) + run.Output.Split('\n').Single(l => l.StartsWith(StatsLine.Prefix)) + "\n";
        ChildProcess.AssertSameText("FT_MALLOC_STATS=2 output", expected, run.Output, run.Run);
    }

    [Fact(DisplayName = "calls are counted per entry point; free(NULL) counts; realloc's own moves do not count as malloc or free calls")]
    public void CallsPerEntryPoint()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "calls"), minMallocs: 13);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        var expected = new Dictionary<string, long>
        {
            ["calls_malloc"] = 3, ["calls_free"] = 11, ["calls_calloc"] = 2, ["calls_realloc"] = 2, ["calls_reallocarray"] = 1,
            ["calls_posix_memalign"] = 1, ["calls_aligned_alloc"] = 1, ["calls_memalign"] = 1, ["calls_valloc"] = 1,
            ["calls_pvalloc"] = 1, ["calls_malloc_usable_size"] = 1, ["calls_free_sized"] = 1, ["calls_free_aligned_sized"] = 1,
            // 3 + 2 + realloc(NULL) + realloc's move + reallocarray(NULL) + 5 aligned
            ["mallocs"] = 13, ["frees"] = 13, ["in_use_bytes"] = 0, ["misuse_detected"] = 0,
        };
        foreach (var (key, value) in expected)
            Assert.True(run.Stats.Fields[key] == value, $"{key} = {run.Stats.Fields[key]}, expected {value}\n{run.Output}");
        Assert.True(run.Stats.Fields["bytes_served"] >= run.Stats.Fields["bytes_requested"], run.Output);
    }

    [Fact(DisplayName = "the stats line keeps its original fields, names and order, and appends the new counters")]
    public void LineKeepsItsFormat()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "calls"), minMallocs: 13);
        string line = run.Output.Split('\n').Single(l => l.StartsWith(StatsLine.Prefix));
        string[] keys = line.Substring(StatsLine.Prefix.Length).Split(' ').Select(t => t.Split('=')[0]).ToArray();
        string[] original =
        {
            "pid", "mallocs", "frees", "reallocs", "reallocs_in_place", "bytes_requested", "in_use_bytes", "peak_bytes",
            "zones_tiny", "zones_small", "zones_large", "zones_tiny_unmapped", "zones_small_unmapped", "zones_large_unmapped",
            "mmap_calls", "mmap_bytes", "munmap_calls", "munmap_bytes", "mapped_bytes", "peak_mapped_bytes", "misuse_detected",
        };
        Assert.Equal(original, keys.Take(original.Length).ToArray());
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.Contains("calls_malloc", keys);
        Assert.Contains("bytes_served", keys);
        Assert.Equal(s_layout.Sum(s => s.Rows.Length) + 1, keys.Length); // every counter is in the report, once
    }
}
