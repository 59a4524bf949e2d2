// The zone map answers "which zone owns this address?" in O(1) without trusting the
// address: a two-level radix table over the 47-bit user address space, one entry per
// 64 KiB chunk. Every mapping the allocator makes is aligned to a chunk, so each chunk
// belongs to at most one zone. An address no zone covers reads null, so free() can
// reject pointers it never handed out before touching any memory near them.
//
//   root: 2^15 entries, one per 4 GiB of address space, each null or a leaf
//   leaf: 2^16 entries, one per 64 KiB chunk, each 0 or a Zone* with a tag in its low
//         16 bits (the owner heap's id and the zone's kind: ZoneTag.cs)
// The root and the leaves are mapped on first use; pages never touched cost nothing. The
// library maps the root when it is loaded (EnsureRoot), before it opens the fast paths,
// so the free fast path reads it without a null test (LeafWrapped).
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

    private static nint s_root; // nuint**, installed once by compare-and-swap

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* Lookup(void* address) => ZoneOf(Entry(address));

    /// <summary>The tagged entry of <paramref name="address"/>'s chunk (0 if no zone covers it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint Entry(void* address)
    {
        nuint a = (nuint)address;
        nuint rootIndex = a >> (ChunkShift + LeafBits);
        nuint** root = (nuint**)s_root;
        if (rootIndex >= RootEntries || root == null) return 0;
        nuint* leaf = root[rootIndex];
        if (leaf == null) return 0;
        return leaf[(a >> ChunkShift) & (LeafEntries - 1)];
    }

    /// <summary>The zone of a tagged entry (null for 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* ZoneOf(nuint entry) => (Zone*)(entry & ~ZoneTag.Mask);

    /// <summary>
    /// The leaf that would hold <paramref name="address"/>'s chunk, or null; an address at or
    /// above 2^47 is taken modulo 2^47. For the free fast path only, whose caller finds the
    /// zone in the leaf and then bounds the block by the zone's area (Zone.IsBlockStart), so a
    /// wrapped address is rejected there; and only once EnsureRoot succeeded (no null test).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint* LeafWrapped(nuint address) => ((nuint**)s_root)[(address >> (ChunkShift + LeafBits)) & (RootEntries - 1)];

    /// <summary>Maps the root if it is not there yet; false if the system said no.</summary>
    public static bool EnsureRoot()
    {
        if (s_root == 0) Install(ref s_root, RootEntries * (nuint)sizeof(void*));
        return s_root != 0;
    }

    /// <summary>The tagged entry of <paramref name="address"/>'s chunk in <paramref name="leaf"/> (from LeafWrapped), or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint EntryInLeaf(nuint* leaf, nuint address) => leaf[(address >> ChunkShift) & (LeafEntries - 1)];

    /// <summary>
    /// Points every chunk of [start, start + bytes) at <paramref name="zone"/> tagged with
    /// <paramref name="tag"/> (ZoneTag.Of; null and 0 to clear). False if a leaf could not be mapped.
    /// </summary>
    public static bool Register(void* start, nuint bytes, Zone* zone, nuint tag)
    {
        nuint entry = zone == null ? 0 : (nuint)zone | tag;
        for (nuint a = (nuint)start; a < (nuint)start + bytes; a += ChunkBytes)
        {
            nuint* leaf = LeafFor(a, create: zone != null);
            if (leaf == null)
            {
                if (zone != null) return false;
                continue;
            }
            Volatile.Write(ref leaf[(a >> ChunkShift) & (LeafEntries - 1)], entry);
        }
        return true;
    }

    public static void Unregister(void* start, nuint bytes) => Register(start, bytes, null, 0);

    /// <summary>Returns the leaf of address <paramref name="a"/>, mapping the root and the leaf when asked to create them.</summary>
    private static nuint* LeafFor(nuint a, bool create)
    {
        nuint rootIndex = a >> (ChunkShift + LeafBits);
        if (rootIndex >= RootEntries) return null;
        if (s_root == 0 && (!create || !EnsureRoot())) return null;
        nuint** root = (nuint**)s_root;
        // To create, read the slot with a compare-and-swap that changes nothing: a write
        // access, so an untouched page of the root faults in once, not twice (a plain read
        // maps the shared zero page, and the install then faults again to copy it).
        nuint* leaf = create ? (nuint*)Interlocked.CompareExchange(ref *(nint*)&root[rootIndex], 0, 0) : root[rootIndex];
        if (leaf == null && create)
            leaf = (nuint*)Install(ref *(nint*)&root[rootIndex], LeafEntries * (nuint)sizeof(nuint));
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
        nuint** root = (nuint**)s_root;
        if (root == null) return null;
        nuint a = after == 0 ? 0 : (after & ~(ChunkBytes - 1)) + ChunkBytes;
        while ((a >> (ChunkShift + LeafBits)) < RootEntries)
        {
            nuint* leaf = root[a >> (ChunkShift + LeafBits)];
            if (leaf == null)
            {
                a = ((a >> (ChunkShift + LeafBits)) + 1) << (ChunkShift + LeafBits);
                continue;
            }
            Zone* z = ZoneOf(leaf[(a >> ChunkShift) & (LeafEntries - 1)]);
            if (z != null && (nuint)z == a && (owner == null || z->Owner == owner)) return z;
            a += ChunkBytes;
        }
        return null;
    }
}
