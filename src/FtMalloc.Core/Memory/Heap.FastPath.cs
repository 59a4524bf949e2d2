// The fast paths, inlined into the exported malloc and free (FtMalloc.Native/Exports.cs):
//   malloc: a request of at most QuickBins.MaxRequestBytes whose bin in the calling
//           thread's heap has a block: pop it, count it, return it.
//   free:   a block of a heap the calling thread owns, checked exactly as Locate does
//           (zone map, start bit, flags), whose bin has room: count it, push it.
// Anything else returns "not done" and the caller takes the full path (CAllocator then
// Heap.Allocate / Heap.Free, not inlined), which handles every case and checks everything
// again from the start, except where the fast path has already found the caller's own
// heap (a bin miss or a bigger request: CAllocator.Malloc on that heap) or checked a block
// of it (its bin full: FreeChecked; a realloc: ReallocateChecked), which carry on from
// there. Free takes the caller's heap from the thread-heap table and checks it against
// the owner of the block's zone (a block of another thread's heap goes back to that heap
// through Heap.Remote.cs).
//
// These are the library's hottest lines: each test is one compare, each counter one add;
// the code is written against raw pointers so that NativeAOT emits no null checks.
using System.Runtime.CompilerServices;
using System.Threading;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    /// <summary>Offset of Bins in Heap: after Kind, State and OwnerThread (Heap.cs; HeapLayoutTests checks it).</summary>
    public const int BinsOffset = 16;

    /// <summary>The heap's quick bins, reached without a null check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static QuickBins* BinsOf(Heap* heap) => (QuickBins*)((byte*)heap + BinsOffset);

    /// <summary>Offset of Counters in Heap: right after the bins.</summary>
    public const int CountersOffset = BinsOffset + QuickBins.Bytes;

    /// <summary>The heap's counters, right after the bins, reached without a null check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HeapCounters* CountersOf(Heap* heap) => (HeapCounters*)((byte*)heap + CountersOffset);

    /// <summary>
    /// Hands out the block of <paramref name="payload"/>, just unlinked from quick bin
    /// <paramref name="bin"/>, for a malloc of <paramref name="request"/> bytes: counts it,
    /// returns the payload (as the bin named it: QuickBins.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* CommitCached(Heap* heap, byte* payload, nuint bin, nuint request)
    {
        Block.FromPayload(payload)->Info = Block.AllocatedInfo(request);
        HeapCounters.CountCachedMalloc((byte*)heap, bin, request);
        return payload;
    }

    /// <summary>
    /// True if <paramref name="block"/> (any address) is an allocated block of
    /// <paramref name="zone"/>'s area: 16-byte aligned, on a start bit, flags clear. The
    /// checks of Locate, in the order that reads nothing the previous test did not vouch for.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllocatedBlock(Zone* zone, Block* block) =>
        Zone.IsBlockStart(zone, block) && block->IsAllocated;

    /// <summary>
    /// IsAllocatedBlock for a pointer handed to free (Zone.IsPayloadAddress), whose zone-map entry was found in
    /// <paramref name="leaf"/> with a tag of kind <paramref name="kind"/> (Zone.IsPayloadStartOfKind):
    /// no zone header read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAllocatedPayloadOfKind(nuint* leaf, nuint kind, void* payload) =>
        Zone.IsPayloadStartOfKind(leaf, kind, (nuint)payload) && Block.FromPayload(payload)->IsAllocated;

    /// <summary>Parks the block of <paramref name="payload"/> (allocated, of bin <paramref name="bin"/>, which has room) in its quick bin, counting a free call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CacheFreed(Heap* heap, byte* payload, nuint bin)
    {
        // Info read again rather than kept from IsAllocatedBlock's test: keeping it costs
        // NativeAOT a saved register (a push, a pop and a stack adjustment) on every free.
        HeapCounters.CountCachedFree((byte*)heap, bin, Volatile.Read(ref Block.FromPayload(payload)->Info) >> Block.RequestedShift);
        QuickBins.PushIn((byte*)heap, BinsOffset, payload, bin); // the bin names it by its payload (QuickBins.cs)
    }

    /// <summary>
    /// Frees <paramref name="block"/>, which the caller checked as IsAllocatedBlock does, of
    /// a TINY/SMALL <paramref name="zone"/> of <paramref name="heap"/> (the caller owns it),
    /// counting a free call: the exported free's way on when the block's bin is full.
    /// </summary>
    public static void FreeChecked(Heap* heap, Zone* zone, Block* block)
    {
        HeapCounters.Add(CountersOf(heap), Counter.CallsFree, 1);
        FreeOwned(heap, zone, block);
    }

    /// <summary>
    /// realloc of <paramref name="block"/>, checked as for FreeChecked, to
    /// <paramref name="request"/> bytes (&lt;= Categories.MaxRequest, not 0): in place or
    /// moved, as Reallocate does once it has found the block; null when memory ran out.
    /// </summary>
    public static byte* ReallocateChecked(Heap* heap, Zone* zone, Block* block, nuint request) =>
        TryResizeWithin(heap, zone, block, request) ? Block.PayloadOf(block) : ResizeOrMove(heap, zone, block, Block.PayloadOf(block), request);

    /// <summary>
    /// realloc's commonest case, first: <paramref name="block"/> (of a TINY/SMALL zone)
    /// already holds <paramref name="request"/> bytes, of its zone's category, and would keep
    /// no more spare than TryResizeInPlace keeps (an append into the room GrowthRoom left,
    /// or a shrink by less than a block): only its requested size and the counters change.
    /// </summary>
    private static bool TryResizeWithin(Heap* heap, Zone* zone, Block* block, nuint request)
    {
        nuint need = Categories.BlockBytesFor(request);
        if (need > block->Size || !KeepsSpare(block, need, request)) return false; // else TryResizeInPlace grows or splits
        if (Categories.Of(request) != zone->Category) return false;
        Recommit(heap, block, request);
        heap->Counters.Add(Counter.Reallocs, 1);
        heap->Counters.Add(Counter.ReallocsInPlace, 1);
        return true;
    }

    /// <summary>
    /// A block of at least <paramref name="request"/> bytes (&lt;= Categories.MaxRequest): a
    /// cached one if it can (taking in remote frees first when its bin is empty), else Allocate's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* AllocateFast(Heap* heap, nuint request)
    {
        if (request <= QuickBins.MaxRequestBytes)
        {
            nuint bin = QuickBins.BinOfRequest(request);
            byte* payload = QuickBins.PopPayload(BinsOf(heap), bin); // as the bin names it (QuickBins.cs)
            if (payload == null && heap->Remote.IsPending)
            {
                DrainRemoteFrees(heap); // blocks other threads gave back refill the bins
                payload = QuickBins.PopPayload(BinsOf(heap), bin);
            }
            if (payload != null)
            {
                Commit(heap, Block.FromPayload(payload), request);
                return payload;
            }
            return AllocateAfterBinMiss(heap, request);
        }
        return Allocate(heap, request);
    }

    /// <summary>
    /// Allocate for a request of the quick bins' sizes whose bin was just found empty (remote
    /// frees taken in): straight to the batch carve, without Allocate's category tests and
    /// second look at the bin (about 20 instructions a miss).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte* AllocateAfterBinMiss(Heap* heap, nuint request)
    {
        if (heap->Outgoing.Chains != 0) FlushRemoteBatch(heap); // as Allocate: slow paths hand remote frees on
        Block* block = TakeAndCarve(heap, request <= Categories.TinyMaxRequest ? Category.Tiny : Category.Small, Categories.BlockBytesFor(request));
        if (block == null) return null;
        Commit(heap, block, request);
        return Block.PayloadOf(block);
    }

    /// <summary>Frees a block of <paramref name="heap"/> into its quick bin if it can, else through Free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PointerStatus FreeFast(Heap* heap, void* pointer)
    {
        Zone* zone = ZoneMap.Lookup(pointer);
        if (zone != null && zone->Owner == heap && TryCache(heap, zone, pointer)) return PointerStatus.Valid;
        return Free(heap, pointer);
    }

    /// <summary>
    /// The checks of Locate for a block of <paramref name="zone"/> (owned by
    /// <paramref name="heap"/>), then the push: true if the block was allocated and is now
    /// cached and counted as freed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryCache(Heap* heap, Zone* zone, void* pointer)
    {
        Block* block = Block.FromPayload(pointer);
        if (!IsAllocatedBlock(zone, block)) return false;
        nuint bin = Block.BinOf(block);
        if (!QuickBins.HasRoom(BinsOf(heap), bin)) return false;
        HeapCounters.CountFree(&heap->Counters, block->Requested);
        QuickBins.Push(BinsOf(heap), block, bin);
        return true;
    }
}
