// The one list of counters. Every statistic the library reports is one of these, kept
// per heap in HeapCounters and updated by the heap's owner with plain increments (no
// lock, no atomic: see HeapCounters). Every output reads them through this list and its
// table (Describe): the exit stats line and the human report (StatsLine, StatsReport),
// malloc_stats, malloc_info's XML, mallinfo, the JSON snapshot and the managed API's
// Statistics(). A new counter needs an enum member and a row in Describe, nothing else.
//
// The first 20 names are the stats line's original fields; tools parse the line by name
// (FtMalloc.Cli/Stats/StatsLine.cs), so names are never renamed and new counters are
// appended after them.
//
// Kinds: a Total only grows; a Now goes up and down; a Peak is the largest value its Now
// companion reached in this heap. Summed over a process's heaps, a Peak is an upper bound.
namespace FtMalloc.Core.Stats;

internal enum Counter
{
    Mallocs,            // successful allocations, any entry point
    Frees,              // blocks given back, any entry point
    Reallocs,           // successful realloc calls that kept or moved a block
    ReallocsInPlace,    // of which the block stayed where it was
    BytesRequested,     // total over the process
    InUseBytes,         // requested bytes of the blocks allocated now
    PeakInUseBytes,     // maximum of InUseBytes
    TinyZonesMapped,
    SmallZonesMapped,
    LargeZonesMapped,
    TinyZonesUnmapped,
    SmallZonesUnmapped,
    LargeZonesUnmapped,
    MmapCalls,
    MmapBytes,
    MunmapCalls,
    MunmapBytes,
    MappedBytes,        // mapped now
    PeakMappedBytes,
    MisuseDetected,     // invalid and double frees caught
    // ---- appended after the original stats line's fields ----
    BytesServed,        // usable bytes of the blocks handed out (>= requested)
    CallsMalloc,        // calls per C entry point (glibc's __libc_* aliases count as their base name)
    CallsFree,          // free and cfree, free(NULL) included
    CallsCalloc,
    CallsRealloc,
    CallsReallocArray,
    CallsPosixMemalign,
    CallsAlignedAlloc,
    CallsMemalign,
    CallsValloc,
    CallsPvalloc,
    CallsMallocUsableSize,
    CallsFreeSized,
    CallsFreeAlignedSized,
    TrimCalls,          // malloc_trim
    MadviseCalls,       // madvise(MADV_DONTNEED) calls: malloc_trim, and purges of freed LARGE memory
    MadviseBytes,       // bytes they gave back (resident bytes for malloc_trim; at most that for purges)
    MremapCalls,        // LARGE pages moved by mremap (under a new block instead of faulting fresh ones, or a realloc'd block), and LARGE mappings extended in place
    MremapBytes,        // bytes they moved
    TinyHolesBorrowed,  // free blocks a TINY size class took from another class's zone (Heap.TinyClasses.cs)
    TinySpareTakenOver, // times the empty spare TINY zone went to another size class instead of a new zone being mapped
    MallocHeapLookups,  // mallocs whose fast path found no heap for the caller (its first, or every one if the fast paths are shut): the full path looked it up
    Count,
}

/// <summary>The sections of the human report, in the order it prints them.</summary>
internal enum CounterGroup
{
    Calls,
    Blocks,
    Bytes,
    Zones,
    System,
    Misuse,
    Count,
}

internal enum CounterKind
{
    Total,
    Now,
    Peak,
}

/// <summary>One row of the counter table.</summary>
internal readonly ref struct CounterInfo
{
    /// <summary>The machine name: a key of the stats line, the snapshot JSON and malloc_info's XML.</summary>
    public readonly System.ReadOnlySpan<byte> Name;
    /// <summary>The words of the human report (StatsReport, malloc_stats).</summary>
    public readonly System.ReadOnlySpan<byte> Label;
    public readonly CounterGroup Group;
    public readonly CounterKind Kind;

    public CounterInfo(System.ReadOnlySpan<byte> name, System.ReadOnlySpan<byte> label, CounterGroup group, CounterKind kind)
    {
        Name = name;
        Label = label;
        Group = group;
        Kind = kind;
    }
}

internal static class CounterNames
{
    public static System.ReadOnlySpan<byte> Of(Counter counter) => Describe(counter).Name;

