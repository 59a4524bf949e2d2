// Statistics of a whole run: a program and every descendant that inherited LD_PRELOAD
// each append one StatsLine. Counts add up over processes; the peak does not (processes
// do not share a heap), so the summary reports the largest single-process peak.
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace FtMalloc.Cli.Stats;

/// <summary>The sum (or, for the peak, the maximum) of several processes' stats.</summary>
public sealed record StatsSummary(
    int Processes,
    long Mallocs,
    long Frees,
    long Reallocs,
    long InUseBytesAtExit,
    long PeakBytes,
    long ZonesTiny,
    long ZonesSmall,
    long ZonesLarge,
    long MmapCalls)
{
    public static StatsSummary Of(IReadOnlyCollection<StatsLine> lines) => new(
        lines.Count,
        lines.Sum(l => l.Mallocs),
        lines.Sum(l => l.Frees),
        lines.Sum(l => l.Reallocs),
        lines.Sum(l => l.InUseBytes),
        lines.Count == 0 ? 0 : lines.Max(l => l.PeakBytes),
        lines.Sum(l => l.ZonesTiny),
        lines.Sum(l => l.ZonesSmall),
        lines.Sum(l => l.ZonesLarge),
        lines.Sum(l => l.MmapCalls));

    /// <summary>The lines ftmalloc prints on stderr after a run (no trailing newline).</summary>
    public string Describe(string library)
    {
        var c = CultureInfo.InvariantCulture;
        return string.Format(c,
            "ftmalloc: served by {0}: {1}, {2}, {3}, {4}, peak {5} in use\n" +
            "ftmalloc: zones mapped: tiny {6}, small {7}, large {8} ({9}); {10} still in use at exit",
            library, Count(Processes, "process", "processes"), Count(Mallocs, "allocation", "allocations"),
            Count(Frees, "free", "frees"), Count(Reallocs, "realloc", "reallocs"), Bytes(PeakBytes),
            ZonesTiny, ZonesSmall, ZonesLarge, Count(MmapCalls, "mmap call", "mmap calls"), Bytes(InUseBytesAtExit));
    }

    private static string Count(long n, string one, string many)
        => string.Format(CultureInfo.InvariantCulture, "{0} {1}", n, n == 1 ? one : many);

    /// <summary>"123 bytes", or "1234567 bytes (1.2 MiB)" for the larger amounts.</summary>
    public static string Bytes(long bytes)
    {
        var c = CultureInfo.InvariantCulture;
        if (bytes < 10 * 1024)
            return string.Format(c, "{0} bytes", bytes);
        string[] units = { "KiB", "MiB", "GiB", "TiB" };
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return string.Format(c, "{0} bytes ({1:0.0} {2})", bytes, value, units[unit]);
    }
}
