// A zone is one mapping owned by one heap. TINY and SMALL zones hold many blocks; a
// LARGE zone holds exactly one. The zone header sits at the start of the mapping.
//
// Layout of a TINY or SMALL zone (ZoneBytes long, aligned to ZoneBytes):
//   [Zone header][area: blocks ... ][tail: 16 bytes]
//   AreaStart is 16-byte aligned, so every block header and payload is too. The last
//   block's payload runs 8 bytes past AreaEnd (Block.cs), into the tail. Which granules
//   start a payload is kept in the zone map (ZoneMap.cs, the start bits), not here.
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
//   a TINY/SMALL zone's start bits are set exactly at its blocks' payloads, and none are set
//   in a chunk that is not a TINY/SMALL zone's (ReturnZone clears them)
//   a TINY/SMALL zone whose area is one free block is "empty": at most one empty zone
//   per category per heap stays mapped (Heap.SpareZone), the others are unmapped
//   SMALL: no byte at or past TouchedEnd was written since the zone was mapped or its top
//   last trimmed, except by a block that was the zone's last when it was allocated or
//   grown (a zone filled to its end; its pages are then only not trimmed) (Heap.NoteTopTouched,
//   Heap.TrimTop: a trim advises only pages inside the free top block, whatever TouchedEnd says)
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
    /// <summary>
    /// SMALL: bytes from the zone's start past which no page has been touched since the zone
    /// was mapped or its top last trimmed (an upper bound; Heap.TrimTop). In the padding
    /// after TinyClass: the header stays 80 bytes.
    /// </summary>
    public uint TouchedEnd;

    /// <summary>Bytes after a TINY/SMALL zone's area: the last block's payload ends 8 bytes into them.</summary>
    public const nuint TailBytes = 16;

    /// <summary>Bytes of the header, rounded to the granule: the area starts right after it.</summary>
    public static nuint HeaderBytes => ((nuint)sizeof(Zone) + Categories.Granule - 1) & ~(Categories.Granule - 1);

    /// <summary>Bytes from a TINY/SMALL zone's start to its AreaStart: the same for every zone of the category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint AreaOffset(Category category) => HeaderBytes;

    /// <summary>Bytes from a TINY/SMALL zone's start to its AreaEnd: the same for every zone of the category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint AreaEndOffset(Category category) => Categories.ZoneBytes(category) - TailBytes;

    /// <summary>Bytes from the zone start that the zone map covers (see the invariants).</summary>
    public static nuint RegisteredBytes(Zone* zone) =>
        zone->Category == Category.Large ? (nuint)(zone->AreaStart - (byte*)zone) + 1 : zone->MappedBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Zone* OfBlock(Block* block, Category category) =>
        (Zone*)((nuint)block & ~(Categories.ZoneBytes(category) - 1));

    /// <summary>Records that <paramref name="block"/> (of a registered TINY/SMALL zone of the caller's heap) starts a block: its payload's start bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MarkStart(Block* block) => ZoneMap.SetStart((nuint)Block.PayloadOf(block));

    /// <summary>Forgets that <paramref name="block"/> starts a block (it merged into the block before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearStart(Block* block) => ZoneMap.ClearStart((nuint)Block.PayloadOf(block));

    /// <summary>
    /// True if <paramref name="block"/> is a block of this TINY/SMALL zone: in its area and
    /// on a set start bit (any address, aligned or not: false for LARGE zones, see
    /// BlockGranules). The offset from AreaStart (itself aligned) is rotated right by 4
    /// instead of shifted, so a misaligned address carries its low bits to the top and fails
    /// the bound.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlockStart(Zone* zone, Block* block) =>
        BitOperations.RotateRight((nuint)((byte*)block - zone->AreaStart), Categories.GranuleShift) < zone->BlockGranules
        && IsStart(block);

    /// <summary>
    /// True if <paramref name="address"/> (any address, handed to free) could be a payload:
    /// 16-byte aligned and below 2^47. Tested first, so that the zone map's root is indexed
    /// without a mask (ZoneMap.LeafOfPayload).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPayloadAddress(nuint address) => ((ulong)address & NotPayloadBits) == 0;

    /// <summary>
    /// True if <paramref name="payload"/> (IsPayloadAddress) is where a block's payload
    /// starts, for a zone-map entry found in <paramref name="leaf"/> whose tag's kind is
    /// <paramref name="kind"/> (ZoneTag.cs: 1 TINY, 2 SMALL; 0 for no zone or a LARGE one),
    /// with no zone header read: the start bits say it alone (set only at the payloads of
    /// TINY/SMALL blocks, so the zone header's and tail's granules, or any other chunk's, fail).
    /// The bit's word is found from the leaf, not the entry: the two loads go out together.
    /// Kind 0 is rejected before the word is read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPayloadStartOfKind(nuint* leaf, nuint kind, nuint payload) =>
        kind != 0 && ZoneMap.IsStartSetInLeaf(leaf, payload);

    /// <summary>Bits no payload address has: at or above 2^47, or inside a granule.</summary>
    private const ulong NotPayloadBits = ~((1UL << 47) - 1) | (ulong)(Categories.Granule - 1);

    /// <summary>True if <paramref name="block"/>'s payload granule has its start bit (the block lies in a registered TINY/SMALL zone).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsStart(Block* block) => ZoneMap.IsStartSet((nuint)Block.PayloadOf(block));

    public static nuint AreaBytes(Zone* zone) => (nuint)(zone->AreaEnd - zone->AreaStart);
}
