// The fast paths, inlined into the exported malloc and free:
//   malloc: a size whose quick bin has a block: pop it, count it, return it.
//   free:   a block of the calling thread's own heap, checked exactly as Locate does
//           (zone map, start bit, flags), with room in its bin: count it, push it.
// Anything else falls into Allocate / Free (not inlined), which handle every case and
// check everything again from the start.
using System.Runtime.CompilerServices;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* AllocateFast(Heap* heap, nuint request)
    {
        nuint blockBytes = Categories.BlockBytesFor(request);
        if (blockBytes <= QuickBins.MaxBlockBytes)
        {
            Block* block = heap->Bins.Pop(blockBytes);
            if (block != null)
            {
                Commit(heap, block, request);
                return Block.PayloadOf(block);
            }
        }
        return Allocate(heap, request);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PointerStatus FreeFast(Heap* heap, void* pointer)
    {
        Zone* zone = ZoneMap.Lookup(pointer);
        if (zone != null && zone->Owner == heap && zone->Category != Category.Large
            && ((nuint)pointer & (Categories.Granule - 1)) == 0)
        {
            Block* block = Block.FromPayload(pointer);
            if ((byte*)block >= zone->AreaStart && Zone.IsStart(zone, block) && block->Flags == 0)
            {
                if (!heap->Bins.HasRoom(block->Size))
                {
                    FreeToLists(heap, zone, block); // checked: the slow path need not check again
                    return PointerStatus.Valid;
                }
                heap->Counters.Add(Counter.Frees, 1);
                heap->Counters.Subtract(Counter.InUseBytes, block->Requested);
                heap->Bins.Push(block);
                return PointerStatus.Valid;
            }
        }
        return Free(heap, pointer);
    }
}
