// The small cache: per heap, freed SMALL blocks above the quick bins (1,056 bytes to just
// under 16 KiB), kept whole for the next malloc of a similar size, so that both that free
// and that malloc skip the free lists: no merge on free, no search and split on malloc.
// The quick bins need an exact size; sizes this big rarely repeat, so the cache files
// blocks by size class, 16 per doubling as TLSF's second level does (1,024-1,087,
// 1,088-1,151, ..., 15,360-16,383 bytes), each class a short stack of entries kept in the
// heap's own memory, with a bitmap of the non-empty classes. A malloc takes the smallest
// block of its own class that holds it, else the smallest of the first non-empty class
// above, at most SearchClasses up (a block under 1.32 times the request): a look at the
// entries of at most two classes and a bit scan, no walk through blocks.
//
// An entry is one word, the block's size above its address (Entry): a class's Slots
// entries fill one cache line, so a put or a take touches that line and the cache's first
// (counts, bitmap, bytes), and "the smallest block that holds n bytes" is the smallest
// entry >= Entry(n, 0), one compare an entry. (Until 2026-11-27 sizes and addresses were
// two arrays, two lines a class: on bench/'s churn the cache's writes missed L1 173K times
// in 2M operations and Take's reads 140K.)
//
// Why: in bench/'s churn about 9% of the requests are 1-16 KB; each took a TLSF search
// and split on malloc and a merge with its neighbours on free (their headers far apart:
// cache misses), about 540 instructions a pair and 15% of the run's samples, against some
// 100 for a quick-bin pair.
//
// A cached block is neither allocated nor free: its flags say Cached (as in a quick bin),
// it is on no free list and does not merge with its neighbours; caching one writes
// nothing in the block but its Info word. What that costs is memory: a cached block
// stands between free blocks that would have merged, so the free lists fragment and the
// zone's untouched rest is cut into sooner. Hence the rules, measured on churn (peak RSS
// 14.5 MB before the cache, glibc 14.4):
// - only a block with no free neighbour is cached (Heap.TryCacheSmall): one that would
//   merge merges, as before. Without that rule churn's peak RSS rose by 0.9 MB (14.7 MB
//   with it);
// - no block is cut on the way out: cutting the rest of a bigger block off (into the
//   free lists) fragmented them further (peak RSS 21.6 MB with cuts of 512 bytes or more);
//   the search is bounded instead (SearchClasses), and the block is taken whole;
// - the cache holds at most MaxBytes, and at most a sixteenth of the heap's bytes in use
//   (Heap.SmallCacheLimit), Slots blocks a class; when the bytes in use fall, the next free
//   of a block of its sizes gives back what it holds over that (Heap.ShrinkSmallCache), so
//   a program that frees everything leaves no zone held by cached blocks.
// It is released (every block merged and filed) wherever the quick bins are released
// (Heap.ReleaseQuickBins): before a zone is mapped, before a fresh LARGE region while the
// bins are grown, malloc_trim, thread exit.
//
// Invariants (HeapValidator checks them)
//   every block in the cache is Cached, in a SMALL zone of this heap, of the size stored
//   in its entry (above its address, which is below 2^47), and filed in ClassOf(its size);
//   0 <= _count[c] <= Slots
//   bit c of _nonEmpty is set  <=>  _count[c] != 0
//   Bytes == the sum of the sizes of the cached blocks <= MaxBytes
//   a Cached block of more than QuickBins.MaxBlockBytes is in the cache (and in no quick bin)
using System.Numerics;
using System.Runtime.CompilerServices;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

internal unsafe struct SmallCache
{
    /// <summary>Smallest block the cache takes: the quick bins take every size up to QuickBins.MaxBlockBytes.</summary>
    public const uint MinBlockBytes = QuickBins.MaxBlockBytes + (uint)Categories.Granule;

    private const int FirstShift = 10;   // classes start at 1 KiB
    private const int LastShift = 14;    // blocks below 16 KiB
    private const int ClassShift = 4;    // 16 classes per doubling

    /// <summary>Blocks of this size and more are never cached.</summary>
    public const uint LimitBlockBytes = 1u << LastShift;

    /// <summary>Size classes: 16 per doubling from 1 KiB to 16 KiB (the first ones only from MinBlockBytes); one bit each in a ulong.</summary>
    public const int ClassCount = (LastShift - FirstShift) << ClassShift;

    /// <summary>Most blocks a class holds.</summary>
    public const int Slots = 8;

    /// <summary>How many classes above its own a malloc looks: a block under 1.32 times the request (classes are 1/16 of a doubling wide).</summary>
    public const int SearchClasses = 4;

    /// <summary>Most bytes the cache holds.</summary>
    public const nuint MaxBytes = 512 * 1024;

    /// <summary>Sum of the sizes of the cached blocks.</summary>
    public nuint Bytes;
    private ulong _nonEmpty;
    private fixed byte _count[ClassCount];
    private fixed ulong _pad[(EntriesOffset - 16 - ClassCount) / 8];
    private fixed ulong _entries[ClassCount * Slots]; // class c's in its own line: [c * Slots, c * Slots + _count[c])

    /// <summary>Offset of the entries: after the counts, on a line of their own (the struct is placed on a line: Heap.SmallCacheOffset).</summary>
    private const int EntriesOffset = 128;

