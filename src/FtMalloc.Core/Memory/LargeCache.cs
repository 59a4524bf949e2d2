// The LARGE mapping cache: a heap keeps a few of its recently freed LARGE mappings and
// hands one out again for a later LARGE request of about the same size, instead of
// unmapping it and mapping (and faulting in) a fresh one. Programs that churn big buffers
// (64 KB .. 4 MB) then run at the speed of allocators that never give memory back, while
// the cache stays small: at most Capacity mappings, each at most MaxEntryBytes, and never
// more bytes than the heap's live LARGE blocks (at least MinBudgetBytes). A request takes
// the smallest cached mapping that fits it, and the pages it does not need beyond one
// chunk are unmapped at once (its resident pages are what saves the page faults).
//
// A cached mapping is unlinked from the heap and out of the zone map, so it is invisible
// to show_alloc_mem and a second free of its old pointer is reported as invalid. It still
// counts as mapped; the cache is emptied when its thread exits and on malloc_trim.
//
// Invariants
//   _zones[0 .. Count) are cached LARGE zones of this heap, oldest first
//   Bytes == sum of their MappedBytes <= max(MinBudgetBytes, LiveBytes)
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.Memory;

internal unsafe struct LargeCache
{
    public const int Capacity = 8;
    public const nuint MaxEntryBytes = 32 * 1024 * 1024;
    public const nuint MinBudgetBytes = 16 * 1024 * 1024;

    private fixed ulong _zones[Capacity];
    public int Count;
    /// <summary>Mapped bytes of the cached zones.</summary>
    public nuint Bytes;
    /// <summary>Mapped bytes of the heap's live LARGE zones.</summary>
    public nuint LiveBytes;

    public readonly nuint Budget => LiveBytes > MinBudgetBytes ? LiveBytes : MinBudgetBytes;

    /// <summary>Unlinks and returns the smallest cached zone of at least <paramref name="bytes"/>, or null (the caller trims what it does not need).</summary>
    public Zone* TakeFit(nuint bytes)
    {
        int best = -1;
        nuint bestBytes = 0;
        for (int i = 0; i < Count; i++)
        {
            nuint size = ((Zone*)_zones[i])->MappedBytes;
            if (size >= bytes && (best < 0 || size < bestBytes))
            {
                best = i;
                bestBytes = size;
            }
        }
        return best < 0 ? null : RemoveAt(best);
    }

    /// <summary>Adds a zone if it may be cached (the caller makes room first with <see cref="RemoveOldest"/>).</summary>
    public bool TryAdd(Zone* zone)
    {
        if (Count == Capacity || zone->MappedBytes > MaxEntryBytes || Bytes + zone->MappedBytes > Budget) return false;
        _zones[Count++] = (ulong)zone;
        Bytes += zone->MappedBytes;
        return true;
    }

    /// <summary>True if making room (evicting the oldest entries) could let a zone of <paramref name="bytes"/> in.</summary>
    public readonly bool CouldHold(nuint bytes) => bytes <= MaxEntryBytes && bytes <= Budget;

    public Zone* RemoveOldest() => Count == 0 ? null : RemoveAt(0);

    private Zone* RemoveAt(int index)
    {
        Zone* zone = (Zone*)_zones[index];
        for (int i = index; i < Count - 1; i++) _zones[i] = _zones[i + 1];
        Count--;
        Bytes -= zone->MappedBytes;
        return zone;
    }
}
