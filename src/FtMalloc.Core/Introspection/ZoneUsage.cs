// What a zone holds, from one walk over its blocks: the numbers show_alloc_mem_ex prints
// on each zone's line, the snapshot writes on each zone, and HeapSurvey adds up for
// mallinfo and malloc_info. "Free" counts the blocks on the free lists and those parked
// in a quick bin (cached): both are memory the program has given back.
//
//   AllocatedBytes + FreeBytes + CachedBytes == AreaEnd - AreaStart   (TINY/SMALL: blocks tile the area)
//   fragmentation == 1 - LargestFree / (FreeBytes + CachedBytes)      (0 when nothing is free)
// A LARGE zone is one allocated block of AreaEnd - AreaStart usable bytes.
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Introspection;

internal unsafe struct ZoneUsage
{
    public nuint AllocatedBlocks;
    /// <summary>Bytes of the allocated blocks, headers included (LARGE: the usable bytes).</summary>
    public nuint AllocatedBytes;
    /// <summary>Bytes the program asked for, over the allocated blocks.</summary>
    public nuint RequestedBytes;
    public nuint FreeBlocks;
    /// <summary>Bytes of the blocks on the free lists, headers included.</summary>
    public nuint FreeBytes;
    public nuint CachedBlocks;
    /// <summary>Bytes of the blocks parked in quick bins, headers included.</summary>
    public nuint CachedBytes;
    /// <summary>The largest free or cached block, header included.</summary>
    public nuint LargestFree;

    public readonly nuint AvailableBytes => FreeBytes + CachedBytes;

    public readonly bool IsEmpty => AllocatedBlocks == 0;

    public static ZoneUsage Of(Zone* zone)
    {
        ZoneUsage usage = default;
        if (zone->Category == Category.Large)
        {
            usage.AllocatedBlocks = 1;
            usage.AllocatedBytes = (nuint)(zone->AreaEnd - zone->AreaStart);
            usage.RequestedBytes = zone->LargeRequested;
            return usage;
        }
        for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
            usage.Count(blocks.Current);
        return usage;
    }

    public void Count(Block* b)
    {
        if (b->IsAllocated)
        {
            AllocatedBlocks++;
            AllocatedBytes += b->Size;
            RequestedBytes += b->Requested;
            return;
        }
        if (b->IsFree)
        {
            FreeBlocks++;
            FreeBytes += b->Size;
        }
        else
        {
            // Cached in a quick bin or the small cache, or waiting on its owner's remote-free list.
            CachedBlocks++;
            CachedBytes += b->Size;
        }
        if (b->Size > LargestFree) LargestFree = b->Size;
    }

    public void Add(in ZoneUsage other)
    {
        AllocatedBlocks += other.AllocatedBlocks;
        AllocatedBytes += other.AllocatedBytes;
        RequestedBytes += other.RequestedBytes;
        FreeBlocks += other.FreeBlocks;
        FreeBytes += other.FreeBytes;
        CachedBlocks += other.CachedBlocks;
        CachedBytes += other.CachedBytes;
        if (other.LargestFree > LargestFree) LargestFree = other.LargestFree;
    }
}

/// <summary>A whole heap (or every heap of the process) by category, from one walk over its zones.</summary>
internal unsafe struct HeapSurvey
{
    public fixed ulong Zones[3];
    public fixed ulong MappedBytes[3];
    /// <summary>Mapped bytes of the empty TINY/SMALL zones (the spares malloc_trim would unmap).</summary>
    public ulong EmptyZoneBytes;
    public ZoneUsage Tiny;
    public ZoneUsage Small;
    public ZoneUsage Large;

    /// <summary>Walks the zones of <paramref name="owner"/>, or of every heap when it is null.</summary>
    public static void Take(Heap* owner, HeapSurvey* survey)
    {
        Os.Libc.memset(survey, 0, (nuint)sizeof(HeapSurvey));
        for (var zones = new ZoneCursor(owner); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            int c = (int)zone->Category;
            survey->Zones[c]++;
            survey->MappedBytes[c] += zone->MappedBytes;
            ZoneUsage usage = ZoneUsage.Of(zone);
            if (zone->Category != Category.Large && usage.IsEmpty) survey->EmptyZoneBytes += zone->MappedBytes;
            Of(survey, zone->Category)->Add(usage);
        }
    }

    public static ZoneUsage* Of(HeapSurvey* survey, Category category) =>
        category == Category.Tiny ? &survey->Tiny : category == Category.Small ? &survey->Small : &survey->Large;
}
