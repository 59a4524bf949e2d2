// Segregated free lists with a two-level bitmap (the TLSF scheme of Masmano et al.):
// finding a free block that fits takes a few bit scans, whatever the number of blocks.
//
// Free blocks are filed by size. Below 256 bytes each 16-byte size has its own list
// (exact fit). From 256 bytes up, every power-of-two range [2^k, 2^(k+1)) is split into
// 16 equal lists. A search rounds the request up to the start of the next list, so the
// head of any non-empty list at or above it fits without looking further ("good fit":
// at most 1/16 of the block is left over by the rounding). The price of the rounding: a
// block in the request's own list is never found, even one of exactly the right size;
// TakeExactHead looks at that list's head first (SMALL uses it: Heap.TakeFreeBlock).
//
// Invariants
//   bit (fl) of _firstLevel is set  <=>  _secondLevel[fl] != 0
//   bit (sl) of _secondLevel[fl] set <=>  list (fl, sl) is non-empty
//   FreeBytes == the sum of Size over the blocks on the lists
//   every block on list (fl, sl) is free and Mapping(block.Size) == (fl, sl)
//   PrevFree of every block but a list's head names the block before it; the head's
//   PrevFree is not kept (taking the head, the common case, then writes nothing into the
//   next block: one random cache line less per allocation). A block is the head of its
//   list exactly when Head(fl, sl) == block, which Remove tests instead of PrevFree.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FtMalloc.Core.Memory;

internal unsafe struct FreeLists
{
    public const int SecondLevelShift = 4;
    public const int SecondLevelCount = 1 << SecondLevelShift;
    public const int FirstLevelCount = 18;             // blocks up to 2^25 bytes: a SMALL zone is 2^24
    private const int LinearShift = 8;                  // sizes below 256 bytes: one list per granule
    private const nuint LinearLimit = (nuint)1 << LinearShift;

    private uint _firstLevel;
    /// <summary>Sum of the sizes of the blocks on the lists.</summary>
    public nuint FreeBytes;
    private fixed uint _secondLevel[FirstLevelCount];
    private fixed ulong _heads[FirstLevelCount * SecondLevelCount];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Mapping(nuint size, out int firstLevel, out int secondLevel)
    {
        if (size < LinearLimit)
        {
            firstLevel = 0;
            secondLevel = (int)(size >> 4);
        }
        else
        {
            int msb = BitOperations.Log2(size);
            firstLevel = msb - (LinearShift - 1);
            secondLevel = (int)(size >> (msb - SecondLevelShift)) & (SecondLevelCount - 1);
        }
    }

