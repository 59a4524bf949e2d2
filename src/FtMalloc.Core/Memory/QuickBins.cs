// Quick bins: per heap, a short LIFO of recently freed blocks of each exact size up to
// MaxBlockBytes (all TINY sizes and the first SMALL ones).
// The next malloc of that size pops one without searching, splitting or merging, so the
// common malloc/free pair is a pop and a push (glibc's tcache does the same).
//
// A block in a quick bin is neither allocated nor free: its flags say Cached, it is not
// on the free lists, and it does not merge with its neighbours. Free blocks still merge
// at once; cached blocks are released (merged and filed) when their bin is full (a grown
// bin that may not grow further gives back a batch of its newest at once:
// Heap.ReleaseBinBatch), when a search of the free lists fails (before a new zone is
// mapped), and on trim or destroy.
//
// Each bin keeps its head and its room (places left) rather than its length: the push of
// the fast path tests one word for "not full" instead of comparing a length with a
// capacity that depends on the bin. A bin names its blocks by their payload addresses (its
// head, and each block's link, in its payload's first word), not their headers', since the
// payload is what free is handed and malloc returns: the fast paths (Head/Unlink/PushIn,
// PopPayload) take and return payloads and reach the header at payload - 16 with a negative
// displacement, so neither converts (malloc 2 instructions fewer: the add for its result and
// the one for its prefetch; free 1: its lea; callgrind, bench/'s churn 2000000: 572.91M ->
// 564.28M instructions). The slow paths' Block* forms (Pop, Push, PushChain, TrySplice)
// convert at their ends. Bins are indexed by block size / 16, so a request of
// n <= MaxRequestBytes bytes is served by bin max(2, (n + 23) / 16) (its block is n plus the
// 8 bytes a block costs, rounded up to 16, and at least 32: Block.cs); bins 0 and 1 never
// hold a block.
//
// Invariants
//   bin i's head, and the link of each block on it, is 0 (the end) or the payload address
//   of a block on bin i (Block.PayloadOf: its header is 16 bytes below), never a Block*;
//   whatever links blocks to be spliced in (Heap.Remote.cs' chains, the batch carve) too
//   every block on bin i is in a TINY or SMALL zone of this heap, Size == 16 * i, and
//   Cached, or Remote if it came in from another thread's free (a drain splices such
//   blocks in whole, without touching them: Heap.Remote.cs; a pop rewrites Info anyway)
//   length of bin i + _room[i] == Capacity(i): Limit up to 256-byte blocks, Limit / 4 above
//   (so a heap keeps at most about 250 KB in its bins), except that blocks other threads
//   freed, when their owner takes them in (Heap.Remote.cs), may overfill a bin up to
//   OverfillFactor times its capacity, plus one segment of up to 32 (_room then goes negative): the owner is about to
//   allocate them again, and merging them only to split them again is what made
//   producer/consumer pairs slow. The push of the fast path needs _room[i] > 0.
//   Limit is the heap's base limit until the slow path raises it while the heap is big
//   (Heap.GrowQuickBins); ReleaseQuickBins puts it back once every bin is empty.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FtMalloc.Core.Memory;

// Explicit offsets: the fast paths address the arrays from the struct's address with
// constants (Room, Heads) because NativeAOT adds a null check to every fixed-buffer access
// made through a pointer.
[StructLayout(LayoutKind.Explicit, Size = Bytes)]
internal unsafe struct QuickBins
{
    /// <summary>Size of the struct (Heap.cs places its counters right after it).</summary>
    public const int Bytes = HeadsOffset + 8 * Count;

    private const int RoomOffset = 8;
    private const int HeadsOffset = RoomOffset + 4 * Count; // 8-byte aligned: Count is even

    /// <summary>Largest block a bin takes: TINY blocks (32 to 528 bytes) and SMALL ones up to 1,032-byte requests.</summary>
    public const uint MaxBlockBytes = 1040;

    /// <summary>Largest request a bin serves: what a block of MaxBlockBytes serves.</summary>
    public const nuint MaxRequestBytes = MaxBlockBytes - SizeClasses.Categories.BlockOverheadBytes;

    /// <summary>Bins by block size / 16.</summary>
    public const int Count = (int)(MaxBlockBytes >> 4) + 1;

    /// <summary>Blocks per bin the process heap keeps (measured: bench/ fast path and churn).</summary>
    public const uint DefaultLimit = 32;

