// The zone map's tags (Memory/ZoneTag.cs): free's fast path decides "a TINY zone of this
// heap", "a SMALL zone of this heap" or "neither" from the tag's kind bits and SameHeap(tag,
// heap->TinyTag) alone, so the rule must hold for every tag a zone can carry and every
// heap, the heaps without an id (None) included; and every zone's entries must carry its
// owner's tag.
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class ZoneTagTests
{
    /// <summary>What the fast path concludes: 1 (own TINY), 2 (own SMALL) or 0 (full path).</summary>
    private static uint FastPathVerdict(nuint tag, ushort heapTag)
    {
        nuint kind = tag & ZoneTag.KindMask;
        if (kind != ZoneTag.Tiny && kind != ZoneTag.Small) return 0;
        return ZoneTag.SameHeap(tag, heapTag) ? (uint)kind : 0;
    }

    [Fact]
    public void Every_tag_a_zone_can_carry_is_told_apart_for_heaps_with_and_without_an_id()
    {
        uint[] heapIds = { 1, 2, 3, 1000, ZoneTag.MaxId - 1, ZoneTag.MaxId, ZoneTag.MaxId + 1, 100_000 };
        foreach (uint heapId in heapIds)
        {
            ushort heapTag = ZoneTag.ForHeap(heapId);
            bool hasId = heapId <= ZoneTag.MaxId;
            Assert.Equal(hasId, heapTag != ZoneTag.None);
            // Every tag ZoneTag.Of can write: ids 0 (no id) to MaxId, kinds 0 (LARGE), TINY, SMALL.
            for (nuint zoneId = 0; zoneId <= ZoneTag.MaxId; zoneId++)
                for (uint kind = 0; kind <= ZoneTag.Small; kind++)
                {
                    nuint tag = zoneId << ZoneTag.IdShift | kind;
                    bool mine = hasId && zoneId == heapId;
                    uint expected = mine ? kind : 0;
                    uint verdict = FastPathVerdict(tag, heapTag);
                    if (verdict != expected)
                        Assert.Fail($"heap id {heapId} (tag 0x{heapTag:X}), zone tag 0x{tag:X}: verdict {verdict}, expected {expected}");
                    if (ZoneTag.SameHeap(tag, heapTag) != mine)
                        Assert.Fail($"heap id {heapId}, zone tag 0x{tag:X}: SameHeap is {!mine}");
                }
        }
    }

    /// <summary>free's fast-path checks in their order (Exports.Free): the address, then the block's kind, start bit and flags.</summary>
    private static bool FreeCheck(nuint* leaf, nuint kind, void* payload) =>
        Zone.IsPayloadAddress((nuint)payload) && Heap.IsAllocatedPayloadOfKind(leaf, kind, payload);

    [Fact]
    public void Blocks_are_checked_by_their_kind_alone()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            byte* tiny = Heap.Allocate(heap, 40);
            byte* small = Heap.Allocate(heap, 4000);
            byte* large = Heap.Allocate(heap, 1 << 20);
            foreach (nint p in new[] { (nint)tiny, (nint)small, (nint)large })
            {
                nuint entry = ZoneMap.Entry((void*)p);
                Zone* zone = ZoneMap.ZoneOf(entry);
                nuint kind = ZoneTag.In(entry) & ZoneTag.KindMask;
                nuint* leaf = ZoneMap.LeafWrapped((nuint)p);
                bool expected = p != (nint)large; // a LARGE block is never the fast path's
                Assert.Equal(expected, FreeCheck(leaf, kind, (void*)p));
                Assert.False(FreeCheck(leaf, kind, (void*)(p + 16))); // not a block start
                Assert.False(FreeCheck(leaf, kind, (void*)(p + 8)));  // misaligned
                Assert.False(FreeCheck(leaf, kind, (void*)(p - 16))); // the header's granule
                Assert.False(FreeCheck(leaf, kind, zone)); // the zone header's granules: no start bit
                Assert.False(FreeCheck(leaf, kind, (void*)(p + (1L << 47)))); // same leaf and bit modulo 2^47: the address test says no
                Assert.True(Zone.IsPayloadAddress((nuint)p));
                Assert.False(Zone.IsPayloadAddress((nuint)(p + 8)));
                Assert.False(Zone.IsPayloadAddress((nuint)(p + (1L << 47))));
            }
            Zone* tinyZone = ZoneMap.ZoneOf(ZoneMap.Entry(tiny));
            nuint* tinyLeaf = ZoneMap.LeafWrapped((nuint)tiny);
            Assert.False(FreeCheck(tinyLeaf, ZoneTag.Tiny, (byte*)tinyZone + Categories.TinyZoneBytes - 16)); // the tail
            Assert.False(FreeCheck(tinyLeaf, 0, tiny)); // kind 0: nothing read
            Heap.Free(heap, tiny);
            nuint tinyEntry = ZoneMap.Entry(tiny);
            Assert.False(FreeCheck(tinyLeaf, ZoneTag.In(tinyEntry) & ZoneTag.KindMask, tiny)); // freed
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact]
    public void A_null_entry_matches_no_heap()
    {
        foreach (uint heapId in new uint[] { 1, ZoneTag.MaxId, ZoneTag.MaxId + 1 })
            Assert.Equal(0u, FastPathVerdict(ZoneTag.In(0), ZoneTag.ForHeap(heapId)));
    }

    [Fact]
    public void Heaps_made_after_the_ids_ran_out_tag_their_zones_with_id_0_and_match_no_tag()
    {
        // What Heap.Create gives once the ids ran out (ZoneTag.ForHeap above), set by hand on a
        // heap that has no zone yet: using the ids up here would leave every later heap of
        // the test process without one.
        Assert.Equal(ZoneTag.None, ZoneTag.ForHeap(ZoneTag.MaxId + 1));
        Heap* heap = Heap.Create(HeapKind.Standalone);
        heap->TinyTag = ZoneTag.None;
        try
        {
            byte* tiny = Heap.Allocate(heap, 40);
            byte* small = Heap.Allocate(heap, 4000);
            Assert.Equal((nuint)ZoneTag.Tiny, ZoneTag.In(ZoneMap.Entry(tiny)));
            Assert.Equal((nuint)ZoneTag.Small, ZoneTag.In(ZoneMap.Entry(small)));
            Assert.Equal(0u, FastPathVerdict(ZoneTag.In(ZoneMap.Entry(tiny)), heap->TinyTag));
            Assert.Equal(0u, FastPathVerdict(ZoneTag.In(ZoneMap.Entry(small)), heap->TinyTag));
            Assert.True(HeapValidator.Validate(heap).Ok);
            Assert.Equal(PointerStatus.Valid, Heap.Free(heap, tiny));
            Assert.Equal(PointerStatus.DoubleFree, Heap.Free(heap, tiny));
            Assert.Equal(PointerStatus.Valid, Heap.Free(heap, small));
            Assert.True(HeapValidator.Validate(heap).Ok);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact]
    public void Each_zone_is_registered_with_its_owners_tag_and_each_heap_has_its_own()
    {
        Heap* a = Heap.Create(HeapKind.Standalone);
        Heap* b = Heap.Create(HeapKind.Standalone);
        try
        {
            Assert.NotEqual(a->TinyTag, b->TinyTag);
            Assert.NotEqual(ZoneTag.None, a->TinyTag);
            byte* tiny = Heap.Allocate(a, 40);
            byte* small = Heap.Allocate(a, 4000);
            byte* large = Heap.Allocate(a, 1 << 20);
            byte* otherTiny = Heap.Allocate(b, 40);
            Assert.Equal((nuint)a->TinyTag, ZoneTag.In(ZoneMap.Entry(tiny)));
            Assert.Equal((nuint)a->TinyTag ^ ZoneTag.OwnSmall, ZoneTag.In(ZoneMap.Entry(small)));
            Assert.Equal((nuint)0, ZoneTag.In(ZoneMap.Entry(large)));
            Assert.Equal((nuint)b->TinyTag, ZoneTag.In(ZoneMap.Entry(otherTiny)));
            Assert.Equal(0u, FastPathVerdict(ZoneTag.In(ZoneMap.Entry(otherTiny)), a->TinyTag));
            Assert.True(ZoneMap.Lookup(tiny) == ZoneMap.ZoneOf(ZoneMap.Entry(tiny)));
            Assert.True(HeapValidator.Validate(a).Ok);
            Assert.True(HeapValidator.Validate(b).Ok);
        }
        finally
        {
            Heap.Destroy(a);
            Heap.Destroy(b);
        }
    }
}
