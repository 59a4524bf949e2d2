// The one list of counters. Every statistic the library reports is one of these, kept
// per heap in HeapCounters and updated under the heap lock; every output (the exit
// stats line, the managed API) reads them through this list and its names.
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
    Count,
}

internal static class CounterNames
{
    public static System.ReadOnlySpan<byte> Of(Counter counter) => counter switch
    {
        Counter.Mallocs => "mallocs"u8,
        Counter.Frees => "frees"u8,
        Counter.Reallocs => "reallocs"u8,
        Counter.ReallocsInPlace => "reallocs_in_place"u8,
        Counter.BytesRequested => "bytes_requested"u8,
        Counter.InUseBytes => "in_use_bytes"u8,
        Counter.PeakInUseBytes => "peak_bytes"u8,
        Counter.TinyZonesMapped => "zones_tiny"u8,
        Counter.SmallZonesMapped => "zones_small"u8,
        Counter.LargeZonesMapped => "zones_large"u8,
        Counter.TinyZonesUnmapped => "zones_tiny_unmapped"u8,
        Counter.SmallZonesUnmapped => "zones_small_unmapped"u8,
        Counter.LargeZonesUnmapped => "zones_large_unmapped"u8,
        Counter.MmapCalls => "mmap_calls"u8,
        Counter.MmapBytes => "mmap_bytes"u8,
        Counter.MunmapCalls => "munmap_calls"u8,
        Counter.MunmapBytes => "munmap_bytes"u8,
        Counter.MappedBytes => "mapped_bytes"u8,
        Counter.PeakMappedBytes => "peak_mapped_bytes"u8,
        Counter.MisuseDetected => "misuse_detected"u8,
        _ => "unknown"u8,
    };
}
