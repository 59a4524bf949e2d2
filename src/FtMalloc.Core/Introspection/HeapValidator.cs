// The expensive check: walks every zone and block of a heap and verifies every
// invariant written in Heap.cs, Zone.cs, Block.cs, FreeLists.cs and ZoneMap.cs. Tests
// call it after each random operation sequence; it never runs on its own.
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Introspection;

internal enum HeapDefect
{
    None,
    ZoneMapEntryWrong,
    ZoneListWrong,
    BlockSizeInvalid,
    PrevSizeWrong,
    AreaNotTiled,
    StartBitmapWrong,
    AdjacentFreeBlocks,
    RequestedExceedsBlock,
    FreeListsInconsistent,
    FreeBlockCountMismatch,
    QuickBinsInconsistent,
    TooManyEmptyZones,
    InUseCounterWrong,
    LargeExtentsWrong,
    TinyClassWrong,
    SmallCacheInconsistent,
    TinyBlockTooBig,
}

internal readonly unsafe struct HeapCheck
{
    public readonly HeapDefect Defect;
    public readonly nuint Address;

    public HeapCheck(HeapDefect defect, nuint address)
    {
        Defect = defect;
        Address = address;
    }

    public bool Ok => Defect == HeapDefect.None;
}

internal static unsafe class HeapValidator
{
    /// <summary>Checks <paramref name="heap"/>, which no other thread may change meanwhile.</summary>
    public static HeapCheck Validate(Heap* heap)
    {
        nuint* freeTiny = stackalloc nuint[Heap.TinyClassCount];
        for (int c = 0; c < Heap.TinyClassCount; c++) freeTiny[c] = 0;
        nuint freeSmall = 0, emptyTiny = 0, emptySmall = 0, zonesSeen = 0, cached = 0, cachedSmall = 0;
        ulong inUse = 0;
        for (var zones = new ZoneCursor(heap); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            zonesSeen++;
            for (nuint a = (nuint)zone; a < (nuint)zone + Zone.RegisteredBytes(zone); a += ZoneMap.ChunkBytes)
                if (ZoneMap.Entry((void*)a) != ((nuint)zone | ZoneTag.Of(heap, zone->Category))) return new HeapCheck(HeapDefect.ZoneMapEntryWrong, a);
            if (!OnList(Heap.ZoneListOf(heap, zone->Category), zone)) return new HeapCheck(HeapDefect.ZoneListWrong, (nuint)zone);
            if (zone->Category == Category.Large)
            {
                inUse += zone->LargeRequested;
                continue;
            }
            HeapCheck blocks = ValidateBlocks(zone, ref inUse, ref cached, ref cachedSmall, out nuint freeBlocks);
            if (!blocks.Ok) return blocks;
            if (zone->Category == Category.Tiny)
            {
                if (zone->TinyClass < 0 || zone->TinyClass >= Heap.TinyClassCount || (zone->TinyClass != Heap.MixedTinyClass && heap->TinyClassesOn == 0)) return new HeapCheck(HeapDefect.TinyClassWrong, (nuint)zone);
                freeTiny[zone->TinyClass] += freeBlocks; // blocks of a class's zones are on that class's lists
            }
            else freeSmall += freeBlocks;
            if (Heap.IsEmpty(zone))
            {
                if (zone->Category == Category.Tiny) emptyTiny++; else emptySmall++;
            }
        }
        nuint listed = 0;
        for (Category c = Category.Tiny; c <= Category.Large; c++)
            for (Zone* z = Heap.ZoneListOf(heap, c); z != null; z = z->Next) listed++;
        if (listed != zonesSeen) return new HeapCheck(HeapDefect.ZoneListWrong, 0);
        nuint tinyListed = 0;
        for (Zone* z = heap->TinyZones; z != null; z = z->Next) tinyListed++;
        if (tinyListed != heap->TinyZoneCount) return new HeapCheck(HeapDefect.ZoneListWrong, 1);
        if (emptyTiny > 1 || emptySmall > 1) return new HeapCheck(HeapDefect.TooManyEmptyZones, 0);
        for (int c = 0; c < Heap.TinyClassCount; c++)
        {
            if (Heap.ClassLists(heap, c)->CountSlow(out bool classOk) != freeTiny[c]) return new HeapCheck(HeapDefect.FreeBlockCountMismatch, (nuint)c);
            if (!classOk) return new HeapCheck(HeapDefect.FreeListsInconsistent, (nuint)c);
        }
        if (heap->SmallFree.CountSlow(out bool smallOk) != freeSmall) return new HeapCheck(HeapDefect.FreeBlockCountMismatch, 1);
        if (!smallOk) return new HeapCheck(HeapDefect.FreeListsInconsistent, 1);
        if (heap->Bins.CountSlow(out bool binsOk) != cached || !binsOk) return new HeapCheck(HeapDefect.QuickBinsInconsistent, (nuint)cached);
        if (Heap.SmallCacheOf(heap)->CountSlow(out bool cacheOk) != cachedSmall || !cacheOk) return new HeapCheck(HeapDefect.SmallCacheInconsistent, (nuint)cachedSmall);
        if (heap->Counters[Counter.InUseBytes] != inUse) return new HeapCheck(HeapDefect.InUseCounterWrong, (nuint)inUse);
        nuint largeLive = 0;
        for (Zone* z = heap->LargeZones; z != null; z = z->Next)
        {
            largeLive += z->MappedBytes;
            if (heap->Large.Overlaps((nuint)z, z->MappedBytes)) return new HeapCheck(HeapDefect.LargeExtentsWrong, (nuint)z);
        }
        if (!heap->Large.CheckSlow() || heap->Large.LiveBytes != largeLive) return new HeapCheck(HeapDefect.LargeExtentsWrong, 0);
        return default;
    }

