// The zone map answers "which zone owns this address?" in O(1) without trusting the
// address: a two-level radix table over the 47-bit user address space, one entry per
// 64 KiB chunk. Every mapping the allocator makes is aligned to a chunk, so each chunk
// belongs to at most one zone. An address no zone covers reads null, so free() can
// reject pointers it never handed out before touching any memory near them.
//
//   root: 2^15 entries, one per 4 GiB of address space, each null or a leaf
//   leaf: 2^16 entries, one per 64 KiB chunk, each null or a Zone*
// The root is a static array (256 KiB of zeroes in .bss: a lookup needs no pointer load
// and no null test, and pages never touched cost nothing); leaves are mapped on first use.
// Entries are written by the heap that owns the zone, under its lock; leaves are
// installed with a compare-and-swap, so heaps never need a shared lock here.
// The map is process-wide: every heap registers its zones in it.
using System.Runtime.CompilerServices;
using System.Threading;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.Memory;

internal static unsafe class ZoneMap
{
    public const int ChunkShift = 16;
    public const nuint ChunkBytes = (nuint)1 << ChunkShift;
    private const int LeafBits = 16;
    private const int RootBits = 47 - ChunkShift - LeafBits;
    private const nuint LeafEntries = (nuint)1 << LeafBits;
    private const nuint RootEntries = (nuint)1 << RootBits;

    private static RootTable s_root;

    private struct RootTable
    {
        public fixed ulong Leaves[(int)RootEntries]; // Zone**, each installed once by compare-and-swap
    }

    private static Zone*** Root
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Zone***)Unsafe.AsPointer(ref s_root.Leaves[0]); // statics never move: no pinning needed
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* Lookup(void* address)
    {
        nuint a = (nuint)address;
        nuint rootIndex = a >> (ChunkShift + LeafBits);
        if (rootIndex >= RootEntries) return null;
        Zone** leaf = Root[rootIndex];
        if (leaf == null) return null;
        return leaf[(a >> ChunkShift) & (LeafEntries - 1)];
    }

    /// <summary>
    /// The leaf that would hold <paramref name="address"/>'s chunk, or null; an address at or
    /// above 2^47 is taken modulo 2^47. For the free fast path only, whose caller finds the
    /// zone in the leaf and then bounds the block by the zone's area (Zone.IsBlockStart), so a
    /// wrapped address is rejected there. One load, one test: Lookup's shape without its range check.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone** LeafWrapped(nuint address) => Root[(address >> (ChunkShift + LeafBits)) & (RootEntries - 1)];

    /// <summary>The zone of <paramref name="address"/>'s chunk in <paramref name="leaf"/> (from LeafWrapped), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* InLeaf(Zone** leaf, nuint address) => leaf[(address >> ChunkShift) & (LeafEntries - 1)];

    /// <summary>Points every chunk of [start, start + bytes) at <paramref name="zone"/> (null to clear). False if a leaf could not be mapped.</summary>
    public static bool Register(void* start, nuint bytes, Zone* zone)
    {
        for (nuint a = (nuint)start; a < (nuint)start + bytes; a += ChunkBytes)
        {
            Zone** leaf = LeafFor(a, create: zone != null);
            if (leaf == null)
            {
                if (zone != null) return false;
                continue;
            }
            Volatile.Write(ref *(nuint*)&leaf[(a >> ChunkShift) & (LeafEntries - 1)], (nuint)zone);
        }
        return true;
    }

    public static void Unregister(void* start, nuint bytes) => Register(start, bytes, null);

    /// <summary>Returns the leaf of address <paramref name="a"/>, mapping the root and the leaf when asked to create them.</summary>
    private static Zone** LeafFor(nuint a, bool create)
    {
        nuint rootIndex = a >> (ChunkShift + LeafBits);
        if (rootIndex >= RootEntries) return null;
        Zone*** root = Root;
        Zone** leaf = root[rootIndex];
        if (leaf == null && create)
            leaf = (Zone**)Install(ref *(nint*)&root[rootIndex], LeafEntries * (nuint)sizeof(void*));
        return leaf;
    }

    private static void* Install(ref nint slot, nuint bytes)
    {
        void* fresh = PageMemory.Map(PageMemory.RoundUpToPages(bytes), PageMemory.PageSize);
        if (fresh == null) return null;
        void* raced = (void*)Interlocked.CompareExchange(ref slot, (nint)fresh, 0);
        if (raced == null) return fresh;
        PageMemory.Unmap(fresh, PageMemory.RoundUpToPages(bytes));
        return raced;
    }

    /// <summary>
    /// Visits the chunks that start a zone, in increasing address order: the zone-map
    /// walk that gives show_alloc_mem its order without sorting or allocating.
    /// Returns the next zone of <paramref name="owner"/> (any owner if null) starting above
    /// <paramref name="after"/>, or null.
    /// </summary>
    public static Zone* NextZoneAbove(nuint after, Heap* owner)
    {
        Zone*** root = Root;
        nuint a = after == 0 ? 0 : (after & ~(ChunkBytes - 1)) + ChunkBytes;
        while ((a >> (ChunkShift + LeafBits)) < RootEntries)
        {
            Zone** leaf = root[a >> (ChunkShift + LeafBits)];
            if (leaf == null)
            {
                a = ((a >> (ChunkShift + LeafBits)) + 1) << (ChunkShift + LeafBits);
                continue;
            }
            Zone* z = leaf[(a >> ChunkShift) & (LeafEntries - 1)];
            if (z != null && (nuint)z == a && (owner == null || z->Owner == owner)) return z;
            a += ChunkBytes;
        }
        return null;
    }
}
