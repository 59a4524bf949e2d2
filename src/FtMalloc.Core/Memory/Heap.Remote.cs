// Frees across threads. A thread that frees a block of another thread's heap never
// touches that heap's lists: it marks the block (compare-and-swap, so a second free of it
// is caught) and pushes it on the owner's remote-free list, a lock-free stack linked
// through the payloads. The exported free does this itself for a valid block
// (TryFreeRemote); the full path (FreeRemote) does it after checking everything again.
// The exported free's remote frees are batched per freeing thread (RemoteBatch, in the
// freeing thread's own heap): up to BatchBlocks blocks for one owner are chained privately
// and pushed with one compare-and-swap, so a consumer thread touches its producer's list
// head once per batch instead of once per block. A batch is pushed when it is full, when
// the next remote free is for another owner, when its thread runs a slow malloc, trims or
// exits: at most BatchBlocks - 1 blocks per thread wait unseen by their owner.
// The owner takes the whole list with one exchange when it next needs memory (when a
// quick bin it allocates from is empty, and before it would map a zone) and files each
// block as its own, into its quick bin when there is room (a bin may then hold up to
// QuickBins.OverfillFactor times its usual count: the owner allocates those sizes).
//
// Invariants
//   a block on Remote has Flags == FlagRemote (TINY/SMALL) or RemoteFreed == 1 (LARGE),
//   and is still counted as in use by its owner until the owner takes it in
//   an entry (the head, or the first word of a listed payload) is the payload's address,
//   with bit 0 set exactly when the block is LARGE
//   only the owner (or a thread reclaiming an abandoned heap) pops; anyone pushes
//   a block in a thread's outgoing batch is marked Remote like one on the list, and is on
//   exactly one of them; the batch holds blocks of its Owner only, Count of them (< BatchBlocks)
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

/// <summary>
/// Remote frees a thread has made but not yet pushed (Heap.TryFreeRemote): a private chain of
/// blocks of one owner, linked like the remote-free list. Only the heap's owner touches it.
/// </summary>
internal unsafe struct RemoteBatch
{
    public Heap* Owner;
    /// <summary>Payload addresses: the chain's first and last entries (0 when empty).</summary>
    public nint First, Last;
    public int Count;
}

/// <summary>The remote-free stack of a heap, alone in its cache line (other threads write it).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct RemoteFreeList
{
    [FieldOffset(64)] public nint Head; // payload address; the next one is in its first word

    public readonly bool IsPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref Unsafe.AsRef(in Head)) != 0;
    }
}

internal unsafe partial struct Heap
{
    /// <summary>Bit 0 of a remote-free list entry: the block is LARGE (payloads are 16-byte aligned).</summary>
    private const nint LargeTag = 1;

    /// <summary>A block of another heap may be freed from here only between shared heaps (or by a thread with no heap yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsRemoteFreeAllowed(Heap* heap, Zone* zone) =>
        (heap == null || heap->Kind == HeapKind.Shared) && zone->Owner->Kind == HeapKind.Shared;

    /// <summary>Checks a pointer into a zone of another heap without changing anything: only the start bitmap and the flags are read.</summary>
    private static PointerStatus CheckForeign(Zone* zone, void* pointer, out nuint usable)
    {
        usable = 0;
        if (zone->Category == Category.Large)
        {
            if ((byte*)pointer != zone->AreaStart) return PointerStatus.NotBlockStart;
            if (Volatile.Read(ref zone->RemoteFreed) != 0) return PointerStatus.DoubleFree;
            usable = (nuint)(zone->AreaEnd - zone->AreaStart);
            return PointerStatus.Valid;
        }
        Block* block = Block.FromPayload(pointer);
        if (!Zone.IsBlockStart(zone, block)) return PointerStatus.NotBlockStart;
        if ((Volatile.Read(ref block->Info) & Block.FlagMask) != 0) return PointerStatus.DoubleFree;
        usable = block->Size - Categories.BlockOverheadBytes;
        return PointerStatus.Valid;
    }

