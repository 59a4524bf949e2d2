// The JSON snapshot (src/FtMalloc.Core/Introspection/Snapshot.cs) as the tests read it:
// parsed with System.Text.Json (so a malformed document fails the test), then checked
// for the rules every snapshot keeps.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;

namespace FtMalloc.Tests.Introspection;

internal sealed record SnapshotBlock(ulong Address, ulong BlockBytes, ulong RequestedBytes, string State);

internal sealed record SnapshotZone(
    ulong Address, string Category, ulong Owner, ulong MappedBytes, ulong AreaStart, ulong AreaEnd, List<SnapshotBlock> Blocks,
    ulong AllocatedBlocks, ulong UsedBytes, ulong RequestedBytes, ulong FreeBlocks, ulong FreeBytes,
    ulong CachedBlocks, ulong CachedBytes, ulong LargestFreeBytes, double Fragmentation)
{
    /// <summary>TINY only: the block sizes the zone serves (its size class); null for SMALL and LARGE.</summary>
    public (ulong Min, ulong Max)? SizeClass { get; init; }
}

internal sealed record Snapshot(int Pid, ulong PageSize, Dictionary<string, ulong> Counters, List<SnapshotZone> Zones)
{
    public IEnumerable<SnapshotBlock> Blocks => Zones.SelectMany(z => z.Blocks);

    public static Snapshot Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        Assert.Equal("ft_malloc snapshot 1", root.GetProperty("format").GetString());
        var counters = root.GetProperty("counters").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetUInt64());
        var zones = root.GetProperty("zones").EnumerateArray().Select(z => new SnapshotZone(
            Hex(z, "address"), z.GetProperty("category").GetString()!, Hex(z, "owner"), U(z, "mapped_bytes"),
            Hex(z, "area_start"), Hex(z, "area_end"),
            z.GetProperty("blocks").EnumerateArray().Select(b => new SnapshotBlock(
                Hex(b, "address"), U(b, "block_bytes"), U(b, "requested_bytes"), b.GetProperty("state").GetString()!)).ToList(),
            U(z, "allocated_blocks"), U(z, "used_bytes"), U(z, "requested_bytes"), U(z, "free_blocks"), U(z, "free_bytes"),
            U(z, "cached_blocks"), U(z, "cached_bytes"), U(z, "largest_free_bytes"), z.GetProperty("fragmentation").GetDouble())
            {
                SizeClass = z.TryGetProperty("size_class", out JsonElement c) ? (U(c, "min_block_bytes"), U(c, "max_block_bytes")) : null,
            }).ToList();
        return new Snapshot(root.GetProperty("pid").GetInt32(), U(root, "page_size"), counters, zones);
    }

    /// <summary>Every way the snapshot breaks its own rules, as sentences.</summary>
    public List<string> Violations()
    {
        var problems = new List<string>();
        ulong previous = 0;
        foreach (SnapshotZone z in Zones)
        {
            if (z.Address <= previous && previous != 0) problems.Add($"zone 0x{z.Address:X} not above 0x{previous:X}");
            previous = z.Address;
            if (z.Category is not ("TINY" or "SMALL" or "LARGE")) problems.Add($"zone 0x{z.Address:X}: category {z.Category}");
            if ((z.Category == "TINY") != (z.SizeClass != null)) problems.Add($"zone 0x{z.Address:X}: a size class only and always for TINY");
            if (z.SizeClass is { } sc && (sc.Min < 32 || sc.Max > 528 || sc.Min > sc.Max || sc.Min % 16 != 0 || sc.Max % 16 != 0))
                problems.Add($"zone 0x{z.Address:X}: size class {sc.Min}-{sc.Max}");
            if (z.Category == "LARGE")
            {
                if (z.Blocks.Count != 1 || z.Blocks[0].State != "allocated" || z.Blocks[0].Address != z.AreaStart)
                    problems.Add($"LARGE zone 0x{z.Address:X} does not hold exactly its one allocated block");
                continue;
            }
            ulong at = z.AreaStart + 16;
            foreach (SnapshotBlock b in z.Blocks)
            {
                if (b.Address != at) problems.Add($"zone 0x{z.Address:X}: block 0x{b.Address:X} expected at 0x{at:X} (blocks tile the area)");
                if (b.State is not ("allocated" or "free" or "cached")) problems.Add($"block 0x{b.Address:X}: state {b.State}");
                if (b.State != "allocated" && b.RequestedBytes != 0) problems.Add($"block 0x{b.Address:X}: {b.State} with requested bytes");
                if (b.State == "allocated" && b.RequestedBytes > b.BlockBytes - 8) problems.Add($"block 0x{b.Address:X}: requested > usable");
                at = b.Address + b.BlockBytes;
            }
            if (at - 16 != z.AreaEnd) problems.Add($"zone 0x{z.Address:X}: blocks end at 0x{at - 16:X}, the area at 0x{z.AreaEnd:X}");
            ulong used = Sum(z, "allocated"), free = Sum(z, "free"), cached = Sum(z, "cached");
            if (used != z.UsedBytes || free != z.FreeBytes || cached != z.CachedBytes)
                problems.Add($"zone 0x{z.Address:X}: usage fields disagree with its blocks");
            if (used + free + cached != z.AreaEnd - z.AreaStart) problems.Add($"zone 0x{z.Address:X}: used + free + cached != area");
        }
        return problems;
    }

    private static ulong Sum(SnapshotZone z, string state) => (ulong)z.Blocks.Where(b => b.State == state).Sum(b => (decimal)b.BlockBytes);

    private static ulong U(JsonElement e, string name) => e.GetProperty(name).GetUInt64();

    private static ulong Hex(JsonElement e, string name)
    {
        string text = e.GetProperty(name).GetString()!;
        Assert.StartsWith("0x", text);
        return ulong.Parse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }
}
