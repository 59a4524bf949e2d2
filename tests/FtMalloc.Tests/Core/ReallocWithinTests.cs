// realloc's first case (Heap.TryResizeWithin, taken by the exports' fast paths through
// Heap.ReallocateChecked): a block that already holds the new size keeps its place and
// only its requested size and the counters change; a new size that would leave more spare
// than the general resize keeps goes on to it (split, or a move).
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class ReallocWithinTests
{
    private static byte* Realloc(Heap* heap, byte* p, nuint size) =>
        Heap.ReallocateChecked(heap, ZoneMap.Lookup(p), Block.FromPayload(p), size);

    [Fact]
    public void A_block_that_holds_the_new_size_keeps_its_place_and_its_size()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone, quickBinLimit: 0);
        try
        {
            byte* p = Heap.Allocate(heap, 100); // a 112-byte block: 104 usable
            uint size = Block.FromPayload(p)->Size;
            ulong inPlace = heap->Counters[Counter.ReallocsInPlace];
            Assert.Equal((nuint)p, (nuint)Realloc(heap, p, 104)); // grows into the usable bytes
            Assert.Equal(size, Block.FromPayload(p)->Size);
            Assert.Equal((nuint)104, Block.FromPayload(p)->Requested);
            Assert.Equal((ulong)104, heap->Counters[Counter.InUseBytes]);
            Assert.Equal(inPlace + 1, heap->Counters[Counter.ReallocsInPlace]);
            Assert.Equal((nuint)p, (nuint)Realloc(heap, p, 90)); // a shrink by less than a block: nothing to split
            Assert.Equal(size, Block.FromPayload(p)->Size);
            Assert.Equal((ulong)90, heap->Counters[Counter.InUseBytes]);
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact]
    public void A_shrink_that_frees_a_block_or_more_splits_and_a_change_of_category_moves()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone, quickBinLimit: 0);
        try
        {
            byte* p = Heap.Allocate(heap, 400);
            Assert.Equal((nuint)p, (nuint)Realloc(heap, p, 40)); // shrinks in place, the rest split off
            Assert.Equal(Categories.BlockBytesFor(40), (nuint)Block.FromPayload(p)->Size);
            byte* q = Heap.Allocate(heap, 520); // SMALL, in a 528-byte block
            byte* r = Realloc(heap, q, 500);    // fits, but TINY: moves to a TINY zone
            Assert.NotEqual((nuint)q, (nuint)r);
            Assert.Equal((ulong)(40 + 500), heap->Counters[Counter.InUseBytes]);
            Assert.Equal(HeapDefect.None, HeapValidator.Validate(heap).Defect);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }
}
