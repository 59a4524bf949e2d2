// The small cache (Memory/SmallCache.cs, Heap.SmallCache.cs): a freed SMALL block of 1,056
// bytes to 16 KiB whose neighbours are not free is kept whole (Cached) and serves the next
// malloc of a similar size; one with a free neighbour merges as before; the cache is
// bounded; releasing it (with the quick bins) merges every block it held.
using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Core.Memory;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class SmallCacheTests
{
    private static BlockInfo BlockAt(NativeHeap heap, void* p) =>
        heap.Walk().SelectMany(z => z.Blocks).Single(b => b.Address == (nuint)p);

    private static List<BlockInfo> Cached(NativeHeap heap) =>
        heap.Walk().SelectMany(z => z.Blocks).Where(b => b.IsCached).ToList();

    /// <summary>2 MB in use (SMALL blocks of 100 KB, never cached), so that the cache may hold what the tests free: at most 1/16 of the bytes in use.</summary>
    private static List<nint> Ballast(NativeHeap heap)
    {
        var blocks = new List<nint>();
        for (int i = 0; i < 20; i++) blocks.Add((nint)heap.Allocate(100_000));
        return blocks;
    }

    [Fact]
    public void A_freed_block_between_blocks_in_use_is_kept_whole_and_serves_the_next_malloc_of_a_similar_size()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        void* a = heap.Allocate(3000);
        void* b = heap.Allocate(3000);
        void* c = heap.Allocate(3000);
        nuint blockBytes = BlockAt(heap, b).BlockBytes;

        heap.Free(b);
        BlockInfo cached = BlockAt(heap, b);
        Assert.True(cached.IsCached && !cached.IsFree, "the freed block is cached, not merged into the free lists");
        Assert.Equal(blockBytes, cached.BlockBytes);
        heap.Validate();

        void* again = heap.Allocate(2900); // same size class, a smaller block would do: the cached one is taken whole
        Assert.Equal((nuint)b, (nuint)again);
        Assert.Equal(blockBytes, BlockAt(heap, again).BlockBytes);
        Assert.DoesNotContain(Cached(heap), x => x.BlockBytes > QuickBins.MaxBlockBytes);
        heap.Validate();
        heap.Free(a);
        heap.Free(c);
        heap.Free(again);
        heap.Validate();
    }

    [Fact]
    public void A_cached_block_serves_a_request_a_few_classes_smaller_but_not_a_much_smaller_one()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        var guard = new List<nint>();
        void* big = heap.Allocate(8000);
        guard.Add((nint)heap.Allocate(8000));
        heap.Free(big);
        Assert.True(BlockAt(heap, big).IsCached);

        void* far = heap.Allocate(4000); // half the size: not taken from the cache
        Assert.NotEqual((nuint)big, (nuint)far);
        Assert.True(BlockAt(heap, big).IsCached);
        void* near = heap.Allocate(7000); // within SearchClasses of the cached block's class
        Assert.Equal((nuint)big, (nuint)near);
        heap.Validate();
    }

    [Fact]
    public void A_freed_block_next_to_a_free_block_merges_instead_of_being_cached()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        void* uncached = heap.Allocate(20_000); // 16 KiB or more: never cached, so its free really frees it
        void* b = heap.Allocate(3000);
        void* c = heap.Allocate(3000);
        heap.Free(uncached);
        Assert.True(BlockAt(heap, uncached).IsFree);

        heap.Free(b); // the block before it is free: b merges into it
        Assert.DoesNotContain(heap.Walk().SelectMany(z => z.Blocks), x => x.Address == (nuint)b);
        Assert.True(BlockAt(heap, uncached).BlockBytes > 20_000 + 3000);
        Assert.DoesNotContain(Cached(heap), x => x.BlockBytes > QuickBins.MaxBlockBytes);
        heap.Validate();
        heap.Free(c);
        heap.Validate();
    }

    [Fact]
    public void The_cache_holds_at_most_its_byte_bound_and_a_small_heap_keeps_little_in_it()
    {
        using var heap = new NativeHeap();
        var blocks = new List<nint>();
        for (int i = 0; i < 1200; i++) blocks.Add((nint)heap.Allocate((nuint)(1100 + 37 * (i % 300))));
        // Every other block: each freed block's neighbours stay in use, so each could be cached.
        for (int i = 0; i < blocks.Count; i += 2) heap.Free((void*)blocks[i]);
        heap.Validate();
        var big = Cached(heap).Where(x => x.BlockBytes > QuickBins.MaxBlockBytes).ToList();
        Assert.NotEmpty(big);
        Assert.True((ulong)big.Sum(x => (long)x.BlockBytes) <= (ulong)SmallCache.MaxBytes, $"{big.Count} blocks cached");
        Assert.True(big.Count < blocks.Count / 2, "the frees beyond the bound went to the free lists");

        using var small = new NativeHeap(); // a few KB in use: a sixteenth of it holds no such block
        void* x = small.Allocate(3000);
        void* y = small.Allocate(3000);
        small.Allocate(3000);
        small.Free(y);
        Assert.False(BlockAt(small, y).IsCached);
        small.Validate();
        small.Free(x);
    }

    [Fact]
    public void Releasing_the_cached_blocks_merges_the_small_cache_back_into_the_zone()
    {
        using var heap = new NativeHeap();
        List<nint> ballast = Ballast(heap);
        var blocks = new List<nint>();
        for (int i = 0; i < 40; i++) blocks.Add((nint)heap.Allocate((nuint)(1500 + 300 * i)));
        for (int i = 0; i < blocks.Count; i++) heap.Free((void*)blocks[i]); // neighbours in use or cached: each is cached
        Assert.True(Cached(heap).Count(x => x.BlockBytes > QuickBins.MaxBlockBytes) > 10);
        heap.Validate();

        heap.ReleaseCachedBlocks();

        heap.Validate();
        Assert.Empty(Cached(heap));
        foreach (nint p in ballast) heap.Free((void*)p);
        heap.ReleaseCachedBlocks();
        ZoneInfo zone = heap.Walk().Single(z => z.Category == ZoneCategory.Small);
        Assert.True(Assert.Single(zone.Blocks).IsFree); // all merged: one free block over the area
    }

    [Fact]
    public void Blocks_taken_from_every_class_of_the_cache_are_distinct_and_keep_their_contents()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        var blocks = new List<nint>();
        for (int round = 0; round < 4; round++)
        {
            // Sizes over every class (1,056 B to 16 KiB), freed every other one so that most are cached.
            for (int i = 0; i < 400; i++) blocks.Add((nint)heap.Allocate((nuint)(1050 + (i * 7919 + round * 131) % 15_300)));
            for (int i = blocks.Count - 400; i < blocks.Count; i += 2) heap.Free((void*)blocks[i]);
            for (int i = blocks.Count - 400; i < blocks.Count; i += 2) blocks[i] = 0;
            blocks.RemoveAll(b => b == 0);
            heap.Validate();
        }
        var sizes = new Dictionary<nint, nuint>();
        foreach (nint b in blocks)
        {
            nuint usable = heap.UsableSize((void*)b);
            sizes[b] = usable;
            new Span<byte>((void*)b, (int)usable).Fill((byte)b);
        }
        var ranges = blocks.Select(b => (Start: (ulong)b, End: (ulong)b + sizes[b])).OrderBy(r => r.Start).ToList();
        for (int i = 1; i < ranges.Count; i++) Assert.True(ranges[i - 1].End <= ranges[i].Start, "blocks overlap");
        foreach (nint b in blocks)
            Assert.True(new Span<byte>((void*)b, (int)sizes[b]).IndexOfAnyExcept((byte)b) < 0, "a block's contents changed");
        foreach (nint b in blocks) heap.Free((void*)b);
        heap.Validate();
    }

    [Fact]
    public void The_cache_shrinks_as_the_bytes_in_use_fall_so_a_program_that_frees_everything_empties_its_zone()
    {
        using var heap = new NativeHeap();
        List<nint> ballast = Ballast(heap);
        void* last = heap.Allocate(3000);
        heap.Allocate(100); // TINY: keeps nothing of the SMALL zone in use
        var blocks = new List<nint>();
        for (int i = 0; i < 40; i++) blocks.Add((nint)heap.Allocate((nuint)(1500 + 300 * i)));
        foreach (nint b in blocks) heap.Free((void*)b);
        Assert.True(Cached(heap).Count(x => x.BlockBytes > QuickBins.MaxBlockBytes) > 10);
        foreach (nint p in ballast) heap.Free((void*)p); // 100 KB blocks: never cached, the bytes in use fall

        heap.Free(last); // the next free of a cacheable size gives back what is over a sixteenth of the bytes in use

        heap.Validate();
        Assert.DoesNotContain(Cached(heap), x => x.BlockBytes > QuickBins.MaxBlockBytes);
        ZoneInfo zone = heap.Walk().Single(z => z.Category == ZoneCategory.Small);
        Assert.True(Assert.Single(zone.Blocks).IsFree); // every SMALL block merged: the zone is empty
    }

    [Fact]
    public void A_heap_without_quick_bins_caches_nothing()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        Ballast(heap);
        void* a = heap.Allocate(3000);
        void* b = heap.Allocate(3000);
        heap.Allocate(3000);
        heap.Free(b);
        Assert.True(BlockAt(heap, b).IsFree);
        heap.Validate();
        heap.Free(a);
    }

    // The exported malloc and free reach the cache straight from their fast paths
    // (Exports.MallocOwned/FreeOwned: Heap.AllocateCachedSmall, Heap.TryFreeCachedSmall);
    // these tests call those two as the exports do, on a block the fast path would have checked.

    [Fact]
    public void The_direct_free_caches_a_block_and_the_direct_malloc_takes_it_back_each_counted_as_one_call()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        void* a = heap.Allocate(3000);
        void* b = heap.Allocate(3000);
        void* c = heap.Allocate(3000);
        var before = heap.Statistics();

        Assert.True(Heap.TryFreeCachedSmall(heap.Handle, Block.FromPayload(b)));
        Assert.True(BlockAt(heap, b).IsCached);
        heap.Validate(); // in_use_bytes fell by the block's 3000 bytes, the cache's bookkeeping holds
        var freed = heap.Statistics();
        Assert.Equal(before["calls_free"] + 1, freed["calls_free"]);
        Assert.Equal(before["frees"] + 1, freed["frees"]);
        Assert.Equal(before["in_use_bytes"] - 3000, freed["in_use_bytes"]);

        byte* again = Heap.AllocateCachedSmall(heap.Handle, 2900);
        Assert.Equal((nuint)b, (nuint)again);
        Assert.False(BlockAt(heap, again).IsCached);
        Assert.Equal(2900u, (uint)BlockAt(heap, again).RequestedBytes);
        heap.Validate();
        var taken = heap.Statistics();
        Assert.Equal(freed["calls_malloc"] + 1, taken["calls_malloc"]);
        Assert.Equal(freed["in_use_bytes"] + 2900, taken["in_use_bytes"]);

        Assert.True(Heap.AllocateCachedSmall(heap.Handle, 2900) == null, "the cache is empty: the caller takes the full path");
        heap.Free(a);
        heap.Free(c);
        heap.Free(again);
        heap.Validate();
    }

    [Fact]
    public void The_direct_free_leaves_a_block_with_a_free_neighbour_alone_for_the_full_path_to_merge()
    {
        using var heap = new NativeHeap();
        Ballast(heap);
        void* uncached = heap.Allocate(20_000); // never cached: its free makes a free block
        void* b = heap.Allocate(3000);
        void* guard = heap.Allocate(3000);
        heap.Free(uncached);
        var before = heap.Statistics();

        Assert.False(Heap.TryFreeCachedSmall(heap.Handle, Block.FromPayload(b)));
        BlockInfo still = BlockAt(heap, b);
        Assert.False(still.IsCached || still.IsFree);
        Assert.Equal(3000u, (uint)still.RequestedBytes);
        Assert.Equal(before["calls_free"], heap.Statistics()["calls_free"]);
        heap.Validate();
        heap.Free(b); // the full path merges it into the free block before it
        Assert.DoesNotContain(heap.Walk().SelectMany(z => z.Blocks), x => x.Address == (nuint)b);
        Assert.True(BlockAt(heap, uncached).BlockBytes > 20_000 + 3000);
        heap.Validate();
        heap.Free(guard);
    }

    [Fact]
    public void A_TINY_zone_never_holds_an_allocated_block_of_the_small_caches_sizes_whatever_realloc_and_aligned_calls_do()
    {
        // TryFreeCachedSmall takes a block of SmallCache.MinBlockBytes or more for a SMALL one
        // without reading its zone; HeapValidator checks the invariant (TinyBlockTooBig).
        using var heap = new NativeHeap();
        var rng = new Random(7);
        var live = new List<nint>();
        for (int i = 0; i < 4000; i++)
        {
            int pick = rng.Next(10);
            if (pick < 4 || live.Count == 0) live.Add((nint)heap.Allocate((nuint)rng.Next(1, 513)));
            else if (pick < 6) live.Add((nint)heap.AllocateAligned((nuint)rng.Next(1, 513), (nuint)(16 << rng.Next(0, 6))));
            else if (pick < 8)
            {
                int k = rng.Next(live.Count);
                live[k] = (nint)heap.Reallocate((void*)live[k], (nuint)rng.Next(1, 700));
            }
            else
            {
                int k = rng.Next(live.Count);
                heap.Free((void*)live[k]);
                live.RemoveAt(k);
            }
        }
        heap.Validate();
        foreach (ZoneInfo zone in heap.Walk().Where(z => z.Category == ZoneCategory.Tiny))
            Assert.DoesNotContain(zone.Blocks, b => !b.IsFree && b.BlockBytes >= SmallCache.MinBlockBytes);
        foreach (nint p in live) heap.Free((void*)p);
    }
}
