// The start bits (Memory/ZoneMap.cs): one bit per granule, kept beside the zone map's
// entries, set exactly at the payload of every block of a TINY/SMALL zone. free trusts a
// pointer only on its bit, so a bit left set where no payload starts (a zone given back,
// a block merged away) would let a bad pointer through, and a missing one would reject a
// good free.
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class StartBitsTests
{
    [Fact]
    public void Bits_mark_payloads_not_headers()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            foreach (nuint size in new nuint[] { 1, 24, 40, 500, 600, 4000, 100_000 })
            {
                byte* p = Heap.Allocate(heap, size);
                Assert.True(ZoneMap.IsStartSet((nuint)p), $"{size}: the payload has no bit");
                Assert.False(ZoneMap.IsStartSet((nuint)p - 16), $"{size}: the header has a bit");
                Assert.False(ZoneMap.IsStartSet((nuint)ZoneMap.Lookup(p)), $"{size}: the zone header has a bit");
            }
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact]
    public void A_fresh_zones_first_blocks_all_have_their_bits()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            // SMALL: a zone mapped ahead of need (the process heap's at load), then cut.
            Assert.True(Heap.MapSpareZones(heap, Category.Small));
            Zone* zone = heap->SmallSpare;
            Assert.True(zone != null);
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
            byte* p = Heap.Allocate(heap, 4000); // cut from the zone's one block, at its start
            Assert.Equal((nuint)zone->AreaStart + Categories.PayloadOffset, (nuint)p);
            Assert.True(ZoneMap.IsStartSet((nuint)p), "the first block taken has no bit");
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
            Heap.Free(heap, p);
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
            // TINY: the first malloc maps the zone and carves its one block at once, the first
            // blocks going to the quick bin: every one of them, the first included, has its bit.
            byte* t = Heap.Allocate(heap, 40);
            Zone* tiny = ZoneMap.Lookup(t);
            Assert.True(ZoneMap.IsStartSet((nuint)tiny->AreaStart + Categories.PayloadOffset), "the zone's first block has no bit");
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact]
    public void A_merged_block_loses_its_bit()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone, quickBinLimit: 0); // no bins: frees merge at once
        try
        {
            byte* a = Heap.Allocate(heap, 200);
            byte* b = Heap.Allocate(heap, 200);
            byte* c = Heap.Allocate(heap, 200); // keeps b from merging with the zone's rest
            Heap.Free(heap, b);
            Assert.True(ZoneMap.IsStartSet((nuint)b)); // free, still a block
            Heap.Free(heap, a);
            Assert.True(ZoneMap.IsStartSet((nuint)a));
            Assert.False(ZoneMap.IsStartSet((nuint)b), "b merged into a but kept its bit");
            Assert.Equal(PointerStatus.NotBlockStart, Heap.Free(heap, b));
            Heap.Free(heap, c);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Theory]
    [InlineData(40)]     // TINY: a 2 KiB run of bits, cleared by a write
    [InlineData(4000)]   // SMALL: 128 KiB of bits, given back by whole pages
    public void A_zone_given_back_leaves_no_bit_behind(int size)
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        byte* first = Heap.Allocate(heap, (nuint)size);
        Zone* zone = ZoneMap.Lookup(first);
        nuint bytes = zone->MappedBytes;
        for (int i = 0; i < 50; i++) Heap.Allocate(heap, (nuint)size);
        Assert.True(ZoneMap.CountStarts(zone, bytes) >= 52); // 51 blocks, the ones carved for the bin, and the zone's free rest
        Heap.Destroy(heap); // unmaps the zone with its blocks still allocated
        Assert.Equal((nuint)0, ZoneMap.CountStarts(zone, bytes));
        Assert.False(ZoneMap.IsStartSet((nuint)first));
    }
}