    /// <summary>Where an entry keeps its block's size: above the address (a payload address is below 2^47, Zone.IsPayloadAddress).</summary>
    private const int SizeShift = 48;

    /// <summary>The entry of a block of <paramref name="size"/> bytes at <paramref name="block"/>: ordered by size first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Entry(nuint size, Block* block) => ((ulong)size << SizeShift) | (ulong)block;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint SizeOf(ulong entry) => (uint)(entry >> SizeShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Block* BlockOf(ulong entry) => (Block*)(entry & ((1UL << SizeShift) - 1));

    /// <summary>The class of a block of <paramref name="size"/> bytes, 1,024 &lt;= size &lt; LimitBlockBytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ClassOf(nuint size)
    {
        int shift = BitOperations.Log2(size);
        return ((shift - FirstShift) << ClassShift) + (int)((size >> (shift - ClassShift)) & ((1 << ClassShift) - 1));
    }

    /// <summary>
    /// Caches <paramref name="block"/> (allocated, of a SMALL zone, <paramref name="size"/>
    /// bytes, MinBlockBytes &lt;= size &lt; LimitBlockBytes) if its class has a slot and the
    /// cache would hold at most <paramref name="limit"/> bytes; marks it Cached. False
    /// otherwise: the caller frees it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPut(Block* block, uint size, nuint limit)
    {
        int c = ClassOf(size);
        int n = _count[c];
        if (n == Slots || Bytes + size > limit) return false;
        _entries[c * Slots + n] = Entry(size, block);
        _count[c] = (byte)(n + 1);
        _nonEmpty |= 1UL << c;
        Bytes += size;
        block->Info = Block.FlagCached;
        return true;
    }

    /// <summary>
    /// A cached block of at least <paramref name="bytes"/> (MinBlockBytes &lt;= bytes &lt;
    /// LimitBlockBytes), taken out of the cache (still flagged Cached): the smallest one of
    /// the class of <paramref name="bytes"/> that holds that much, else the smallest of the
    /// first non-empty class above, up to SearchClasses up; null if there is none.
    /// Inlined into its two callers (Heap.AllocateCachedSmall, thus Exports.MallocOwned, and
    /// Heap.AllocateWithRoom): the call and its frame cost bench/'s churn 2000000 564.28M
    /// against 563.09M instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Block* Take(nuint bytes)
    {
        int c = ClassOf(bytes);
        int n = _count[c];
        int first = c * Slots, best = -1;
        ulong least = Entry(bytes, null), bestEntry = ulong.MaxValue;
        for (int i = first; i < first + n; i++)
        {
            ulong entry = _entries[i];
            if (entry >= least && entry < bestEntry)
            {
                best = i;
                bestEntry = entry;
            }
        }
        if (best < 0)
        {
            ulong above = _nonEmpty & (~1UL << c); // c < 64: the classes above c, whose every block holds bytes
            if (above == 0) return null;
            int up = BitOperations.TrailingZeroCount(above);
            if (up - c > SearchClasses) return null;
            c = up;
            n = _count[c];
            first = c * Slots;
            best = first;
            bestEntry = _entries[first];
            for (int i = first + 1; i < first + n; i++)
            {
                ulong entry = _entries[i];
                if (entry < bestEntry)
                {
                    best = i;
                    bestEntry = entry;
                }
            }
        }
        return TakeSlot(c, n, best, bestEntry);
    }

    /// <summary>Takes <paramref name="entry"/>, at <paramref name="slot"/> of class <paramref name="c"/> (which holds <paramref name="n"/>), out: the last entry fills its place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block* TakeSlot(int c, int n, int slot, ulong entry)
    {
        Bytes -= SizeOf(entry);
        _entries[slot] = _entries[c * Slots + n - 1];
        _count[c] = (byte)(n - 1);
        if (n == 1) _nonEmpty &= ~(1UL << c);
        return BlockOf(entry);
    }

    /// <summary>Takes out a block of the first non-empty class (still flagged Cached), or null when the cache is empty (release only).</summary>
    public Block* TakeAny()
    {
        if (_nonEmpty == 0) return null;
        int c = BitOperations.TrailingZeroCount(_nonEmpty);
        int n = _count[c];
        int last = c * Slots + n - 1;
        return TakeSlot(c, n, last, _entries[last]);
    }

    /// <summary>Number of cached blocks (validation only): false in <paramref name="consistent"/> if an entry breaks an invariant.</summary>
    public readonly nuint CountSlow(out bool consistent)
    {
        consistent = true;
        nuint total = 0, bytes = 0;
        for (int c = 0; c < ClassCount; c++)
        {
            int n = _count[c];
            if (n > Slots || (n != 0) != ((_nonEmpty & (1UL << c)) != 0))
            {
                consistent = false;
                continue;
            }
            for (int i = c * Slots; i < c * Slots + n; i++)
            {
                Block* b = BlockOf(_entries[i]);
                uint size = SizeOf(_entries[i]);
                if (b == null || b->Info != Block.FlagCached || b->Size != size || size < MinBlockBytes || size >= LimitBlockBytes || ClassOf(size) != c)
                    consistent = false;
                bytes += size;
                total++;
            }
        }
        if (bytes != Bytes || bytes > MaxBytes) consistent = false;
        return total;
    }
}
