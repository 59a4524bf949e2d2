// A zone is one mapping owned by one heap. TINY and SMALL zones hold many blocks; a
// LARGE zone holds exactly one. The zone header sits at the start of the mapping.
//
// Layout of a TINY or SMALL zone (ZoneBytes long, aligned to ZoneBytes):
//   [Zone header][start bitmap: 1 bit per 16-byte granule][area: blocks ... ][tail: 16 bytes]
//   AreaStart is 16-byte aligned, so every block header and payload is too. The last
//   block's payload runs 8 bytes past AreaEnd (Block.cs), into the tail.
// Layout of a LARGE zone (whole 64 KiB chunks carved from a LARGE region, Heap.Large.cs;
// aligned to at least ZoneMap.ChunkBytes):
//   [Zone header][padding up to the requested alignment][payload ...]
//
// Invariants
//   every ZoneMap chunk inside [zone, zone + RegisteredBytes) maps to this zone: the whole
//   mapping for TINY/SMALL, only up to the payload's chunk for LARGE (registering every
//   chunk of a 64 TiB block would cost a billion writes; a pointer past the payload's
//   chunk cannot be a valid block start anyway, and no other mapping can lie there)
//   Owner's zone list of this Category contains this zone exactly once
//   BlockGranules == (AreaEnd - AreaStart) / 16 for TINY/SMALL and 0 for LARGE (written
//   when the zone is made: a LARGE zone's header may be carved from a freed block's bytes)
//   a TINY/SMALL zone whose area is one free block is "empty": at most one empty zone
//   per category per heap stays mapped (Heap.SpareZone), the others are unmapped
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Zone
{
    public Zone* Next;
    public Zone* Prev;
    public Heap* Owner;
    /// <summary>Bytes of the whole mapping.</summary>
    public nuint MappedBytes;
    public Category Category;
    /// <summary>LARGE only: set (compare-and-swap) by the thread that frees it remotely; catches a second free.</summary>
    public int RemoteFreed;
    /// <summary>TINY/SMALL: first block header. LARGE: the payload.</summary>
    public byte* AreaStart;
    /// <summary>TINY/SMALL: end of the last block. LARGE: end of the mapping.</summary>
    public byte* AreaEnd;
    /// <summary>LARGE only: bytes the caller asked for.</summary>
    public nuint LargeRequested;
    /// <summary>
    /// TINY/SMALL: granules of the area, so (block - AreaStart) / 16 &lt; BlockGranules says in
    /// one unsigned compare that a block address lies in the area. LARGE: 0, so that the same
    /// compare rejects every address (the free fast path relies on it: see the invariants).
    /// </summary>
    public nuint BlockGranules;
    /// <summary>TINY: the size class this zone serves (block bytes / 16, Heap.TinyClasses.cs); its free blocks are on that class's lists. 0 for SMALL and LARGE.</summary>
    public int TinyClass;

    /// <summary>Bytes after a TINY/SMALL zone's area: the last block's payload ends 8 bytes into them.</summary>
    public const nuint TailBytes = 16;

    /// <summary>Bytes of the header, rounded to the granule.</summary>
    public static nuint HeaderBytes => ((nuint)sizeof(Zone) + Categories.Granule - 1) & ~(Categories.Granule - 1);

    /// <summary>Bytes of the start bitmap of a zone of <paramref name="zoneBytes"/>, rounded to the granule.</summary>
    public static nuint BitmapBytes(nuint zoneBytes) => ((zoneBytes >> Categories.GranuleShift) / 8 + 15) & ~(nuint)15;

    /// <summary>Bytes from a TINY/SMALL zone's start to its AreaStart: the same for every zone of the category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint AreaOffset(Category category) => HeaderBytes + BitmapBytes(Categories.ZoneBytes(category));

    /// <summary>Bytes from a TINY/SMALL zone's start to its AreaEnd: the same for every zone of the category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint AreaEndOffset(Category category) => Categories.ZoneBytes(category) - TailBytes;

    /// <summary>Bytes from the zone start that the zone map covers (see the invariants).</summary>
    public static nuint RegisteredBytes(Zone* zone) =>
        zone->Category == Category.Large ? (nuint)(zone->AreaStart - (byte*)zone) + 1 : zone->MappedBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong* StartBits(Zone* zone) => (ulong*)((byte*)zone + HeaderBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* OfBlock(Block* block, Category category) =>
        (Zone*)((nuint)block & ~(Categories.ZoneBytes(category) - 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint GranuleIndex(Zone* zone, Block* block) =>
        (nuint)((byte*)block - zone->AreaStart) >> Categories.GranuleShift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MarkStart(Zone* zone, Block* block)
    {
        nuint i = GranuleIndex(zone, block);
        StartBits(zone)[i >> 6] |= 1UL << (int)(i & 63);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearStart(Zone* zone, Block* block)
    {
        nuint i = GranuleIndex(zone, block);
        StartBits(zone)[i >> 6] &= ~(1UL << (int)(i & 63));
    }

    /// <summary>
    /// True if <paramref name="block"/> is a block of this TINY/SMALL zone: in its area and
    /// on a set start bit (any address, aligned or not: false for LARGE zones, see
    /// BlockGranules). The offset from AreaStart (itself aligned) is rotated right by 4
    /// instead of shifted, so a misaligned address carries its low bits to the top and fails
    /// the bound: the free fast path needs no alignment test of its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlockStart(Zone* zone, Block* block) =>
        IsStartInArea(zone, (nuint)((byte*)block - zone->AreaStart), zone->BlockGranules);

    /// <summary>
    /// IsBlockStart for the zone of a zone-map entry whose tag's kind is <paramref name="kind"/>
    /// (ZoneTag.cs: 1 TINY, 2 SMALL; 0 for no zone or a LARGE one): the area's place and size
    /// are constants of the kind, taken out of a packed constant by a shift rather than
    /// branched on (a program that frees TINY and SMALL blocks in random order mispredicted
    /// the branch: larson-4t 0.10 -> 0.13 s) or read from a table (its page, away from the
    /// code, was one more fault in every process that frees: the textbook's test0 81 -> 83),
    /// so no zone header is read, only the start bitmap; kinds 0 and 3 have an empty area,
    /// so every address fails the bound before anything is read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlockStartOfKind(Zone* zone, nuint kind, Block* block)
    {
        int field = (int)kind * KindFieldBits;
        nuint offset = (nuint)(AreaOffsetsByKind >> field) & KindFieldMask;
        nuint granules = (nuint)(AreaGranulesByKind >> field) & KindFieldMask;
        return IsStartInArea(zone, (nuint)((byte*)block - (byte*)zone) - offset, granules);
    }

    /// <summary>Bits of each kind's field in AreaOffsetsByKind and AreaGranulesByKind (kind 3's field is the top 4 bits: 0).</summary>
    public const int KindFieldBits = 20;

    private const nuint KindFieldMask = ((nuint)1 << KindFieldBits) - 1;

    /// <summary>AreaOffset of each tag kind, KindFieldBits a kind (kinds 0 and 3: 0).</summary>
    public static ulong AreaOffsetsByKind
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get =>
            (ulong)AreaOffset(Category.Tiny) << KindFieldBits | (ulong)AreaOffset(Category.Small) << (2 * KindFieldBits);
    }

    /// <summary>Granules of each tag kind's area, KindFieldBits a kind (kinds 0 and 3: 0, an empty area).</summary>
    public static ulong AreaGranulesByKind
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (ulong)AreaGranules(Category.Tiny) << KindFieldBits | (ulong)AreaGranules(Category.Small) << (2 * KindFieldBits);
    }

    /// <summary>Granules of a TINY/SMALL zone's area: the same for every zone of the category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint AreaGranules(Category category) => (AreaEndOffset(category) - AreaOffset(category)) >> Categories.GranuleShift;

    /// <summary>True if the block <paramref name="offset"/> bytes into the area (any value) is on a set start bit of an area of <paramref name="granules"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsStartInArea(Zone* zone, nuint offset, nuint granules)
    {
        nuint i = BitOperations.RotateRight(offset, Categories.GranuleShift);
        return i < granules && (StartBits(zone)[i >> 6] & (1UL << (int)(i & 63))) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStart(Zone* zone, Block* block)
    {
        nuint i = GranuleIndex(zone, block);
        return (StartBits(zone)[i >> 6] & (1UL << (int)(i & 63))) != 0;
    }

    public static nuint AreaBytes(Zone* zone) => (nuint)(zone->AreaEnd - zone->AreaStart);
}