    /// <summary>
    /// The head of list (fl, sl), as a Block* stored in a ulong (fixed buffers cannot hold
    /// pointers). The first levels are stored from the largest down: a fresh zone's one free
    /// block sits on the last level it uses, whose head then lies near the start of the
    /// struct, in the heap's first page (Heap.cs), as the heap's other set-up fields do.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong Head(int firstLevel, int secondLevel) => ref _heads[(FirstLevelCount - 1 - firstLevel) * SecondLevelCount + secondLevel];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Insert(Block* block)
    {
        Mapping(block->Size, out int fl, out int sl);
        ref ulong head = ref Head(fl, sl);
        Block* first = (Block*)head;
        Block.NextFree(block) = first;
        if (first != null) Block.PrevFree(first) = block; // first stops being the head
        head = (ulong)block;
        FreeBytes += block->Size;
        _firstLevel |= 1u << fl;
        _secondLevel[fl] |= 1u << sl;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Remove(Block* block)
    {
        Mapping(block->Size, out int fl, out int sl);
        FreeBytes -= block->Size;
        Block* next = Block.NextFree(block);
        ref ulong head = ref Head(fl, sl);
        if (head == (ulong)block)
        {
            Pop(ref head, next, fl, sl);
            return;
        }
        Block* prev = Block.PrevFree(block);
        Block.NextFree(prev) = next;
        if (next != null) Block.PrevFree(next) = prev;
    }

    /// <summary>Makes <paramref name="next"/> the head of list (fl, sl) in place of its head; next's PrevFree is left as it is (see the invariants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Pop(ref ulong head, Block* next, int fl, int sl)
    {
        head = (ulong)next;
        if (next == null)
        {
            uint second = _secondLevel[fl] & ~(1u << sl);
            _secondLevel[fl] = second;
            if (second == 0) _firstLevel &= ~(1u << fl);
        }
    }

    /// <summary>Unlinks and returns a free block of at least <paramref name="size"/> bytes, or null.</summary>
    public Block* TakeFit(nuint size)
    {
        if (!FindList(size, out int fl, out int sl)) return null;
        ref ulong head = ref Head(fl, sl);
        Block* block = (Block*)head;
        Block* next = Block.NextFree(block);
        // The next search of this list reads the new head's links: start fetching them now.
        if (Sse.IsSupported && next != null) Sse.Prefetch0(Block.PayloadOf(next));
        Pop(ref head, next, fl, sl);
        FreeBytes -= block->Size;
        return block;
    }

    /// <summary>
    /// The head of the list that <paramref name="size"/> itself maps to, unlinked, if it holds
    /// <paramref name="size"/> bytes; else null. TakeFit skips that list (its blocks may be
    /// smaller), so a hole of exactly the size asked for is otherwise never reused.
    /// </summary>
    public Block* TakeExactHead(nuint size)
    {
        Mapping(size, out int fl, out int sl);
        if (fl >= FirstLevelCount) return null;
        ref ulong head = ref Head(fl, sl);
        Block* block = (Block*)head;
        if (block == null || block->Size < size) return null;
        Pop(ref head, Block.NextFree(block), fl, sl);
        FreeBytes -= block->Size;
        return block;
    }

    /// <summary>The block TakeFit(<paramref name="size"/>) would take, left on its list, or null.</summary>
    public Block* FindFit(nuint size) => FindList(size, out int fl, out int sl) ? (Block*)Head(fl, sl) : null;

    /// <summary>
    /// Whether FindFit(<paramref name="size"/>) would find a block smaller than
    /// <paramref name="limit"/> (a power of two): told from the bitmaps alone, without
    /// reading the list's head or the block (a list below the one <paramref name="limit"/>
    /// maps to holds only smaller blocks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasFitBelow(nuint size, nuint limit)
    {
        Mapping(limit, out int limitFl, out int limitSl);
        return FindList(size, out int fl, out int sl) && (fl < limitFl || (fl == limitFl && sl < limitSl));
    }

    /// <summary>The first non-empty list whose every block holds <paramref name="size"/> bytes (good fit: the request rounded up to the next list); false if none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool FindList(nuint size, out int fl, out int sl)
    {
        if (size >= LinearLimit) size += ((nuint)1 << (BitOperations.Log2(size) - SecondLevelShift)) - 1;
        Mapping(size, out fl, out sl);
        if (fl >= FirstLevelCount) return false;
        uint slMap = _secondLevel[fl] & (~0u << sl);
        if (slMap == 0)
        {
            uint flMap = fl + 1 < 32 ? _firstLevel & (~0u << (fl + 1)) : 0;
            if (flMap == 0) return false;
            fl = BitOperations.TrailingZeroCount(flMap);
            slMap = _secondLevel[fl];
        }
        sl = BitOperations.TrailingZeroCount(slMap);
        return true;
    }

    /// <summary>Number of blocks on all lists (validation only: walks every list).</summary>
    public nuint CountSlow(out bool consistent)
    {
        consistent = true;
        nuint count = 0, bytes = 0;
        for (int fl = 0; fl < FirstLevelCount; fl++)
        {
            bool flBit = (_firstLevel & (1u << fl)) != 0;
            if (flBit != (_secondLevel[fl] != 0)) consistent = false;
            for (int sl = 0; sl < SecondLevelCount; sl++)
            {
                Block* b = (Block*)Head(fl, sl);
                bool slBit = (_secondLevel[fl] & (1u << sl)) != 0;
                if (slBit != (b != null)) consistent = false;
                Block* prev = null;
                for (; b != null; b = Block.NextFree(b))
                {
                    Mapping(b->Size, out int bfl, out int bsl);
                    if (!b->IsFree || bfl != fl || bsl != sl || (prev != null && Block.PrevFree(b) != prev)) consistent = false;
                    prev = b;
                    count++;
                    bytes += b->Size;
                }
            }
        }
        if (bytes != FreeBytes) consistent = false;
        return count;
    }
}
