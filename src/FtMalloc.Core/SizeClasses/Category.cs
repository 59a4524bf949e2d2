// Requests fall into three categories by size. TINY and SMALL blocks are carved out of
// zones mapped ahead of need; each LARGE block is a zone of its own, carved in whole 64 KiB
// chunks out of the heap's LARGE regions (Memory/Heap.Large.cs).
//
// Thresholds, chosen by measurement (bench/): the common sizes of real programs (strings,
// nodes, small vectors: 16..512 bytes, then buffers and tables up to 128 KiB, glibc's
// mmap threshold) never reach mmap. With SMALL up to 32 KiB, python3's growing dicts and
// lists took 1,535 LARGE mappings and 256K page faults in bench/'s python workload; with
// 128 KiB, 144 mappings and 150K faults, 15% faster. Zones stay virtual until touched:
//   TINY   request <= 512 bytes    zone 256 KiB (>= 100 blocks of 528 bytes + metadata)
//   SMALL  request <= 128 KiB     zone 16 MiB  (>= 100 blocks of 131,088 bytes + metadata)
//   LARGE  anything bigger         a zone of its own, rounded up to whole 64 KiB chunks
// Zone sizes are powers of two and each zone is aligned to its own size, so the zone of
// any block inside it is `address & ~(ZoneBytes - 1)`.
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.SizeClasses;

internal enum Category : uint
{
    Tiny = 0,
    Small = 1,
    Large = 2,
}

internal static class Categories
{
    /// <summary>Bytes. Every block and every pointer handed out is aligned to this.</summary>
    public const nuint Granule = 16;
    public const int GranuleShift = 4;

    /// <summary>Bytes from a TINY or SMALL block's address to its payload (Memory/Block.cs).</summary>
    public const nuint PayloadOffset = 16;

    /// <summary>
    /// Bytes a TINY or SMALL block costs beyond its payload: its header is 16 bytes, but the
    /// first 8 lie in the block before (Memory/Block.cs), and its payload runs 8 bytes into
    /// the next one, so a block of n bytes serves n - 8.
    /// </summary>
    public const nuint BlockOverheadBytes = 8;

    /// <summary>Bytes: a free block must hold its header and its two free-list links.</summary>
    public const nuint MinBlockBytes = 32;

    public const nuint TinyMaxRequest = 512;
    public const nuint SmallMaxRequest = 128 * 1024;

    /// <summary>
    /// 256 KiB (was 64 KiB): a program that fills a few zones with small objects and empties
    /// them again maps and unmaps them four times less often (python3 under bench/: minor
    /// faults 33.3K -> 30.1K, same peak RSS); still whole pages and far over 100 blocks.
    /// </summary>
    public const nuint TinyZoneBytes = 256 * 1024;
    public const nuint SmallZoneBytes = 16 * 1024 * 1024;

    /// <summary>Largest request the C ABI accepts: PTRDIFF_MAX, less room for headers and page rounding.</summary>
    public static nuint MaxRequest => unchecked((nuint)(long.MaxValue - 2 * 1024 * 1024));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Category Of(nuint request) =>
        request <= TinyMaxRequest ? Category.Tiny : request <= SmallMaxRequest ? Category.Small : Category.Large;

    /// <summary>Bytes of the block that serves <paramref name="request"/> bytes: request + 8 rounded up to 16, at least MinBlockBytes; request &lt;= SmallMaxRequest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint BlockBytesFor(nuint request)
    {
        nuint bytes = (request + BlockOverheadBytes + Granule - 1) & ~(Granule - 1);
        return bytes < MinBlockBytes ? MinBlockBytes : bytes;
    }

    /// <summary>Largest block a zone of this category hands out for one request.</summary>
    public static nuint MaxBlockBytes(Category category) =>
        BlockBytesFor(category == Category.Tiny ? TinyMaxRequest : SmallMaxRequest);

    public static nuint ZoneBytes(Category category) =>
        category == Category.Tiny ? TinyZoneBytes : SmallZoneBytes;
}
