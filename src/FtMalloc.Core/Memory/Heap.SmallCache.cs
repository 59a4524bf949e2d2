// The heap's side of the small cache (SmallCache.cs): where it lives (in the heap's
// mapping, after TINY's class lists: its page is touched only when a program frees a
// block of 1,056 bytes to 16 KiB), how much it may hold, which blocks go in, and the slow
// paths' use of it: Allocate takes from it before searching the free lists, FreeOwned
// puts into it instead of merging, ReleaseQuickBins empties it.
using System.Runtime.CompilerServices;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    /// <summary>The cache holds at most 1 / SmallCacheShare of the heap's bytes in use (and SmallCache.MaxBytes).</summary>
    public const ulong SmallCacheShare = 16;

    private static nuint SmallCacheOffset
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (ClassListsOffset + (nuint)(TinyClassCount * sizeof(FreeLists)) + 63) & ~(nuint)63;
    }

    /// <summary>The heap's small cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SmallCache* SmallCacheOf(Heap* heap) => (SmallCache*)((byte*)heap + SmallCacheOffset);

    /// <summary>
    /// Bytes the cache may hold now: min(SmallCache.MaxBytes, in-use bytes / SmallCacheShare),
    /// so a small program keeps little in it; 0 in a heap made without quick bins (caching
    /// off). Read from the in_use_bytes counter: a build with FT_MALLOC_NO_COUNTERS never
    /// caches (as its quick bins never grow).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint SmallCacheLimit(Heap* heap)
    {
        if (heap->BinLimitBase == 0) return 0;
        ulong share = HeapCounters.InUseBytes(&heap->Counters) / SmallCacheShare; // 0 without counters
        return share < SmallCache.MaxBytes ? (nuint)share : SmallCache.MaxBytes;
    }

    /// <summary>A cached block for a SMALL request of <paramref name="bytes"/> (a block size above QuickBins.MaxBlockBytes), taken whole, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Block* TakeCachedSmall(Heap* heap, nuint bytes) =>
        bytes < SmallCache.LimitBlockBytes ? SmallCacheOf(heap)->Take(bytes) : null;

    /// <summary>
    /// Caches <paramref name="block"/>, allocated in a SMALL zone, if its size is the cache's,
    /// neither neighbour is free, and there is room; false otherwise (the caller frees it).
    /// A block with a free neighbour merges instead, as it would without the cache: a cached
    /// block between free ones keeps them apart, and on churn caching those too cost 0.9 MB
    /// of peak RSS (the free lists fragmented, the zone's untouched rest was cut into sooner).
    /// First the cache gives back what it holds beyond its limit (ShrinkSmallCache), unless
    /// <paramref name="shrink"/> is false (a constant: TryFreeCachedSmall, which makes no
    /// call): then a cache over its limit takes nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryCacheSmall(Heap* heap, Block* block, bool shrink = true)
    {
        uint size = block->Size;
        if (size < SmallCache.MinBlockBytes || size >= SmallCache.LimitBlockBytes) return false;
        SmallCache* cache = SmallCacheOf(heap);
        nuint limit = SmallCacheLimit(heap);
        if (cache->Bytes > limit)
        {
            if (!shrink) return false;
            ShrinkSmallCache(heap, limit);
        }
        if (Block.PrevIsFree(block)) return false;
        Block* next = (Block*)((byte*)block + size);
        if ((byte*)next < (byte*)Zone.OfBlock(block, Category.Small) + Zone.AreaEndOffset(Category.Small) && next->IsFree) return false;
        return cache->TryPut(block, size, limit);
    }

    /// <summary>
    /// The bytes in use fell (the limit is a share of them): frees cached blocks for real
    /// until the cache holds at most <paramref name="limit"/> (0: all of them, ReleaseSmallCache);
    /// returns how many it freed. So a program that frees its
    /// blocks of these sizes also empties the cache, and their zones can empty and go back
    /// (tests/native/reportrace.c fills three SMALL zones and frees every block, a round at
    /// a time: without this, the cached blocks kept a zone mapped and filled).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nuint ShrinkSmallCache(Heap* heap, nuint limit)
    {
        SmallCache* cache = SmallCacheOf(heap);
        nuint released = 0;
        for (Block* b; cache->Bytes > limit && (b = cache->TakeAny()) != null; released++)
            Release(heap, Category.Small, Zone.OfBlock(b, Category.Small), b);
        return released;
    }

    /// <summary>Largest request whose block the small cache may hold (a block under SmallCache.LimitBlockBytes).</summary>
    public const nuint SmallCacheMaxRequest = SmallCache.LimitBlockBytes - Categories.Granule - Categories.BlockOverheadBytes;

    /// <summary>
    /// malloc's way to the small cache, straight from the exported malloc (Exports.MallocOwned)
    /// for a request of QuickBins.MaxRequestBytes + 1 to SmallCacheMaxRequest bytes: a cached
    /// block taken whole and counted as Allocate would (one malloc call), or null, and then the
    /// caller goes on to the full path (which looks in the cache again: it holds no block for
    /// this request). What it skips is the layers between (CAllocator.Malloc, AllocateFast,
    /// Allocate's category and size tests): on bench/'s churn, where about 6% of the mallocs
    /// are of these sizes, they were most of the 208 instructions such a malloc took.
    /// </summary>
    public static byte* AllocateCachedSmall(Heap* heap, nuint request)
    {
        if (heap->Outgoing.Chains != 0) return null; // a slow malloc hands the remote frees on: the full path does
        Block* block = SmallCacheOf(heap)->Take(Categories.BlockBytesFor(request));
        if (block == null) return null;
        HeapCounters.Add(&heap->Counters, Counter.CallsMalloc, 1);
        Commit(heap, block, request);
        return Block.PayloadOf(block);
    }

    /// <summary>
    /// free's way to the small cache, straight from the exported free (Exports.FreeOwned) for
    /// a block it checked (allocated, of a TINY/SMALL zone of <paramref name="heap"/>) and
    /// found too big for the quick bins or its bin full: caches it as FreeOwned would
    /// (TryCacheSmall's rules), and counts it (one free call), or returns false and changes
    /// nothing, and the caller frees it through FreeChecked. A block of
    /// SmallCache.MinBlockBytes or more that is allocated lies in a SMALL zone (a TINY zone's
    /// allocated blocks are at most Categories.MaxBlockBytes(Tiny): HeapValidator checks it),
    /// so no zone header is read. It makes no call, so that the exported free's way here
    /// saves no register: a cache over its limit (it gives blocks back first, a call) is left
    /// to the full path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFreeCachedSmall(Heap* heap, Block* block)
    {
        uint requested = block->Requested; // TryPut overwrites Info
        if (!TryCacheSmall(heap, block, shrink: false)) return false;
        HeapCounters* counters = &heap->Counters;
        HeapCounters.Add(counters, Counter.CallsFree, 1);
        HeapCounters.CountFree(counters, requested);
        return true;
    }

    /// <summary>Frees every block of the small cache for real (merging it): every cached block holds bytes, so a limit of 0 takes them all. Returns how many there were.</summary>
    private static nuint ReleaseSmallCache(Heap* heap) => ShrinkSmallCache(heap, 0);
}
