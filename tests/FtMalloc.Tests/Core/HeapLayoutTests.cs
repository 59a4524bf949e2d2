// Zone sizing, alignment, merging, zone release and LARGE mappings, checked through the
// managed API's walk of a private heap.
using System;
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class HeapLayoutTests
{
    private static nuint PageSize => (nuint)Environment.SystemPageSize;

    [Theory]
    [InlineData(1, ZoneCategory.Tiny)]
    [InlineData(512, ZoneCategory.Tiny)]
    [InlineData(513, ZoneCategory.Small)]
    [InlineData(128 * 1024, ZoneCategory.Small)]
    [InlineData(128 * 1024 + 1, ZoneCategory.Large)]
    public void Requests_fall_into_their_category(int size, ZoneCategory expected)
    {
        using var heap = new NativeHeap();
        void* p = heap.Allocate((nuint)size);
        var zone = heap.Walk().Single();
        Assert.Equal(expected, zone.Category);
        Assert.Contains(zone.Blocks, b => b.Address == (nuint)p && b.RequestedBytes == (nuint)size && !b.IsFree);
    }

    [Theory]
    [InlineData(ZoneCategory.Tiny, 512)]
    [InlineData(ZoneCategory.Small, 128 * 1024)]
    public void Zones_are_whole_pages_and_hold_at_least_100_of_their_largest_blocks(ZoneCategory category, int largest)
    {
        using var heap = new NativeHeap();
        var pointers = new List<nint>();
        for (int i = 0; i < 100; i++) pointers.Add((nint)heap.Allocate((nuint)largest));
        var zones = heap.Walk();
        var zone = Assert.Single(zones);
        Assert.Equal(category, zone.Category);
        Assert.Equal((nuint)0, zone.MappedBytes % PageSize);
        Assert.Equal(100, zone.Blocks.Count(b => !b.IsFree && !b.IsCached)); // cached: carved ahead into the quick bin
        heap.Validate();
    }

    [Fact]
    public void Every_size_gets_a_16_byte_aligned_pointer()
    {
        using var heap = new NativeHeap();
        var live = new List<nint>();
        for (nuint size = 0; size < 70_000; size += size < 1100 ? 1u : 97u)
        {
            void* p = heap.Allocate(size);
            Assert.True(p != null);
            Assert.Equal((nuint)0, (nuint)p % 16);
            live.Add((nint)p);
        }
        heap.Validate();
        foreach (nint p in live) heap.Free((void*)p);
        heap.Validate();
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(256)]
    [InlineData(4096)]
    [InlineData(65536)]
    [InlineData(1 << 21)]
    public void Aligned_allocations_honour_any_power_of_two(int alignment)
    {
        using var heap = new NativeHeap();
        foreach (nuint size in new nuint[] { 0, 1, 100, 600, 5000, 40_000, 300_000 })
        {
            void* p = heap.AllocateAligned(size, (nuint)alignment);
            Assert.Equal((nuint)0, (nuint)p % (nuint)alignment);
            new Span<byte>(p, (int)size).Fill(0xAB);
            heap.Validate();
        }
    }

    [Fact]
    public void Freeing_merges_neighbours_in_any_order()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        void* a = heap.Allocate(100), b = heap.Allocate(100), c = heap.Allocate(100), guard = heap.Allocate(100);
        heap.Free(a);
        heap.Free(c);
        heap.Validate();
        heap.Free(b); // a, b and c become one free block
        heap.Validate();
        var blocks = heap.Walk().Single().Blocks;
        Assert.Equal(3, blocks.Count); // [a+b+c free][guard][rest free]
        Assert.True(blocks[0].IsFree);
        Assert.Equal((nuint)a, blocks[0].Address);
        Assert.Equal((nuint)guard, blocks[1].Address);
    }

    [Fact]
    public void Empty_zones_go_back_but_one_per_category_stays()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        var tiny = new List<nint>();
        for (int i = 0; i < 2000; i++) tiny.Add((nint)heap.Allocate(500)); // several 256 KiB zones
        Assert.True(heap.Walk().Count(z => z.Category == ZoneCategory.Tiny) >= 4);
        foreach (nint p in tiny) heap.Free((void*)p);
        heap.Validate();
        var left = heap.Walk();
        var zone = Assert.Single(left);
        Assert.Equal(ZoneCategory.Tiny, zone.Category);
        Assert.True(Assert.Single(zone.Blocks).IsFree);
        Assert.Equal(heap.Statistics()["zones_tiny"] - 1, heap.Statistics()["zones_tiny_unmapped"]);
    }

    [Fact]
    public void Quick_bins_reuse_a_freed_block_at_once_and_merge_it_when_released()
    {
        using var heap = new NativeHeap();
        void* a = heap.Allocate(40), b = heap.Allocate(40), guard = heap.Allocate(40);
        heap.Free(a);
        heap.Free(b);
        var blocks = heap.Walk().Single().Blocks;
        BlockInfo At(void* p) => blocks.Single(x => x.Address == (nuint)p);
        Assert.True(At(a).IsCached && At(b).IsCached && !At(a).IsFree);
        heap.Validate();
        Assert.True(heap.Allocate(33) == b); // same size class: the last one freed comes back
        Assert.Throws<InvalidPointerException>(() => heap.Free(a)); // a cached block is not allocated
        heap.ReleaseCachedBlocks();
        blocks = heap.Walk().Single().Blocks;
        Assert.Contains(blocks, x => x.IsFree && x.Address <= (nuint)a && (nuint)a < x.Address + x.BlockBytes); // a merged
        Assert.Contains(blocks, x => x.Address == (nuint)b && !x.IsFree && !x.IsCached);
        heap.Free(b);
        heap.Free(guard);
        heap.ReleaseCachedBlocks();
        Assert.True(Assert.Single(heap.Walk().Single().Blocks).IsFree); // all merged: the zone is one free block
        heap.Validate();
    }

    [Fact]
    public void A_quick_bin_miss_carves_a_batch_of_same_size_blocks_after_the_one_it_returns()
    {
        using var heap = new NativeHeap();
        byte* first = (byte*)heap.Allocate(50); // 64-byte blocks (50 + 8 rounded up to 16)
        var blocks = heap.Walk().Single().Blocks;
        Assert.Equal((nuint)first, blocks[0].Address); // the returned block first: the zone's first block
        int carved = (int)FtMalloc.Core.Memory.Heap.CarveBlocks - 1;
        Assert.True(blocks.Skip(1).Take(carved).All(x => x.IsCached && x.BlockBytes == 64));
        Assert.True(blocks[carved + 1].IsFree); // the rest
        heap.Validate();
        for (int i = 1; i <= carved; i++)
            Assert.True(heap.Allocate((nuint)(48 + i)) == first + 64 * i); // popped from the bin in address order
        Assert.Equal(carved + 1, heap.Walk().Single().Blocks.Count(x => !x.IsFree && !x.IsCached));
        heap.Validate();
    }

    [Theory(DisplayName = "A block costs 8 bytes: every usable byte is the caller's, and freeing a neighbour keeps them")]
    [InlineData(24, 32)]
    [InlineData(8, 32)]
    [InlineData(40, 48)]
    [InlineData(504, 512)]
    [InlineData(1000, 1008)]
    public void A_block_costs_eight_bytes_and_its_last_eight_survive_the_neighbours_frees(int request, int blockBytes)
    {
        using var heap = new NativeHeap(quickBinLimit: 0); // frees merge at once
        var p = new byte*[4];
        for (int i = 0; i < p.Length; i++) p[i] = (byte*)heap.Allocate((nuint)request);
        for (int i = 1; i < p.Length; i++) Assert.Equal((nuint)blockBytes, (nuint)(p[i] - p[i - 1])); // side by side
        nuint usable = heap.UsableSize(p[0]);
        Assert.Equal((nuint)(blockBytes - 8), usable);
        for (int i = 0; i < p.Length; i++) new Span<byte>(p[i], (int)usable).Fill((byte)(0x41 + i));
        heap.Free(p[1]); // its footer goes into its own last 8 bytes, not into p[2]'s
        heap.Validate();
        heap.Free(p[2]); // merges with p[1] through the footer
        heap.Validate();
        Assert.Contains(heap.Walk().Single().Blocks, b => b.IsFree && b.Address == (nuint)p[1] && b.BlockBytes == (nuint)(2 * blockBytes));
        Assert.True(new Span<byte>(p[0], (int)usable).IndexOfAnyExcept((byte)0x41) < 0, "the block before lost bytes");
        Assert.True(new Span<byte>(p[3], (int)usable).IndexOfAnyExcept((byte)0x44) < 0, "the block after lost bytes");
        byte* again = (byte*)heap.Allocate((nuint)request); // first fit takes the merged block's front
        Assert.True(again == p[1]);
        new Span<byte>(again, (int)usable).Fill(0x55);
        heap.Free(p[0]);
        heap.Free(p[3]);
        heap.Validate();
        Assert.True(new Span<byte>(again, (int)usable).IndexOfAnyExcept((byte)0x55) < 0, "a free neighbour's footer overwrote a live block");
    }

    [Fact]
    public void Carving_stops_at_the_bin_limit_and_without_bins()
    {
        using (var noBins = new NativeHeap(quickBinLimit: 0))
        {
            noBins.Allocate(40);
            Assert.Equal(0, noBins.Walk().Single().Blocks.Count(x => x.IsCached));
            noBins.Validate();
        }
        using var heap = new NativeHeap(quickBinLimit: 2); // below CarveBlocks - 1
        heap.Allocate(40);
        Assert.Equal(2, heap.Walk().Single().Blocks.Count(x => x.IsCached));
        heap.Allocate(700); // a bin of blocks above 256 bytes holds Limit / 4 = 0: nothing carved
        Assert.Equal(0, heap.Walk().Single(z => z.Category == ZoneCategory.Small).Blocks.Count(x => x.IsCached));
        heap.Validate();
    }

    [Fact]
    public void Quick_bins_grow_past_their_limit_while_the_heap_is_big_and_shrink_back_when_released()
    {
        using var heap = new NativeHeap();
        var live = new List<nint>();
        for (int i = 0; i < 20_000; i++) live.Add((nint)heap.Allocate(40));
        int Cached() => heap.Walk().SelectMany(z => z.Blocks).Count(b => b.IsCached);
        foreach (nint p in live.Take(10_000)) heap.Free((void*)p); // 10,000 64-byte blocks, 400 KB in use
        Assert.True(Cached() > NativeHeap.DefaultQuickBinLimit, $"{Cached()} cached");
        heap.Validate();
        void* big = heap.Allocate(1_000_000); // a fresh LARGE mapping: the grown bins are merged first
        Assert.Equal(0, Cached());
        heap.Validate();
        foreach (nint p in live.Skip(10_000)) heap.Free((void*)p);
        heap.Free(big);
        heap.ReleaseCachedBlocks();
        Assert.Equal(0, Cached());
        Assert.True(heap.Walk().Where(z => z.Category != ZoneCategory.Large).All(z => z.Blocks.Count == 1 && z.Blocks[0].IsFree));
        heap.Validate();
    }

    [Fact]
    public void A_small_block_of_a_SMALL_zone_is_released_from_its_bin_into_its_own_zone()
    {
        using var heap = new NativeHeap();
        var blocks = new List<nint>();
        for (int i = 0; i < 8; i++) blocks.Add((nint)heap.AllocateAligned(16, 4096)); // searched in SMALL: 32-byte blocks there
        Assert.Contains(heap.Walk(), z => z.Category == ZoneCategory.Small);
        for (int i = 0; i < 8; i++) blocks.Add((nint)heap.Allocate(16)); // 32-byte blocks of a TINY zone: the same bin
        foreach (nint p in blocks) heap.Free((void*)p);
        heap.Validate();
        heap.ReleaseCachedBlocks();
        heap.Validate();
        Assert.True(heap.Walk().All(z => z.Blocks.All(b => b.IsFree)));
    }

    [Fact]
    public void Large_blocks_get_their_own_mapping_and_give_it_back()
    {
        using var heap = new NativeHeap();
        void* p = heap.Allocate(1_000_000);
        var zone = Assert.Single(heap.Walk());
        Assert.Equal(ZoneCategory.Large, zone.Category);
        Assert.Equal((nuint)0, zone.MappedBytes % PageSize);
        Assert.True(zone.MappedBytes >= 1_000_000);
        new Span<byte>(p, 1_000_000).Fill(7);
        heap.Free(p);
        Assert.Empty(heap.Walk());
        heap.ReleaseCachedBlocks(); // its range waited as a free LARGE extent until now
        Assert.Equal(1UL, heap.Statistics()["zones_large_unmapped"]);
        Assert.Equal(0UL, heap.Statistics()["mapped_bytes"]);
    }

    [Fact]
    public void A_freed_large_mapping_is_reused_for_a_similar_size_and_calloc_zeroes_it()
    {
        using var heap = new NativeHeap();
        byte* p = (byte*)heap.Allocate(1_000_000);
        new Span<byte>(p, 1_000_000).Fill(0xEE);
        heap.Free(p);
        Assert.Throws<InvalidPointerException>(() => heap.Free(p)); // cached is not allocated
        byte* q = (byte*)heap.AllocateZeroed(1, 900_000);
        Assert.True(q == p); // same mapping, no new one
        Assert.True(new Span<byte>(q, 900_000).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(1UL, heap.Statistics()["zones_large"]);
        heap.Free(q);
        byte* r = (byte*)heap.Allocate(150_000); // the cached 1 MB mapping (over 4x too big), cut down to what it needs
        Assert.True(r == q);
        var zone = Assert.Single(heap.Walk());
        Assert.True(zone.MappedBytes < 300_000, $"mapping kept {zone.MappedBytes} bytes");
        heap.Free(r);
        heap.Validate();
    }

    [Fact]
    public void Realloc_shrinks_in_place_and_grows_into_a_free_neighbour()
    {
        using var heap = new NativeHeap(quickBinLimit: 0); // no batch carve: the block's neighbour is the free rest
        byte* p = (byte*)heap.Allocate(400);
        for (int i = 0; i < 400; i++) p[i] = (byte)i;
        Assert.True(heap.Reallocate(p, 100) == p);       // shrink: same block
        Assert.True(heap.Reallocate(p, 480) == p);       // grow into what the shrink freed
        for (int i = 0; i < 100; i++) Assert.Equal((byte)i, p[i]);
        void* blocker = heap.Allocate(16);                // now the block has no free neighbour
        byte* q = (byte*)heap.Reallocate(p, 512);
        Assert.True(q == p || heap.Walk().SelectMany(z => z.Blocks).Any(b => b.Address == (nuint)q));
        for (int i = 0; i < 100; i++) Assert.Equal((byte)i, q[i]);
        heap.Free(blocker);
        heap.Free(q);
        heap.Validate();
        Assert.True(heap.Statistics()["reallocs_in_place"] >= 2);
    }

    [Fact]
    public void Realloc_moves_across_categories_keeping_the_data()
    {
        using var heap = new NativeHeap();
        byte* p = (byte*)heap.Allocate(300);
        for (int i = 0; i < 300; i++) p[i] = (byte)(i * 7);
        byte* q = (byte*)heap.Reallocate(p, 10_000);   // TINY -> SMALL
        byte* r = (byte*)heap.Reallocate(q, 5_000_000); // SMALL -> LARGE
        byte* s = (byte*)heap.Reallocate(r, 4_000_000); // LARGE, in place (uses most of the mapping)
        Assert.True(s == r);
        byte* t = (byte*)heap.Reallocate(s, 200);        // LARGE -> TINY
        for (int i = 0; i < 200; i++) Assert.Equal((byte)(i * 7), t[i]);
        heap.Free(t);
        heap.Validate();
    }

    [Fact]
    public void Misuse_is_detected_and_changes_nothing()
    {
        using var heap = new NativeHeap();
        byte* p = (byte*)heap.Allocate(64);
        byte* large = (byte*)heap.Allocate(100_000);
        byte* stack = stackalloc byte[32];
        nint stackAddress = (nint)(((nuint)stack + 15) & ~(nuint)15);
        Assert.Throws<InvalidPointerException>(() => heap.Free(p + 16));        // interior
        Assert.Throws<InvalidPointerException>(() => heap.Free(p + 3));         // misaligned
        Assert.Throws<InvalidPointerException>(() => heap.Free(large + 4096));  // inside a LARGE block
        Assert.Throws<InvalidPointerException>(() => heap.Free((void*)stackAddress));        // the stack
        heap.Free(p);
        var e = Assert.Throws<InvalidPointerException>(() => heap.Free(p));    // double free
        Assert.Contains("DoubleFree", e.Message);
        heap.Validate();
        heap.Free(large);
        Assert.Throws<InvalidPointerException>(() => heap.Free(large));        // LARGE double free
        using var other = new NativeHeap();
        void* foreign = other.Allocate(10);
        Assert.Throws<InvalidPointerException>(() => heap.Free(foreign));
    }
}
