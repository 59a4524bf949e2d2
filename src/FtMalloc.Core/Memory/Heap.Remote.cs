// Frees across threads. A thread that frees a block of another thread's heap never
// touches that heap's lists: it marks the block (compare-and-swap, so a second free of it
// is caught) and pushes it on the owner's remote-free list, a lock-free stack. The
// exported free does this itself for a valid block (IsBatchingFor, TryMarkRemote, ChainMarked;
// TryFreeRemote otherwise); the
// full path (FreeRemote) does it after checking everything again.
// The exported free's remote frees are batched per freeing thread, sorted by quick bin
// (RemoteBatch, in the freeing thread's own heap, and its chains, one per bin, in the
// heap's mapping: OutgoingChainsOffset): blocks of one owner and one bin are chained
// privately, linked as the owner's quick bin links its blocks, and the whole batch is
// pushed with one compare-and-swap, as a stack of segments (one per non-empty chain).
// A batch is pushed when it holds PendingBlocks blocks or one chain SegmentBlocks, when
// the next remote free is for another owner, when its thread runs a slow malloc, trims
// or exits: at most PendingBlocks - 1 blocks per thread wait unseen by their owner.
// The owner takes the whole list with one exchange when it next needs memory (when a
// quick bin it allocates from is empty, and before it would map a zone) and splices each
// segment into its bin whole: two blocks read (the segment's first, where its header is,
// and its last, linked to the bin's old head), however long the segment, rather than each
// block visited, which cost a cache miss a block (each block's line was last written by
// the freeing thread). A bin may then hold up to QuickBins.OverfillFactor times its usual
// count, plus one segment: the owner allocates those sizes again, and merging them only
// to split them again is wasted. A segment whose bin is past that, or whose blocks have
// no bin (SMALL blocks above QuickBins.MaxBlockBytes: always alone), is freed block by block.
//
// A segment on the list (entry = payload address of its first block):
//   first's payload + 0    the next block of the segment (its payload, as a quick bin links);
//                          the last block's is written when the segment is spliced
//   first's payload + 8    the next entry of the list (0 at the bottom)
//   first's payload + 16   the segment's header (RemoteSegment): its last block, how many
//                          blocks, and the sum of their requested bytes (for the counters)
// Payload + 16 of a 32-byte block is the next block's footer slot, which holds nothing
// while this block is not free (Block.cs). A LARGE entry is its payload | 1, the next entry
// at payload + 8.
//
// Invariants
//   a block on Remote, in an outgoing chain, or spliced into a bin by a drain has
//   Flags == FlagRemote (TINY/SMALL; Requested kept) or RemoteFreed == 1 (LARGE); on Remote
//   or in a chain it is still counted as in use by its owner until the owner takes it in
//   only the owner (or a thread reclaiming an abandoned heap) pops; anyone pushes
//   a block in a thread's outgoing chains is on exactly one chain; every chain holds
//   blocks of Outgoing.Owner only, of its own bin; Outgoing.Chains has bit (bin & 63) set
//   exactly for the non-empty chains; the blocks in all chains + Outgoing.Left ==
//   PendingBlocks while Owner is set; each chain holds < SegmentBlocks
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

/// <summary>
/// Remote frees a thread has made but not yet pushed (Heap.TryFreeRemote): chains of blocks
/// of one owner, one per quick bin (OutgoingChain, in the heap's mapping). Only the heap's
/// owner touches it.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 32)] // as big as it was: the fields after it keep their places
internal unsafe struct RemoteBatch
{
    /// <summary>The heap every chain's blocks belong to; null while no chain has a block.</summary>
    public Heap* Owner;
    /// <summary>Bit (bin &amp; 63) set for each non-empty chain (bins 2 to 65: no two share a bit).</summary>
    public ulong Chains;
    /// <summary>Blocks the chains may still take before the batch is pushed (PendingBlocks less the blocks in all chains); set when a batch begins.</summary>
    public int Left;
}