    /// <summary>
    /// Marks an allocated TINY/SMALL block Remote with one compare-and-swap of its Info (the
    /// requested size stays for its owner to count); false if it was not allocated (a
    /// second free) or another thread marked it first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryMarkRemote(Block* block)
    {
        uint info = Volatile.Read(ref block->Info);
        return (info & Block.FlagMask) == 0 && Interlocked.CompareExchange(ref block->Info, info | Block.FlagRemote, info) == info;
    }

    /// <summary>Hands a block of another shared heap back to its owner.</summary>
    private static PointerStatus FreeRemote(Zone* zone, void* pointer)
    {
        if (zone->Category == Category.Large)
        {
            if ((byte*)pointer != zone->AreaStart) return PointerStatus.NotBlockStart;
            if (Interlocked.CompareExchange(ref zone->RemoteFreed, 1, 0) != 0) return PointerStatus.DoubleFree;
        }
        else
        {
            Block* block = Block.FromPayload(pointer);
            if (!Zone.IsBlockStart(zone, block)) return PointerStatus.NotBlockStart;
            if (!TryMarkRemote(block)) return PointerStatus.DoubleFree;
        }
        HandBack(zone->Owner, pointer, zone->Category == Category.Large);
        return PointerStatus.Valid;
    }

    /// <summary>
    /// The free fast path's remote free: <paramref name="block"/> is an allocated block of
    /// <paramref name="owner"/>, a heap the caller does not own. Marks it and hands it back,
    /// counting the call on <paramref name="caller"/>'s heap (null: the process's heapless
    /// counters); false, with nothing done, if the owner is not a shared heap or the block
    /// was freed meanwhile (the full path then says why).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryFreeRemote(Heap* owner, Block* block, Heap* caller)
    {
        if (owner->Kind != HeapKind.Shared
            || !TryMarkRemote(block)) return false;
        if (caller == null)
        {
            ProcessCounters.CountHeapless(Counter.CallsFree);
            HandBack(owner, Block.PayloadOf(block), large: false);
            return true;
        }
        HeapCounters.Add(&caller->Counters, Counter.CallsFree, 1);
        ref RemoteBatch batch = ref caller->Outgoing;
        if (batch.Owner != owner) FlushRemoteBatch(caller);
        nint entry = (nint)Block.PayloadOf(block);
        *(nint*)entry = batch.First; // TINY/SMALL only: entries carry no tag
        if (batch.First == 0) batch.Last = entry;
        batch.First = entry;
        batch.Owner = owner;
        if (++batch.Count == BatchBlocks) FlushRemoteBatch(caller);
        return true;
    }

    /// <summary>
    /// TryFreeRemote's common case, for the exported free: <paramref name="caller"/> (the
    /// caller's own heap) is already chaining a batch for <paramref name="owner"/> that this
    /// block does not fill. Marks the block and chains it; every other case (a new owner, a
    /// full batch, an owner that is not shared: its Kind was checked when the batch began)
    /// goes to TryFreeRemote. Written apart so that this path makes no call and saves no
    /// registers: inside TryFreeRemote it paid for that function's calls (prodcons, one
    /// pair, 500K blocks: 155.9M -> 146.8M instructions; the remote branch 57 -> 36 a block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryChainRemote(Heap* owner, Block* block, Heap* caller)
    {
        // The batch and the counter at constant offsets from the heap: no null check, no
        // address kept in a register (prodcons, one pair, 500K blocks: 144.7M -> 143.9M).
        RemoteBatch* batch = OutgoingOf(caller);
        // Owner is null while the batch is empty, so a match means First and Last are set.
        if (batch->Owner != owner || batch->Count >= BatchBlocks - 1) return TryFreeRemote(owner, block, caller);
        if (!TryMarkRemote(block)) return false;
        HeapCounters.Add(CountersOf(caller), Counter.CallsFree, 1);
        nint entry = (nint)Block.PayloadOf(block);
        *(nint*)entry = batch->First;
        batch->First = entry;
        batch->Count++;
        return true;
    }

    /// <summary>Offset of Outgoing in Heap: right after the counters (Heap.cs; FastPathLayoutTests checks it).</summary>
    public const int OutgoingOffset = CountersOffset + HeapCounters.Bytes;

