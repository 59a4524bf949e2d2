// The one parser of show_alloc_mem()'s output:
//
//   TINY : 0xA0000                      a zone header: category and zone address
//   0xA0020 - 0xA004A : 42 bytes        an allocated block: start, exclusive end, size
//   SMALL : 0xAD000
//   ...
//   Total : 52698 bytes                 the sum of the block sizes
//
// Addresses are uppercase hex. Zones and blocks come by increasing address; every block
// belongs to the zone header above it. Lines that fit none of the three shapes are kept
// in Unrecognized so a caller can insist there are none, rather than silently skipped.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace FtMalloc.Cli.Introspection;

/// <summary>One allocated block as listed: [Start, End) and the requested size.</summary>
public sealed record DumpBlock(ulong Start, ulong End, ulong Size);

/// <summary>One zone header and the blocks listed under it.</summary>
public sealed record DumpZone(string Category, ulong Address, List<DumpBlock> Blocks);

/// <summary>A parsed show_alloc_mem() listing.</summary>
public sealed partial class AllocMemDump
{
    public List<DumpZone> Zones { get; } = new();

    /// <summary>The number after "Total :", or null if the line is missing.</summary>
    public ulong? Total { get; private set; }

    /// <summary>Non-empty lines that are neither a header, a block nor the total, and
    /// blocks listed before any zone header.</summary>
    public List<string> Unrecognized { get; } = new();

    public IEnumerable<DumpBlock> Blocks
    {
        get
        {
            foreach (DumpZone zone in Zones)
                foreach (DumpBlock block in zone.Blocks)
                    yield return block;
        }
    }

    [GeneratedRegex(@"^(TINY|SMALL|LARGE) : 0x([0-9A-F]+)$")]
    private static partial Regex ZoneLine();

    [GeneratedRegex(@"^0x([0-9A-F]+) - 0x([0-9A-F]+) : (\d+) bytes?$")]
    private static partial Regex BlockLine();

    [GeneratedRegex(@"^Total : (\d+) bytes?$")]
    private static partial Regex TotalLine();

    public static AllocMemDump Parse(string text)
    {
        var dump = new AllocMemDump();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r', ' ');
            if (line.Length == 0)
                continue;
            Match m;
            if ((m = ZoneLine().Match(line)).Success)
            {
                dump.Zones.Add(new DumpZone(m.Groups[1].Value, Hex(m.Groups[2].Value), new List<DumpBlock>()));
            }
            else if ((m = BlockLine().Match(line)).Success && dump.Zones.Count > 0)
            {
                dump.Zones[^1].Blocks.Add(new DumpBlock(
                    Hex(m.Groups[1].Value), Hex(m.Groups[2].Value),
                    ulong.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
            }
            else if ((m = TotalLine().Match(line)).Success && dump.Total is null)
            {
                dump.Total = ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            else
            {
                dump.Unrecognized.Add(line);
            }
        }
        return dump;
    }

    /// <summary>Every way the listing breaks its own rules, as sentences; empty if none.</summary>
    public List<string> Violations()
    {
        var problems = new List<string>();
        if (Total is null)
            problems.Add("no 'Total : N bytes' line");
        foreach (string line in Unrecognized)
            problems.Add($"unrecognized line: '{line}'");
        ulong sum = 0;
        ulong previousZone = 0;
        ulong previousEnd = 0;
        foreach (DumpZone zone in Zones)
        {
            if (zone.Address <= previousZone && previousZone != 0)
                problems.Add($"zone 0x{zone.Address:X} is not above the previous zone 0x{previousZone:X}");
            previousZone = zone.Address;
            foreach (DumpBlock block in zone.Blocks)
            {
                if (block.End - block.Start != block.Size)
                    problems.Add($"block 0x{block.Start:X} - 0x{block.End:X}: end - start != {block.Size}");
                if (block.Start < zone.Address)
                    problems.Add($"block 0x{block.Start:X} lies below its zone 0x{zone.Address:X}");
                if (block.Start < previousEnd)
                    problems.Add($"block 0x{block.Start:X} is not above the previous block's end 0x{previousEnd:X}");
                previousEnd = Math.Max(previousEnd, block.End);
                sum += block.Size;
            }
        }
        if (Total is not null && Total != sum)
            problems.Add($"Total {Total} != sum of block sizes {sum}");
        return problems;
    }

    private static ulong Hex(string digits) => ulong.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
