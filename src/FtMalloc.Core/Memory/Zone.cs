// A zone is one mapping owned by one heap. TINY and SMALL zones hold many blocks; a
// LARGE zone holds exactly one. The zone header sits at the start of the mapping.
//
// Layout of a TINY or SMALL zone (ZoneBytes long, aligned to ZoneBytes):
//   [Zone header][start bitmap: 1 bit per 16-byte granule of the zone][area: blocks ... ][tail: 16 bytes]
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

    /// <summary>
    /// The start bitmap: bit i for the granule i * 16 bytes from the zone's start (not from
    /// AreaStart), so that a block's bit is found without the area's offset; the bits of the
    /// header's and the bitmap's own granules, and of the tail, are never set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong* StartBits(Zone* zone) => (ulong*)((byte*)zone + HeaderBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* OfBlock(Block* block, Category category) =>
        (Zone*)((nuint)block & ~(Categories.ZoneBytes(category) - 1));

    /// <summary>The start bit of <paramref name="block"/>: its granule counted from the zone's start (see StartBits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint GranuleIndex(Zone* zone, Block* block) =>
        (nuint)((byte*)block - (byte*)zone) >> Categories.GranuleShift;

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
        BitOperations.RotateRight((nuint)((byte*)block - zone->AreaStart), Categories.GranuleShift) < zone->BlockGranules
        && IsStartBitSet(zone, GranuleIndex(zone, block));

    /// <summary>
    /// IsBlockStart for the zone of a zone-map entry whose tag's kind is <paramref name="kind"/>
    /// (ZoneTag.cs: 1 TINY, 2 SMALL; 0 for no zone or a LARGE one), with no zone header read:
    /// the start bits count granules from the zone's start, so the one bound is a constant of
    /// both kinds (MaxZoneGranules). The block's address came from a chunk of the zone (the
    /// zone map said so), so it lies at most 16 bytes before the zone and below its end: before
    /// the zone it rotates to a huge index, and a TINY zone's indexes stay inside its smaller
    /// bitmap on their own. The header's and the bitmap's own granules never have a bit set.
    /// Kind 0 is rejected before anything is read. Until 2026-11-27 the area's place and size
    /// came out of a packed constant by the kind (Zone.AreaOffset below): 13 instructions a
    /// free more than this test of the kind and one compare.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlockStartOfKind(Zone* zone, nuint kind, Block* block)
    {
        nuint i = BitOperations.RotateRight((nuint)((byte*)block - (byte*)zone), Categories.GranuleShift);
        return kind != 0 && i < MaxZoneGranules && IsStartBitSet(zone, i);
    }

    /// <summary>Granules of the biggest TINY/SMALL zone (SMALL): a block's start granule in any such zone is below it.</summary>
    public const nuint MaxZoneGranules = Categories.SmallZoneBytes >> Categories.GranuleShift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsStartBitSet(Zone* zone, nuint i) => (StartBits(zone)[i >> 6] & (1UL << (int)(i & 63))) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStart(Zone* zone, Block* block) => IsStartBitSet(zone, GranuleIndex(zone, block));

    public static nuint AreaBytes(Zone* zone) => (nuint)(zone->AreaEnd - zone->AreaStart);
}
