// The one parser of the library's exit-time statistics line. The library (with
// FT_MALLOC_STATS=1) appends exactly one line per process to FT_MALLOC_OUTPUT, or to
// stderr when that is unset:
//
//   ft_malloc: stats pid=<pid> mallocs=<n> frees=<n> reallocs=<n> in_use_bytes=<n>
//              peak_bytes=<n> zones_tiny=<n> zones_small=<n> zones_large=<n> mmap_calls=<n>
//
// (one line; wrapped here). A line is accepted only if it starts with the prefix and
// carries every known field as a non-negative decimal; unknown key=value fields are kept,
// so the library may add counters without breaking its readers. Such a line is the proof
// that the library, not glibc, served a process: see runtime-free-csharp.md, Trap 1.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace FtMalloc.Cli.Stats;

/// <summary>One process's statistics, as printed by the library at exit.</summary>
public sealed record StatsLine(
    int Pid,
    long Mallocs,
    long Frees,
    long Reallocs,
    long InUseBytes,
    long PeakBytes,
    long ZonesTiny,
    long ZonesSmall,
    long ZonesLarge,
    long MmapCalls,
    IReadOnlyDictionary<string, long> Fields)
{
    /// <summary>What every stats line starts with.</summary>
    public const string Prefix = "ft_malloc: stats ";

    /// <summary>The keys a line must carry, in the library's order.</summary>
    public static readonly IReadOnlyList<string> RequiredKeys = new[]
    {
        "pid", "mallocs", "frees", "reallocs", "in_use_bytes", "peak_bytes",
        "zones_tiny", "zones_small", "zones_large", "mmap_calls",
    };

    /// <summary>Zones mapped over the life of the process, all categories.</summary>
    public long Zones => ZonesTiny + ZonesSmall + ZonesLarge;

    /// <summary>Parses one line (surrounding whitespace allowed); false if it is not a
    /// complete, well-formed stats line.</summary>
    public static bool TryParse(string? line, out StatsLine? stats)
    {
        stats = null;
        if (line is null)
            return false;
        string text = line.Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        var fields = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string token in text.Substring(Prefix.Length).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = token.IndexOf('=');
            if (eq <= 0)
                return false;
            if (!long.TryParse(token.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                return false;
            if (!fields.TryAdd(token.Substring(0, eq), value))
                return false;
        }
        foreach (string key in RequiredKeys)
        {
            if (!fields.ContainsKey(key))
                return false;
        }
        if (fields["pid"] > int.MaxValue)
            return false;
        stats = new StatsLine(
            (int)fields["pid"], fields["mallocs"], fields["frees"], fields["reallocs"],
            fields["in_use_bytes"], fields["peak_bytes"], fields["zones_tiny"],
            fields["zones_small"], fields["zones_large"], fields["mmap_calls"], fields);
        return true;
    }

    /// <summary>Every stats line found in a text (other lines are ignored).</summary>
    public static List<StatsLine> ParseAll(string? text)
    {
        var result = new List<StatsLine>();
        if (string.IsNullOrEmpty(text))
            return result;
        foreach (string line in text.Split('\n'))
        {
            if (TryParse(line, out StatsLine? stats))
                result.Add(stats!);
        }
        return result;
    }

    /// <summary>Every stats line in a file; an absent file holds none.</summary>
    public static List<StatsLine> ReadFile(string path)
        => File.Exists(path) ? ParseAll(File.ReadAllText(path)) : new List<StatsLine>();

    /// <summary>The line as the library prints it (the known fields only).</summary>
    public string Format()
        => string.Create(CultureInfo.InvariantCulture,
            $"{Prefix}pid={Pid} mallocs={Mallocs} frees={Frees} reallocs={Reallocs} in_use_bytes={InUseBytes} peak_bytes={PeakBytes} zones_tiny={ZonesTiny} zones_small={ZonesSmall} zones_large={ZonesLarge} mmap_calls={MmapCalls}");
}