/// <summary>One outgoing chain: blocks of one bin for RemoteBatch.Owner, newest first.</summary>
internal struct OutgoingChain
{
    /// <summary>Payload address of the newest block, 0 when empty; each block's payload + 0 names the next one's payload (as a quick bin links: QuickBins.cs).</summary>
    public ulong First;
    /// <summary>The chain's RemoteSegment header (its oldest block, count, requested bytes).</summary>
    public ulong Header;
}

/// <summary>
/// A segment's header, one word: its last block (payloads are 16-byte aligned and user
/// addresses below 2^47, so the block's address shifted left by 17 keeps 64 bits), how many
/// more blocks it may take (5 bits: 31 with one block, 0 with Heap.SegmentBlocks, 32) and
/// the sum of the blocks' requested bytes (16 bits: 32 blocks of at most
/// QuickBins.MaxRequestBytes), so that adding a block is one add (which borrows one from
/// the room left) and the full test one test of the room (counting blocks up, it compared
/// all five bits: two instructions more a remote free).
/// </summary>
internal static unsafe class RemoteSegment
{
    private const int CountShift = 16;
    private const int LastShift = 17;
    private const ulong CountMask = 31UL << CountShift;
    private const int MaxBlocks = 32; // Heap.SegmentBlocks

    /// <summary>What one more block of <paramref name="requested"/> bytes adds to a header (modulo 2^64: one less room).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong OneMore(nuint requested) => (ulong)requested - (1UL << CountShift);

    /// <summary>The header of a segment of one block, <paramref name="block"/>, of <paramref name="requested"/> bytes (&lt;= QuickBins.MaxRequestBytes; 0 for a block with no bin).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Of(Block* block, nuint requested) => ((ulong)block << LastShift) + ((ulong)(MaxBlocks - 1) << CountShift) + requested;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* Last(ulong header) => (Block*)((header >> LastShift) & ~15UL);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Count(ulong header) => MaxBlocks - (int)((header & CountMask) >> CountShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint Requested(ulong header) => (nuint)(header & 0xFFFF);

    /// <summary>True if the segment holds Heap.SegmentBlocks (32) blocks: no more fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsFull(ulong header) => (header & CountMask) == 0;
}