    /// <summary>The table: name, label, group and kind of every counter.</summary>
    public static CounterInfo Describe(Counter counter) => counter switch
    {
        Counter.Mallocs => new("mallocs"u8, "allocated"u8, CounterGroup.Blocks, CounterKind.Total),
        Counter.Frees => new("frees"u8, "freed"u8, CounterGroup.Blocks, CounterKind.Total),
        Counter.Reallocs => new("reallocs"u8, "reallocated"u8, CounterGroup.Blocks, CounterKind.Total),
        Counter.ReallocsInPlace => new("reallocs_in_place"u8, "reallocated in place"u8, CounterGroup.Blocks, CounterKind.Total),
        Counter.BytesRequested => new("bytes_requested"u8, "requested"u8, CounterGroup.Bytes, CounterKind.Total),
        Counter.InUseBytes => new("in_use_bytes"u8, "in use now"u8, CounterGroup.Bytes, CounterKind.Now),
        Counter.PeakInUseBytes => new("peak_bytes"u8, "in use at peak"u8, CounterGroup.Bytes, CounterKind.Peak),
        Counter.TinyZonesMapped => new("zones_tiny"u8, "tiny mapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.SmallZonesMapped => new("zones_small"u8, "small mapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.LargeZonesMapped => new("zones_large"u8, "large mapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.TinyZonesUnmapped => new("zones_tiny_unmapped"u8, "tiny unmapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.SmallZonesUnmapped => new("zones_small_unmapped"u8, "small unmapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.LargeZonesUnmapped => new("zones_large_unmapped"u8, "large unmapped"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.MmapCalls => new("mmap_calls"u8, "mmap calls"u8, CounterGroup.System, CounterKind.Total),
        Counter.MmapBytes => new("mmap_bytes"u8, "mmap bytes"u8, CounterGroup.System, CounterKind.Total),
        Counter.MunmapCalls => new("munmap_calls"u8, "munmap calls"u8, CounterGroup.System, CounterKind.Total),
        Counter.MunmapBytes => new("munmap_bytes"u8, "munmap bytes"u8, CounterGroup.System, CounterKind.Total),
        Counter.MappedBytes => new("mapped_bytes"u8, "mapped now"u8, CounterGroup.System, CounterKind.Now),
        Counter.PeakMappedBytes => new("peak_mapped_bytes"u8, "mapped at peak"u8, CounterGroup.System, CounterKind.Peak),
        Counter.MisuseDetected => new("misuse_detected"u8, "bad or double frees"u8, CounterGroup.Misuse, CounterKind.Total),
        Counter.BytesServed => new("bytes_served"u8, "served"u8, CounterGroup.Bytes, CounterKind.Total),
        Counter.CallsMalloc => new("calls_malloc"u8, "malloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsFree => new("calls_free"u8, "free"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsCalloc => new("calls_calloc"u8, "calloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsRealloc => new("calls_realloc"u8, "realloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsReallocArray => new("calls_reallocarray"u8, "reallocarray"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsPosixMemalign => new("calls_posix_memalign"u8, "posix_memalign"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsAlignedAlloc => new("calls_aligned_alloc"u8, "aligned_alloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsMemalign => new("calls_memalign"u8, "memalign"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsValloc => new("calls_valloc"u8, "valloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsPvalloc => new("calls_pvalloc"u8, "pvalloc"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsMallocUsableSize => new("calls_malloc_usable_size"u8, "malloc_usable_size"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsFreeSized => new("calls_free_sized"u8, "free_sized"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.CallsFreeAlignedSized => new("calls_free_aligned_sized"u8, "free_aligned_sized"u8, CounterGroup.Calls, CounterKind.Total),
        Counter.TrimCalls => new("trim_calls"u8, "malloc_trim calls"u8, CounterGroup.System, CounterKind.Total),
        Counter.MadviseCalls => new("madvise_calls"u8, "madvise calls"u8, CounterGroup.System, CounterKind.Total),
        Counter.MadviseBytes => new("madvise_bytes"u8, "madvise bytes"u8, CounterGroup.System, CounterKind.Total),
        Counter.MremapCalls => new("mremap_calls"u8, "mremap calls"u8, CounterGroup.System, CounterKind.Total),
        Counter.MremapBytes => new("mremap_bytes"u8, "mremap bytes"u8, CounterGroup.System, CounterKind.Total),
        Counter.TinyHolesBorrowed => new("tiny_holes_borrowed"u8, "tiny holes borrowed"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.TinySpareTakenOver => new("tiny_spare_taken_over"u8, "tiny spare taken over"u8, CounterGroup.Zones, CounterKind.Total),
        Counter.MallocHeapLookups => new("malloc_heap_lookups"u8, "malloc looked up its heap"u8, CounterGroup.Calls, CounterKind.Total),
        _ => new("unknown"u8, "unknown"u8, CounterGroup.Misuse, CounterKind.Total),
    };

    /// <summary>The heading of a section of the human report.</summary>
    public static System.ReadOnlySpan<byte> GroupName(CounterGroup group) => group switch
    {
        CounterGroup.Calls => "calls"u8,
        CounterGroup.Blocks => "blocks"u8,
        CounterGroup.Bytes => "bytes"u8,
        CounterGroup.Zones => "zones"u8,
        CounterGroup.System => "system"u8,
        _ => "misuse"u8,
    };
}
