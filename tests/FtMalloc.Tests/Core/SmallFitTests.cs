// Which free SMALL block a request takes (Memory/FreeLists.cs, TakeExactHead, and
// Heap.TakeFreeBlock): a free block of exactly the size asked for is reused before a bigger
// one is cut, so holes left by moved blocks (a realloc that doubles a vector frees its old
// block) are filled instead of fresh pages of the zone's untouched rest.
namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class SmallFitTests
{
    // 2,000 bytes take a 2,016-byte block; two of them merged (4,032 bytes) are exactly the
    // block of a 4,024-byte request, which TLSF's rounded-up search alone would skip.
    private const nuint Half = 2000, Whole = 4024;

    [Fact]
    public void A_SMALL_malloc_takes_a_free_block_of_exactly_its_size_before_the_zones_untouched_rest()
    {
        using var heap = new NativeHeap();
        void* a = heap.Allocate(Half);
        void* b = heap.Allocate(Half);
        heap.Allocate(Half); // keeps the hole apart from the rest of the zone
        heap.Free(a);
        heap.Free(b);
        Assert.Equal((nuint)a, (nuint)heap.Allocate(Whole));
        heap.Validate();
    }

    [Fact]
    public void A_SMALL_realloc_that_must_move_lands_in_a_free_block_of_exactly_its_size()
    {
        using var heap = new NativeHeap();
        void* a = heap.Allocate(Half);
        void* b = heap.Allocate(Half);
        byte* v = (byte*)heap.Allocate(Half);
        heap.Allocate(Half); // v cannot grow in place
        for (int i = 0; i < (int)Half; i++) v[i] = (byte)i;
        heap.Free(a);
        heap.Free(b);
        byte* moved = (byte*)heap.Reallocate(v, Whole);
        Assert.Equal((nuint)a, (nuint)moved);
        for (int i = 0; i < (int)Half; i++) Assert.Equal((byte)i, moved[i]);
        heap.Validate();
    }
}