/// <summary>The remote-free stack of a heap, alone in its cache line (other threads write it).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct RemoteFreeList
{
    [FieldOffset(64)] public nint Head; // entry: a payload address (| 1 for LARGE); the next one is at payload + 8

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

    /// <summary>Where an entry's link to the next entry is: its payload's second word.</summary>
    private const int EntryLinkOffset = 8;

    /// <summary>Where a segment's header is: its first block's payload's third word.</summary>
    private const int SegmentHeaderOffset = 16;

    /// <summary>A block of another heap may be freed from here only between shared heaps (or by a thread with no heap yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsRemoteFreeAllowed(Heap* heap, Zone* zone) =>
        (heap == null || heap->Kind == HeapKind.Shared) && zone->Owner->Kind == HeapKind.Shared;

    /// <summary>Checks a pointer into a zone of another heap without changing anything: only the start bits and the flags are read.</summary>
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
    private static bool TryMarkRemote(Block* block) => TryMarkRemote(block, Volatile.Read(ref block->Info));

    /// <summary>Hands a block of another shared heap back to its owner.</summary>
    private static PointerStatus FreeRemote(Zone* zone, void* pointer)
    {
        if (zone->Category == Category.Large)
        {
            if ((byte*)pointer != zone->AreaStart) return PointerStatus.NotBlockStart;
            if (Interlocked.CompareExchange(ref zone->RemoteFreed, 1, 0) != 0) return PointerStatus.DoubleFree;
            PushChain(zone->Owner, (nint)pointer | LargeTag, (byte*)pointer + EntryLinkOffset);
        }
        else
        {
            Block* block = Block.FromPayload(pointer);
            if (!Zone.IsBlockStart(zone, block)) return PointerStatus.NotBlockStart;
            if (!TryMarkRemote(block)) return PointerStatus.DoubleFree;
            HandBack(zone->Owner, block);
        }
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
        nuint bin = Block.BinOf(block);
        if (caller == null || bin >= QuickBins.Count)
        {
            // No heap to batch in, or a block no bin takes: a segment of its own.
            if (caller == null) ProcessCounters.CountHeapless(Counter.CallsFree);
            else HeapCounters.Add(CountersOf(caller), Counter.CallsFree, 1);
            HandBack(owner, block);
            return true;
        }
        HeapCounters.Add(CountersOf(caller), Counter.CallsFree, 1);
        RemoteBatch* batch = OutgoingOf(caller);
        if (batch->Owner != owner)
        {
            FlushRemoteBatch(caller);
            batch->Owner = owner;
            batch->Left = PendingBlocks;
        }
        Chain(caller, batch, block, bin, block->Requested);
        return true;
    }

    /// <summary>
    /// TryFreeRemote's common case, for the exported free (Exports.FreeRemote), in three
    /// parts: IsBatchingFor (<paramref name="caller"/>, the caller's own heap, is already
    /// batching for <paramref name="owner"/>, and the block has a bin; every other case, a
    /// new owner, a block with no bin, an owner that is not shared (its Kind was checked
    /// when the batch began), goes to TryFreeRemote), TryMarkRemote, ChainMarked. Apart, so
    /// that the exported free's remote branch makes its calls (the push of a full batch, the
    /// full path) only as its last act, and saves no registers (prodcons, one pair, 500K
    /// blocks: 155.9M -> 146.8M instructions when it was first written apart; the remote
    /// branch 57 -> 36 a block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBatchingFor(Heap* caller, Heap* owner, nuint bin) =>
        // The batch at a constant offset from the heap: no null check, no address kept in a
        // register (prodcons, one pair, 500K blocks: 144.7M -> 143.9M).
        OutgoingOf(caller)->Owner == owner && bin < QuickBins.Count;

    /// <summary>
    /// Marks an allocated block Remote with one compare-and-swap of its Info, which the caller
    /// read as <paramref name="info"/> (the requested size stays for its owner to count);
    /// false if it was not allocated (a second free) or another thread marked it first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryMarkRemote(Block* block, uint info) =>
        (info & Block.FlagMask) == 0 && Interlocked.CompareExchange(ref block->Info, info | Block.FlagRemote, info) == info;

    /// <summary>
    /// Counts the free on <paramref name="caller"/> and chains <paramref name="block"/> (of
    /// bin <paramref name="bin"/>, marked by TryMarkRemote from its Info <paramref name="info"/>)
    /// into the caller's batch, which IsBatchingFor found batching for the block's owner.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ChainMarked(Heap* caller, Block* block, nuint bin, uint info)
    {
        // Heap-relative, its address written twice (HeapCounters.CountCachedFree): one add to memory, no lea.
        *(ulong*)((byte*)caller + CountersOffset + 8 * (int)Counter.CallsFree) = *(ulong*)((byte*)caller + CountersOffset + 8 * (int)Counter.CallsFree) + 1;
        Chain(caller, OutgoingOf(caller), block, bin, info >> Block.RequestedShift);
    }

    /// <summary>
    /// The exported free's remote branch (Exports.FreeRemote) in one call, for in-process
    /// tests: the same three steps; false if the block was not allocated or another thread
    /// marked it first (the exported free then takes the full path).
    /// </summary>
    public static bool TryChainRemote(Heap* owner, Block* block, Heap* caller)
    {
        nuint bin = Block.BinOf(block);
        if (!IsBatchingFor(caller, owner, bin)) return TryFreeRemote(owner, block, caller);
        uint info = Volatile.Read(ref block->Info);
        if (!TryMarkRemote(block, info)) return false;
        ChainMarked(caller, block, bin, info);
        return true;
    }

    /// <summary>
    /// Puts <paramref name="block"/> (marked Remote, of bin <paramref name="bin"/> &lt;
    /// QuickBins.Count, of batch's owner) at the front of its outgoing chain; pushes the batch
    /// when it or the chain is full. The chain's bit and the full test are written only
    /// where they can change (a chain's first block, a later one), and the batch counts
    /// down, so that the common case is few instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chain(Heap* caller, RemoteBatch* batch, Block* block, nuint bin, nuint requested)
    {
        OutgoingChain* chain = ChainOf(caller, bin);
        ulong first = chain->First;
        *(ulong*)Block.PayloadOf(block) = first; // the link a quick bin reads: the next block's payload
        chain->First = (ulong)Block.PayloadOf(block);
        if (first == 0)
        {
            chain->Header = RemoteSegment.Of(block, requested);
            batch->Chains |= 1UL << (int)bin;
        }
        else
        {
            ulong header = chain->Header + RemoteSegment.OneMore(requested);
            chain->Header = header;
            if (RemoteSegment.IsFull(header)) { FlushRemoteBatch(caller); return; }
        }
        int left = batch->Left - 1; // not --: the compound form kept the field's address in a register of its own
        batch->Left = left;
        if (left == 0) FlushRemoteBatch(caller);
    }

    /// <summary>Offset of Outgoing in Heap: right after the counters (Heap.cs; FastPathLayoutTests checks it).</summary>
    public const int OutgoingOffset = CountersOffset + HeapCounters.Bytes;

    /// <summary>The heap's outgoing remote-free batch, reached without a null check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RemoteBatch* OutgoingOf(Heap* heap) => (RemoteBatch*)((byte*)heap + OutgoingOffset);

    /// <summary>Where the outgoing chains are in the heap's mapping: after the small cache (touched only by a thread that frees other threads' blocks).</summary>
    private static nuint OutgoingChainsOffset
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (SmallCacheOffset + (nuint)sizeof(SmallCache) + 63) & ~(nuint)63;
    }

    /// <summary>Bytes of the outgoing chains, one per quick bin.</summary>
    private static nuint OutgoingChainsBytes => (nuint)(QuickBins.Count * sizeof(OutgoingChain));

    /// <summary>The outgoing chain of bin <paramref name="bin"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static OutgoingChain* ChainOf(Heap* heap, nuint bin) => (OutgoingChain*)((byte*)heap + OutgoingChainsOffset) + bin;

    /// <summary>Blocks a thread holds for one owner before it pushes them (one compare-and-swap a batch).</summary>
    public const int PendingBlocks = 128;

    /// <summary>Blocks of one bin a batch holds before it is pushed (RemoteSegment keeps 5 bits of count).</summary>
    public const int SegmentBlocks = 32;

    /// <summary>Pushes <paramref name="heap"/>'s outgoing batch, if any, onto its owner's remote-free list: one segment per chain, one compare-and-swap.</summary>
    public static void FlushRemoteBatch(Heap* heap)
    {
        RemoteBatch* batch = OutgoingOf(heap);
        ulong chains = batch->Chains;
        if (chains == 0) return;
        nint top = 0;
        byte* bottomLink = null;
        do
        {
            int bit = System.Numerics.BitOperations.TrailingZeroCount(chains);
            chains &= chains - 1;
            OutgoingChain* chain = ChainOf(heap, (nuint)(bit < 2 ? bit + 64 : bit)); // bins 64 and 65 have bits 0 and 1
            byte* payload = (byte*)chain->First;
            *(ulong*)(payload + SegmentHeaderOffset) = chain->Header;
            *(nint*)(payload + EntryLinkOffset) = top;
            if (top == 0) bottomLink = payload + EntryLinkOffset;
            top = (nint)payload;
            chain->First = 0;
        } while (chains != 0);
        Heap* owner = batch->Owner;
        batch->Chains = 0;
        batch->Left = 0;
        batch->Owner = null; // the next remote free begins a batch (TryFreeRemote)
        PushChain(owner, top, bottomLink);
    }

    /// <summary>Pushes a marked TINY/SMALL block on its owner's remote-free list as a segment of its own.</summary>
    private static void HandBack(Heap* owner, Block* block)
    {
        byte* payload = Block.PayloadOf(block);
        *(ulong*)payload = 0;
        *(ulong*)(payload + SegmentHeaderOffset) = RemoteSegment.Of(block, Block.BinOf(block) < QuickBins.Count ? block->Requested : 0);
        PushChain(owner, (nint)payload, payload + EntryLinkOffset);
    }

    /// <summary>
    /// Pushes a chain of entries (<paramref name="first"/>, each linked to the next at its
    /// payload + 8, the last one's link at <paramref name="lastLink"/>) on
    /// <paramref name="owner"/>'s remote-free list with one compare-and-swap; reclaims the
    /// owner if it was abandoned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PushChain(Heap* owner, nint first, byte* lastLink)
    {
        ref nint head = ref owner->Remote.Head;
        nint seen;
        do
        {
            seen = Volatile.Read(ref head);
            *(nint*)lastLink = seen;
        } while (Interlocked.CompareExchange(ref head, first, seen) != seen);
        if (Volatile.Read(ref owner->State) == HeapState.Abandoned) HeapRegistry.TryReclaim(owner);
    }

    /// <summary>
    /// The owner takes in every block other threads freed: each segment spliced whole into
    /// its quick bin while the bin holds less than its overfill bound, else freed block by
    /// block. Returns how many blocks.
    /// </summary>
    public static nuint DrainRemoteFrees(Heap* heap)
    {
        nint list = Interlocked.Exchange(ref heap->Remote.Head, 0);
        // Spliced blocks are counted once, after the loop (nothing in it reads the counters).
        nuint blocks = 0, requested = 0, released = 0, large = 0;
        // The bins' overfill bounds, once per drain (read again after a call: nothing here
        // changes the limit, but the calls are long).
        QuickBins* bins = BinsOf(heap);
        int floorUpTo256 = bins->OverfillFloor(upTo256: true), floorAbove = bins->OverfillFloor(upTo256: false);
        while (list != 0)
        {
            if ((list & LargeTag) != 0)
            {
                byte* payload = (byte*)(list & ~LargeTag);
                list = *(nint*)(payload + EntryLinkOffset);
                FreeOwned(heap, ZoneMap.Lookup(payload), null);
                large++;
                floorUpTo256 = bins->OverfillFloor(upTo256: true);
                floorAbove = bins->OverfillFloor(upTo256: false);
                continue;
            }
            byte* entry = (byte*)list;
            list = *(nint*)(entry + EntryLinkOffset);
            if (Sse.IsSupported) Sse.Prefetch0((void*)list); // the next segment's first block, read next turn
            ulong header = *(ulong*)(entry + SegmentHeaderOffset);
            Block* first = Block.FromPayload(entry);
            int count = RemoteSegment.Count(header);
            if (QuickBins.TrySplice(bins, first, RemoteSegment.Last(header), count, floorUpTo256, floorAbove))
            {
                blocks += (nuint)count;
                requested += RemoteSegment.Requested(header);
                continue;
            }
            // Its bin is full past the overfill bound, or it has none: each block freed here.
            Block* block = first;
            for (; count > 0; count--)
            {
                Block* next = Block.FromPayload(*(byte**)Block.PayloadOf(block)); // a bin's link: a payload (the last one's is not followed)
                HeapCounters.CountFree(&heap->Counters, block->Requested);
                block->Info &= ~Block.FlagMask; // allocated again, for the moment it takes to free it here
                Zone* zone = ZoneMap.Lookup(block);
                Release(heap, zone->Category, zone, block);
                released++;
                block = next;
            }
            floorUpTo256 = bins->OverfillFloor(upTo256: true);
            floorAbove = bins->OverfillFloor(upTo256: false);
        }
        HeapCounters.CountFrees(&heap->Counters, blocks, requested);
        return blocks + released + large;
    }
}