    /// <summary>Blocks per bin up to 256-byte blocks (a quarter of it above); 0 turns the bins off. Changed only by SetLimit.</summary>
    public readonly uint Limit => _limit;
    [FieldOffset(0)] private uint _limit;
    [FieldOffset(RoomOffset)] private fixed int _room[Count];
    [FieldOffset(HeadsOffset)] private fixed ulong _heads[Count];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int* Room(QuickBins* bins) => (int*)((byte*)bins + RoomOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong* Heads(QuickBins* bins) => (ulong*)((byte*)bins + HeadsOffset);

    // The fast paths' forms (Head, Unlink, HasRoom, Push "In"): the bins at a constant offset
    // from a pointer the caller holds (the heap: Heap.BinsOffset), so that NativeAOT folds the
    // offset into each instruction; a QuickBins* computed from the heap first sat in a
    // register of its own, one add a malloc and one a free.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int* RoomIn(byte* owner, int offset) => (int*)(owner + offset + RoomOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong* HeadsIn(byte* owner, int offset) => (ulong*)(owner + offset + HeadsOffset);

    /// <summary>Blocks bin <paramref name="bin"/> may hold.</summary>
    public readonly int Capacity(nuint bin) => bin < 2 ? 0 : BlockBinCapacity(bin);

    /// <summary>Capacity of a bin that can hold a block (2 and up: blocks are 32 bytes or more), in one shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly int BlockBinCapacity(nuint bin) => (int)(_limit >> (bin <= 16 ? 0 : 2));

    /// <summary>Bytes of the blocks in bins 2 to <paramref name="lastBin"/> (slow paths only: reads every bin's room).</summary>
    public readonly nuint CachedBytes(int lastBin)
    {
        nuint bytes = 0;
        for (int i = 2; i <= lastBin; i++) bytes += (nuint)(Capacity((nuint)i) - _room[i]) * ((nuint)i << 4);
        return bytes;
    }

    /// <summary>How many times its capacity a bin may hold when its owner takes in remote frees.</summary>
    public const int OverfillFactor = 8;

    /// <summary>Sets the capacity of every bin, full or not: each bin's room moves by the change of its capacity.</summary>
    public void SetLimit(uint limit)
    {
        for (nuint i = 0; i < Count; i++) _room[i] -= Capacity(i);
        _limit = limit;
        for (nuint i = 0; i < Count; i++) _room[i] += Capacity(i);
    }

    /// <summary>The bin of a request of <paramref name="request"/> &lt;= MaxRequestBytes bytes (see the header).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint BinOfRequest(nuint request)
    {
        nuint bin = (request + SizeClasses.Categories.BlockOverheadBytes + 15) >> 4;
        return bin < 2 ? 2 : bin;
    }

    // The link of a cached block is its payload's first word, and holds the next block's
    // payload address (0 at the end). Read and written through these two rather than a
    // ref-returning accessor: a returned ref becomes a temporary address in a register (one
    // lea more on each push and pop), a plain expression folds into the move.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* NextCached(byte* payload) => *(byte**)payload;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetNextCached(byte* payload, byte* next) => *(byte**)payload = next;

    /// <summary>The payload of the first block of bin <paramref name="bin"/> (&lt; Count), still linked, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Head(QuickBins* bins, nuint bin) => HeadIn((byte*)bins, 0, bin);

    /// <summary>Head of the bins at <paramref name="owner"/> + <paramref name="offset"/> (a constant): a payload address, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* HeadIn(byte* owner, int offset, nuint bin) => (byte*)HeadsIn(owner, offset)[bin];

    /// <summary>Unlinks <paramref name="head"/>, the payload of the first block of bin <paramref name="bin"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unlink(QuickBins* bins, nuint bin, byte* head) => UnlinkIn((byte*)bins, 0, bin, head);

    /// <summary>Unlink of the bins at <paramref name="owner"/> + <paramref name="offset"/> (a constant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnlinkIn(byte* owner, int offset, nuint bin, byte* head)
    {
        byte* next = NextCached(head);
        HeadsIn(owner, offset)[bin] = (ulong)next;
        RoomIn(owner, offset)[bin] = RoomIn(owner, offset)[bin] + 1; // not ++: see HeapCounters.CountCachedFree
        // The next pop of this bin reads next's link, in its payload's first line; its caller then writes there.
        if (Sse.IsSupported) Sse.Prefetch0(next);
    }

    /// <summary>A cached block of bin <paramref name="bin"/> (&lt; Count), unlinked, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* Pop(QuickBins* bins, nuint bin)
    {
        byte* head = Head(bins, bin);
        if (head == null) return null;
        Unlink(bins, bin, head);
        return Block.FromPayload(head);
    }

    /// <summary>Pop, as the bin names the block: its payload address, or null (a loop that pops many keeps that, not a Block* made from it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* PopPayload(QuickBins* bins, nuint bin)
    {
        byte* head = Head(bins, bin);
        if (head != null) Unlink(bins, bin, head);
        return head;
    }

    /// <summary>True if bin <paramref name="bin"/> (any value) exists and is not full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasRoom(QuickBins* bins, nuint bin) => HasRoomIn((byte*)bins, 0, bin);

    /// <summary>HasRoom of the bins at <paramref name="owner"/> + <paramref name="offset"/> (a constant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasRoomIn(byte* owner, int offset, nuint bin) => bin < Count && RoomIn(owner, offset)[bin] > 0;

    /// <summary>
    /// The room at or below which a bin takes no more remote frees (it holds OverfillFactor
    /// times its capacity): of bins up to 256-byte blocks when <paramref name="upTo256"/>, of the
    /// others otherwise. Fixed while Limit is (a drain computes both once: TrySplice).
    /// </summary>
    public readonly int OverfillFloor(bool upTo256) => -(OverfillFactor - 1) * (int)(_limit >> (upTo256 ? 0 : 2));

    /// <summary>
    /// Takes in a segment of blocks other threads freed (Heap.Remote.cs): <paramref name="count"/>
    /// blocks of one size, Remote, linked as a bin links its blocks from <paramref name="first"/>
    /// to <paramref name="last"/>, all put at the front of their bin at once if it holds less
    /// than OverfillFactor times its capacity (OverfillFloor: the caller's two floors); false
    /// (nothing done) otherwise, or if the blocks have no bin. Only <paramref name="first"/>'s
    /// header and <paramref name="last"/>'s link are touched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TrySplice(QuickBins* bins, Block* first, Block* last, int count, int floorUpTo256, int floorAbove)
    {
        nuint bin = Block.BinOf(first);
        if (bin >= Count || Room(bins)[bin] <= (bin <= 16 ? floorUpTo256 : floorAbove)) return false;
        SetNextCached(Block.PayloadOf(last), (byte*)Heads(bins)[bin]);
        Heads(bins)[bin] = (ulong)Block.PayloadOf(first);
        Room(bins)[bin] -= count;
        return true;
    }

    /// <summary>Places left in bin <paramref name="bin"/> (&lt; Count): below zero when remote frees overfilled it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RoomOf(QuickBins* bins, nuint bin) => Room(bins)[bin];

    /// <summary>
    /// Puts <paramref name="count"/> &gt; 0 blocks of bin <paramref name="bin"/> (&lt; Count), which has
    /// room for them, at its front at once: Cached, linked as a bin links its blocks from
    /// <paramref name="first"/> to <paramref name="last"/> (whose link is written here). The batch carve's push.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PushChain(QuickBins* bins, nuint bin, Block* first, Block* last, int count)
    {
        SetNextCached(Block.PayloadOf(last), (byte*)Heads(bins)[bin]);
        Heads(bins)[bin] = (ulong)Block.PayloadOf(first);
        Room(bins)[bin] -= count;
    }

    /// <summary>Caches an allocated block of bin <paramref name="bin"/> == its Size / 16, which has room. The fast path's push.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Push(QuickBins* bins, Block* block, nuint bin) => PushIn((byte*)bins, 0, Block.PayloadOf(block), bin);

    /// <summary>Push of the block of <paramref name="payload"/> into the bins at <paramref name="owner"/> + <paramref name="offset"/> (a constant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PushIn(byte* owner, int offset, byte* payload, nuint bin)
    {
        Block.FromPayload(payload)->Info = Block.FlagCached;
        SetNextCached(payload, (byte*)HeadsIn(owner, offset)[bin]);
        HeadsIn(owner, offset)[bin] = (ulong)payload;
        RoomIn(owner, offset)[bin] = RoomIn(owner, offset)[bin] - 1; // not --: see HeapCounters.CountCachedFree
    }

    /// <summary>A cached block of exactly <paramref name="blockBytes"/> (&lt;= MaxBlockBytes), unlinked, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Block* Pop(nuint blockBytes)
    {
        fixed (QuickBins* bins = &this) return Pop(bins, blockBytes >> 4);
    }

    /// <summary>True if the bin of blocks of <paramref name="blockBytes"/> exists and is not full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasRoom(uint blockBytes)
    {
        fixed (QuickBins* bins = &this) return HasRoom(bins, blockBytes >> 4);
    }

    /// <summary>Caches an allocated block whose bin has room (HasRoom).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(Block* block)
    {
        fixed (QuickBins* bins = &this) Push(bins, block, Block.BinOf(block));
    }

    /// <summary>Caches an allocated block; false if its bin is full or it has none (the caller then frees it for real).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(Block* block)
    {
        fixed (QuickBins* bins = &this)
        {
            nuint bin = Block.BinOf(block);
            if (!HasRoom(bins, bin)) return false;
            Push(bins, block, bin);
            return true;
        }
    }

    /// <summary>Number of cached blocks (validation only: walks every bin and checks it against its room).</summary>
    public nuint CountSlow(out bool consistent)
    {
        consistent = true;
        nuint total = 0;
        for (nuint i = 0; i < Count; i++)
        {
            int n = 0;
            for (byte* p = (byte*)_heads[i]; p != null; p = NextCached(p))
            {
                Block* b = Block.FromPayload(p);
                // Cached, or Remote: spliced in whole from the remote-free list (Heap.Remote.cs)
                if ((b->Info != Block.FlagCached && b->Flags != Block.FlagRemote) || b->Size != (uint)i << 4) consistent = false;
                n++;
            }
            if (n + _room[i] != Capacity(i)) consistent = false;
            total += (nuint)n;
        }
        return total;
    }
}
