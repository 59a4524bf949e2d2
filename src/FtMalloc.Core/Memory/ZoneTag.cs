// A zone-map entry is a Zone* whose low 16 bits (zones are 64 KiB-aligned, so a Zone*
// leaves them zero) carry a tag: the owner heap's id and the zone's kind. With it, free's
// fast path checks a block and its owner from the entry alone and reads no zone header.
//
//   tag = id << 2 | kind     kind: 1 TINY zone, 2 SMALL zone, 0 anything else (LARGE)
//   id  = 1 .. MaxId, one per heap, never reused; 0 for the zones of a heap created after
//         the ids ran out (and for LARGE zones): such entries never match a heap
//
// The fast path reads the zone's kind from the tag's low bits (kind 0, a null entry or a
// LARGE zone, fails before anything is read), checks the payload's start bit in the zone
// map's leaf (Zone.IsPayloadStartOfKind: no bound by kind, so no branch on the kind, which
// cost larson-4t, whose frees mix TINY and SMALL blocks at random, 30%),
// and last tells "a zone of mine" by one exclusive or with the tag its heap keeps
// for its TINY zones (Heap.TinyTag): tag ^ TinyTag is 0 for a TINY zone of that heap and
// 3 (1 ^ 2) for a SMALL one, and above 3 for any other heap's (SameHeap). A heap without an
// id has TinyTag None (0xFFFF), which no tag comes within 3 of: that would need a tag of
// 0xFFFC or more, id 0x3FFF, which is never handed out.
// The threaded free tests the owner last: tested first, the load of heap->TinyTag (the line
// the previous free wrote its bin into) sat ahead of the block's checks, and million's random
// frees ran about 10% slower. The single-thread free tests it first, against a static copy of
// its heap's tag (FastPaths.SoleHeapTag), and drops the kind test: a zone of its heap is TINY
// or SMALL, and kind 0's tag (0) is within 3 of no heap's (Exports.Free).
//
// Why: zones are aligned to their size (256 KiB for TINY), so all zone headers fall in the
// same few cache sets and, with hundreds of zones, a free that reads its zone's header
// (owner, area bounds) waits for a miss the block's own line does not have. Measured on
// bench/'s million (1,000,000 live blocks, 551 TINY zones) with a copy of the driver that
// times its phases: the frees of a random half of the blocks 105 -> 85 ms, the final
// random free of all of them 116 -> 84 ms, whether or not the start bitmap is read (that
// read costs nothing measurable: the header was the miss).
//
// Invariants (HeapValidator checks them)
//   every entry of a zone carries ZoneTag.Of(zone->Owner, zone->Category)
//   a heap's TinyTag is id << 2 | Tiny for its id, or None; ids are unique among heaps
using System.Runtime.CompilerServices;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

internal static unsafe class ZoneTag
{
    /// <summary>The tag bits of a zone-map entry.</summary>
    public const nuint Mask = ZoneMap.ChunkBytes - 1;

    public const uint Tiny = 1;
    public const uint Small = 2;
    public const nuint KindMask = 3;

    /// <summary>tag ^ heap->TinyTag for a SMALL zone of that heap (for a TINY one: 0).</summary>
    public const nuint OwnSmall = Tiny ^ Small;

    public const int IdShift = 2;

    /// <summary>Largest heap id: 0x3FFF is never handed out, so that None matches no tag.</summary>
    public const uint MaxId = (uint)(Mask >> IdShift) - 1;

    /// <summary>The TinyTag of a heap that has no id: tag ^ None is never 0 or 3.</summary>
    public const ushort None = 0xFFFF;

    /// <summary>The TinyTag of the heap with id <paramref name="id"/> (1, 2, ...: Heap.Create counts them), None once the ids ran out.</summary>
    public static ushort ForHeap(uint id) => id <= MaxId ? (ushort)(id << IdShift | Tiny) : None;

    /// <summary>The tag of a zone of <paramref name="category"/> owned by <paramref name="heap"/>.</summary>
    public static nuint Of(Heap* heap, Category category)
    {
        if (category == Category.Large) return 0;
        nuint id = heap->TinyTag == None ? 0 : (nuint)heap->TinyTag >> IdShift;
        return id << IdShift | (category == Category.Tiny ? Tiny : Small);
    }

    /// <summary>The tag bits of <paramref name="entry"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint In(nuint entry) => entry & Mask;

    /// <summary>True if tag and heapTag name the same heap (any kind): the threaded free's owner test.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool SameHeap(nuint tag, ushort heapTag) => (tag ^ heapTag) <= OwnSmall;

    /// <summary>SameHeap with the heap's tag already widened (FastPaths.SoleHeapTag).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool SameHeap(nuint tag, nuint heapTag) => (tag ^ heapTag) <= OwnSmall;
}
