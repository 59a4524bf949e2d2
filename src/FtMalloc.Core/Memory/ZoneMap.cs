// The zone map answers "which zone owns this address?" in O(1) without trusting the
// address: a two-level radix table over the 47-bit user address space, one entry per
// 64 KiB chunk. Every mapping the allocator makes is aligned to a chunk, so each chunk
// belongs to at most one zone. An address no zone covers reads null, so free() can
// reject pointers it never handed out before touching any memory near them.
//
//   root: 2^15 entries, one per 4 GiB of address space, each null or a leaf
//   leaf: 2^16 entries, one per 64 KiB chunk, each 0 or a Zone* with a tag in its low
//         16 bits (the owner heap's id and the zone's kind: ZoneTag.cs); then, in the same
//         mapping, the start bits of the leaf's 4 GiB: one bit per 16-byte granule, set
//         exactly where the payload of a TINY/SMALL block starts (32 MiB, touched only
//         where zones lie)
// Why the start bits live here and not in each zone's header: zones are aligned to their
// size, so bitmaps at their starts all fell into the same few cache sets, and free's read
// of its bit missed the 2 MB L2 in 78% of bench/'s million frees (callgrind's cache model:
// 312K of 400K); here the bits of neighbouring zones are neighbours (a 256 KiB zone's are
// 2 KiB), and the fast path finds its word from the leaf it already holds, without
// waiting for the entry. A bit marks the payload's granule, not the header's, so that the
// pointer handed to free finds its leaf and its bit alike (a header 16 bytes before a
// 4 GiB boundary would lie in the leaf before).
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

    /// <summary>Offset of a leaf's start bits from the leaf (after its entries).</summary>
    private const nuint StartBitsOffset = LeafEntries * sizeof(ulong);
    /// <summary>Bytes of a leaf's start bits: one bit per granule of its 4 GiB.</summary>
    private const nuint StartBitsBytes = (nuint)1 << (ChunkShift + LeafBits - 4 - 3);
    /// <summary>Bytes of a leaf's mapping.</summary>
    private const nuint LeafMappingBytes = StartBitsOffset + StartBitsBytes;

    /// <summary>
    /// The word of <paramref name="leaf"/>'s start bits (from LeafWrapped) that holds
    /// <paramref name="address"/>'s bit, bit (address / 16) mod 64 of it (StartBit): a word
    /// covers 1 KiB, so it never spans two zones (zones are whole chunks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong* StartWordInLeaf(nuint* leaf, nuint address) =>
        (ulong*)((byte*)leaf + StartBitsOffset + ((address >> 7) & (StartBitsBytes - sizeof(ulong))));

    /// <summary>The mask of <paramref name="address"/>'s bit in its StartWordInLeaf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong StartBit(nuint address) => 1UL << (int)(address >> 4);

    /// <summary>True if a payload starts at <paramref name="address"/>'s granule: a chunk of a registered zone (the leaf exists), else false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStartSet(nuint address)
    {
        nuint* leaf = LeafWrapped(address);
        return leaf != null && IsStartSetInLeaf(leaf, address);
    }

    /// <summary>IsStartSet with the leaf of <paramref name="address"/> (LeafWrapped, not null) at hand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStartSetInLeaf(nuint* leaf, nuint address) => (*StartWordInLeaf(leaf, address) & StartBit(address)) != 0;

    /// <summary>Sets the start bit of <paramref name="address"/>, a granule of a registered zone of the caller's heap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetStart(nuint address) => SetStart(LeafWrapped(address), address);

    /// <summary>SetStart with the leaf of <paramref name="address"/> (LeafWrapped) at hand: a zone's granules all share one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetStart(nuint* leaf, nuint address) => *StartWordInLeaf(leaf, address) |= StartBit(address);

    /// <summary>Clears the start bit of <paramref name="address"/>, a granule of a registered zone of the caller's heap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearStart(nuint address) => ClearStart(LeafWrapped(address), address);

    /// <summary>ClearStart with the leaf of <paramref name="address"/> (LeafWrapped) at hand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearStart(nuint* leaf, nuint address) => *StartWordInLeaf(leaf, address) &= ~StartBit(address);

    /// <summary>Clears every start bit of [start, start + bytes), a registered zone's mapping (chunk-aligned): whole pages of bits are given back.</summary>
    public static void ClearStarts(void* start, nuint bytes)
    {
        nuint a = (nuint)start;
        byte* bits = (byte*)StartWordInLeaf(LeafWrapped(a), a);
        nuint bitBytes = bytes >> 7;
        if (bitBytes < PageMemory.PageSize)
        {
            Libc.memset(bits, 0, bitBytes);
            return;
        }
        int savedErrno = Libc.Errno; // free never changes errno
        PageMemory.Release(bits, bitBytes); // whole pages: zones are aligned to their size
        Libc.Errno = savedErrno;
    }

    /// <summary>Start bits set in [start, start + bytes) (chunk-aligned, inside one leaf's 4 GiB; the invariant validator's count).</summary>
    public static nuint CountStarts(void* start, nuint bytes)
    {
        nuint a = (nuint)start;
        nuint* leaf = LeafWrapped(a);
        if (leaf == null) return 0;
        ulong* words = StartWordInLeaf(leaf, a);
        nuint count = 0;
        for (nuint i = 0; i < bytes >> 10; i++) count += (nuint)System.Numerics.BitOperations.PopCount(words[i]);
        return count;
    }

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
    /// above 2^47 is taken modulo 2^47. For callers that reject such an address themselves
    /// (Zone.IsPayloadAddress: then LeafOfPayload) or hold one of a registered zone (the
    /// start bits' writers), and only once EnsureRoot succeeded (no null test).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint* LeafWrapped(nuint address) => ((nuint**)s_root)[(address >> (ChunkShift + LeafBits)) & (RootEntries - 1)];

    /// <summary>LeafWrapped for an address below 2^47 (Zone.IsPayloadAddress, tested first by free's fast paths): no mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint* LeafOfPayload(nuint address) => ((nuint**)s_root)[address >> (ChunkShift + LeafBits)];

    /// <summary>Maps the root if it is not there yet; false if the system said no.</summary>
    public static bool EnsureRoot()
    {
        if (s_root == 0) Install(ref s_root, RootEntries * (nuint)sizeof(void*));
        return s_root != 0;
    }

    /// <summary>The tagged entry of <paramref name="address"/>'s chunk in <paramref name="leaf"/> (from LeafWrapped), or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint EntryInLeaf(nuint* leaf, nuint address) => leaf[(uint)address >> ChunkShift]; // a leaf is the low 32 bits' (ChunkShift + LeafBits == 32): a 32-bit shift needs no mask

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
            leaf = (nuint*)Install(ref *(nint*)&root[rootIndex], LeafMappingBytes);
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