    /// <summary>The heap's outgoing remote-free batch, reached without a null check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RemoteBatch* OutgoingOf(Heap* heap) => (RemoteBatch*)((byte*)heap + OutgoingOffset);

    /// <summary>Blocks a thread chains for one owner before it pushes them (one compare-and-swap a batch).</summary>
    public const int BatchBlocks = 32;

    /// <summary>Pushes <paramref name="heap"/>'s outgoing batch, if any, onto its owner's remote-free list.</summary>
    public static void FlushRemoteBatch(Heap* heap)
    {
        ref RemoteBatch batch = ref heap->Outgoing;
        if (batch.First == 0) return;
        Heap* owner = batch.Owner;
        nint first = batch.First, last = batch.Last;
        batch.First = batch.Last = 0;
        batch.Count = 0;
        batch.Owner = null;
        PushChain(owner, first, (void*)last);
    }

    /// <summary>
    /// Pushes a marked block on its owner's remote-free list, its entry tagged (bit 0) when it
    /// is a LARGE block, so that the owner finds a TINY/SMALL block's bin from its header
    /// alone; reclaims the owner if it was abandoned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HandBack(Heap* owner, void* pointer, bool large) =>
        PushChain(owner, (nint)pointer | (large ? LargeTag : 0), pointer);

    /// <summary>
    /// Pushes a chain of entries (<paramref name="first"/>, linked through the payloads'
    /// first words, ending at payload <paramref name="last"/>) on <paramref name="owner"/>'s
    /// remote-free list with one compare-and-swap; reclaims the owner if it was abandoned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PushChain(Heap* owner, nint first, void* last)
    {
        ref nint head = ref owner->Remote.Head;
        nint seen;
        do
        {
            seen = Volatile.Read(ref head);
            *(nint*)last = seen;
        } while (Interlocked.CompareExchange(ref head, first, seen) != seen);
        if (Volatile.Read(ref owner->State) == HeapState.Abandoned) HeapRegistry.TryReclaim(owner);
    }

    /// <summary>The owner takes in every block other threads freed, into its quick bins where they fit. Returns how many.</summary>
    public static nuint DrainRemoteFrees(Heap* heap)
    {
        nint list = Interlocked.Exchange(ref heap->Remote.Head, 0);
        // TINY/SMALL blocks are counted once, after the loop (nothing in it reads the counters):
        // two adds to registers a block instead of two to memory; LARGE ones apart, so that the
        // common entry (untagged: the payload itself) is neither masked nor counted twice.
        nuint blocks = 0, requested = 0, large = 0;
        // The bins' overfill bounds, once per drain rather than a shift and a multiply a block
        // (read again after a call: nothing here changes the limit, but the calls are long).
        QuickBins* bins = BinsOf(heap);
        int floorUpTo256 = bins->OverfillFloor(upTo256: true), floorAbove = bins->OverfillFloor(upTo256: false);
        while (list != 0)
        {
            if ((list & LargeTag) != 0)
            {
                void* payload = (void*)(list & ~LargeTag);
                list = *(nint*)payload;
                FreeOwned(heap, ZoneMap.Lookup(payload), null);
                large++;
                floorUpTo256 = bins->OverfillFloor(upTo256: true);
                floorAbove = bins->OverfillFloor(upTo256: false);
                continue;
            }
            void* pointer = (void*)list;
            list = *(nint*)pointer;
            Block* block = Block.FromPayload(pointer);
            blocks++;
            requested += block->Requested;
            if (!QuickBins.TryPushOverfill(bins, block, floorUpTo256, floorAbove)) // the push marks it Cached
            {
                block->Info &= ~Block.FlagMask; // allocated again, for the moment it takes to free it here
                Zone* zone = ZoneMap.Lookup(pointer);
                Release(heap, zone->Category, zone, block);
                floorUpTo256 = bins->OverfillFloor(upTo256: true);
                floorAbove = bins->OverfillFloor(upTo256: false);
            }
        }
        HeapCounters.CountFrees(&heap->Counters, blocks, requested);
        return blocks + large;
    }
}