    private static HeapCheck ValidateBlocks(Zone* zone, ref ulong inUse, ref nuint cached, ref nuint cachedSmall, out nuint freeBlocks)
    {
        freeBlocks = 0;
        nuint blocksSeen = 0;
        uint prevSize = 0;
        bool prevFree = false;
        byte* end = zone->AreaStart;
        for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
        {
            Block* b = blocks.Current;
            blocksSeen++;
            if (b->Size < Categories.MinBlockBytes || (b->SizeWord & (Block.FlagMask & ~Block.PrevFreeBit)) != 0 || (byte*)b + b->Size > zone->AreaEnd)
                return new HeapCheck(HeapDefect.BlockSizeInvalid, (nuint)b);
            if (Block.PrevIsFree(b) != prevFree || (prevFree && b->PrevSize != prevSize)) return new HeapCheck(HeapDefect.PrevSizeWrong, (nuint)b);
            if (!Zone.IsStart(b)) return new HeapCheck(HeapDefect.StartBitmapWrong, (nuint)b);
            if (b->IsFree && prevFree) return new HeapCheck(HeapDefect.AdjacentFreeBlocks, (nuint)b);
            if (b->IsFree) freeBlocks++;
            // Not free in a TINY zone: below the small cache's sizes, so the exported free
            // takes a block of those sizes for a SMALL one without reading its zone's header
            // (Heap.TryFreeCachedSmall).
            else if (zone->Category == Category.Tiny && b->Size >= SmallCache.MinBlockBytes) return new HeapCheck(HeapDefect.TinyBlockTooBig, (nuint)b);
            else if (b->Flags == Block.FlagCached || (b->Flags == Block.FlagRemote && b->Size <= QuickBins.MaxBlockBytes))
            {
                // Remote: spliced into a quick bin by a drain, untouched (Heap.Remote.cs); it
                // keeps its Requested. (One still on its way is counted in use by the counter
                // and not here: validate a heap with no remote frees pending.)
                if (b->Flags == Block.FlagCached && b->Requested != 0) return new HeapCheck(HeapDefect.QuickBinsInconsistent, (nuint)b);
                if (b->Size <= QuickBins.MaxBlockBytes) cached++; // in a quick bin
                else if (zone->Category == Category.Small) cachedSmall++; // in the small cache
                else return new HeapCheck(HeapDefect.SmallCacheInconsistent, (nuint)b);
            }
            else if (b->Flags != 0) return new HeapCheck(HeapDefect.BlockSizeInvalid, (nuint)b);
            else if (b->Requested > b->Size - Categories.BlockOverheadBytes) return new HeapCheck(HeapDefect.RequestedExceedsBlock, (nuint)b);
            else inUse += b->Requested;
            prevSize = b->Size;
            prevFree = b->IsFree;
            end = (byte*)b + b->Size;
        }
        if (end != zone->AreaEnd) return new HeapCheck(HeapDefect.AreaNotTiled, (nuint)end);
        // Exactly one start bit per block, and none elsewhere in the zone's mapping.
        if (ZoneMap.CountStarts(zone, zone->MappedBytes) != blocksSeen) return new HeapCheck(HeapDefect.StartBitmapWrong, (nuint)zone);
        return default;
    }

    private static bool OnList(Zone* list, Zone* zone)
    {
        for (; list != null; list = list->Next)
            if (list == zone) return true;
        return false;
    }
}
