// LARGE blocks (above 128 KiB, or aligned beyond what a SMALL zone can give). Each is a zone
// of its own, as before: a header at the start of a chunk-aligned range, linked on
// LargeZones, its first chunk in the zone map. What changed is where the range comes from:
// the heap maps address space in regions of RegionBytes and carves blocks out of it in
// whole 64 KiB chunks; a freed block's range becomes a free extent (LargeExtents.cs) that
// the next LARGE request takes again with no system call and no page fault, because its
// pages are still resident ("dirty").
//
//   malloc   window = the smallest dirty extent that holds the block, else the window of a
//            run of free extents that covers the most dirty bytes, else a new region;
//            the clean (never touched or purged) parts of the window are then filled with
//            dirty pages moved in from other free extents by mremap: page tables move,
//            nothing is copied and nothing faults. The source stays mapped as a clean
//            extent (MREMAP_DONTUNMAP, Linux 5.13+), or its address space is given up.
//            Faulting the clean parts instead was measured worse: a move costs about 50
//            microseconds here (TLB flush), a fault 1.5, but a move carries 100s of pages.
//   free     the block's range becomes a dirty extent (merged with its neighbours); then
//            dirty bytes above the budget (LargeExtents.Budget: at most the recent peak of
//            the live LARGE bytes, plus 1/8, minus the live bytes; at most live + 16 MiB;
//            the peak's excess over the live bytes halves every second; in a heap whose
//            other bytes in use outweigh its live LARGE ones, at most the live bytes or two
//            of its largest blocks, whichever is more) are purged
//            with madvise(MADV_DONTNEED), highest addresses first, and clean address space
//            above twice max(RegionBytes, live bytes) is unmapped.
//   realloc  in place when the new size is LARGE and either smaller (the tail becomes a
//            free extent) or the free extents right after the block cover the growth;
//            else one mremap moves the block's pages to a new window and resizes it (the
//            block stays one mapping), else allocate and copy. Growth in place over clean
//            extents extends the block's mapping (munmap, then mremap in place) for the same reason.
// Resident LARGE memory stays within 1/8 of the program's own peak of live LARGE bytes,
// and a program that frees everything keeps at most 16 MiB of it (malloc_trim: nothing).
using System.Runtime.CompilerServices;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    /// <summary>1 once the kernel refused MREMAP_DONTUNMAP for anonymous memory (before 5.13).</summary>
    private static int s_dontUnmapRefused;

    /// <summary>
    /// Moves the pages of [<paramref name="from"/>, + <paramref name="bytes"/>) to
    /// <paramref name="to"/> with mremap (page tables move, no copy, no fault). Linux 5.13+
    /// keeps the source mapped, empty and clean (MREMAP_DONTUNMAP: no VMA is unmapped;
    /// <paramref name="keptSource"/>); older kernels refuse it once and get plain moves.
    /// MAP_FAILED if the kernel said no (the target is then still mapped:
    /// PageMemory.RestoreTarget); errno is kept either way.
    /// </summary>
    private static void* MovePages(nuint from, nuint bytes, nuint to, out bool keptSource)
    {
        int savedErrno = Libc.Errno;
        const int moveFlags = Libc.MREMAP_MAYMOVE | Libc.MREMAP_FIXED;
        void* moved = Libc.MAP_FAILED;
        keptSource = false;
        if (s_dontUnmapRefused == 0)
        {
            moved = Libc.mremap((void*)from, bytes, bytes, moveFlags | Libc.MREMAP_DONTUNMAP, (void*)to);
            keptSource = moved != Libc.MAP_FAILED;
            if (!keptSource && Libc.Errno == Libc.EINVAL) s_dontUnmapRefused = 1;
        }
        if (!keptSource) moved = Libc.mremap((void*)from, bytes, bytes, moveFlags, (void*)to);
        if (moved == Libc.MAP_FAILED) PageMemory.RestoreTarget((void*)to, bytes); // older kernels unmapped it
        Libc.Errno = savedErrno;
        return moved;
    }

    private static long NowMs()
    {
        Libc.Timespec t;
        Libc.clock_gettime(Libc.CLOCK_MONOTONIC_COARSE, &t);
        return t.Seconds * 1000 + t.Nanoseconds / 1_000_000;
    }

    private static byte* AllocateLarge(Heap* heap, nuint request, nuint alignment) => AllocateLarge(heap, request, alignment, out _);

    /// <summary>A LARGE block; <paramref name="dirtyBytes"/>: how many bytes from the payload on may hold old data (the rest reads as zero).</summary>
    [SkipLocalsInit]
    private static byte* AllocateLarge(Heap* heap, nuint request, nuint alignment, out nuint dirtyBytes)
    {
        dirtyBytes = 0;
        PageMemory.Initialize();
        nuint offset = (Zone.HeaderBytes + alignment - 1) & ~(alignment - 1);
        if (request > Categories.MaxRequest - offset) return null;
        nuint bytes = LargeExtents.RoundToChunks(offset + request);
        if (heap->Remote.IsPending) DrainRemoteFrees(heap);
        nuint dirtyEnd;
        Zone* zone = alignment <= ZoneMap.ChunkBytes
            ? (Zone*)CarveLarge(heap, bytes, out dirtyEnd)
            : MapAlignedLarge(heap, bytes, alignment, out dirtyEnd);
        if (zone == null) return null;
        zone->Owner = heap;
        zone->MappedBytes = bytes;
        zone->Category = Category.Large;
        zone->AreaStart = (byte*)zone + offset;
        zone->AreaEnd = (byte*)zone + bytes;
        zone->LargeRequested = request;
        zone->RemoteFreed = 0;
        zone->BlockGranules = 0; // the header may sit on a freed block's bytes: free's fast path must reject every address here
        if (!ZoneMap.Register(zone, Zone.RegisteredBytes(zone), zone, ZoneTag.Of(heap, Category.Large)))
        {
            FileFreeLarge(heap, (nuint)zone, bytes);
            return null;
        }
        LinkZone(heap, zone);
        heap->Large.AddLive(bytes, bytes, NowMs());
        heap->Counters.Add(Counter.Mallocs, 1);
        heap->Counters.Add(Counter.BytesRequested, request);
        heap->Counters.Add(Counter.BytesServed, (nuint)(zone->AreaEnd - zone->AreaStart));
        heap->Counters.AddWithPeak(Counter.InUseBytes, Counter.PeakInUseBytes, request);
        dirtyBytes = dirtyEnd > (nuint)zone->AreaStart ? dirtyEnd - (nuint)zone->AreaStart : 0;
        return zone->AreaStart;
    }

    /// <summary>Takes <paramref name="bytes"/> (whole chunks) from the free extents, mapping a region if none has room, and fills its clean parts with dirty pages.</summary>
    [SkipLocalsInit]
    private static void* CarveLarge(Heap* heap, nuint bytes, out nuint dirtyEnd)
    {
        dirtyEnd = 0;
        nuint start = heap->Large.FindWindow(bytes);
        if (start == 0)
        {
            if (!MapLargeRegion(heap, bytes)) return null;
            start = heap->Large.FindWindow(bytes);
            if (start == 0) return null;
        }
        nuint* clean = stackalloc nuint[2 * LargeExtents.Capacity];
        int pieces = heap->Large.Take(start, bytes, clean, out dirtyEnd);
        for (int p = 0; p < pieces; p++) FillFromDirty(heap, clean[2 * p], clean[2 * p + 1], ref dirtyEnd);
        return (void*)start;
    }

    /// <summary>
    /// Moves dirty pages of other free extents into [at, at + bytes) with mremap, so that a
    /// block placed on untouched address space does not fault: the smallest dirty extent that
    /// fills the gap, else the largest, from their ends. Stops when none is left; false if
    /// the system refused a move.
    /// </summary>
    private static bool FillFromDirty(Heap* heap, nuint at, nuint bytes, ref nuint dirtyEnd)
    {
        ref LargeExtents large = ref heap->Large;
        while (bytes != 0 && large.DirtyBytes != 0)
        {
            int i = large.DirtySource(bytes);
            nuint move = large.Bytes(i) < bytes ? large.Bytes(i) : bytes;
            nuint from = large.CutTail(i, move);
            void* moved = MovePages(from, move, at, out bool keptSource);
            if (moved == Libc.MAP_FAILED)
            {
                large.Insert(from, move, dirty: true); // nothing moved; it merges back where it was cut
                return false;
            }
            heap->Counters.Add(Counter.MremapCalls, 1);
            heap->Counters.Add(Counter.MremapBytes, move);
            if (keptSource) FileFreeLarge(heap, from, move, dirty: false);
            else heap->Counters.Subtract(Counter.MappedBytes, move); // the source address space is gone
            at += move;
            bytes -= move;
            if (at > dirtyEnd) dirtyEnd = at;
        }
        return true;
    }

    /// <summary>Maps a region for LARGE blocks (RegionBytes, or <paramref name="bytes"/> if more) as one clean extent.</summary>
    private static bool MapLargeRegion(Heap* heap, nuint bytes)
    {
        if (heap->Bins.Limit > heap->BinLimitBase) ReleaseQuickBins(heap); // grown bins: their memory goes back to the zones first
        nuint size = bytes > LargeExtents.RegionBytes ? bytes : LargeExtents.RegionBytes;
        void* region = PageMemory.Map(size, ZoneMap.ChunkBytes);
        if (region == null && size > bytes)
        {
            size = bytes; // the system may refuse the address space of a whole region
            region = PageMemory.Map(size, ZoneMap.ChunkBytes);
        }
        if (region == null) return false;
        CountLargeMapping(heap, size);
        FileFreeLarge(heap, (nuint)region, size, dirty: false);
        return true;
    }

    /// <summary>A block aligned beyond a chunk gets a mapping of its own (its range joins the free extents when freed).</summary>
    private static Zone* MapAlignedLarge(Heap* heap, nuint bytes, nuint alignment, out nuint dirtyEnd)
    {
        dirtyEnd = 0;
        Zone* zone = (Zone*)PageMemory.Map(bytes, alignment);
        if (zone != null) CountLargeMapping(heap, bytes);
        return zone;
    }

    private static void CountLargeMapping(Heap* heap, nuint bytes)
    {
        heap->Counters.Add(Counter.LargeZonesMapped, 1);
        heap->Counters.Add(Counter.MmapCalls, 1);
        heap->Counters.Add(Counter.MmapBytes, bytes);
        heap->Counters.AddWithPeak(Counter.MappedBytes, Counter.PeakMappedBytes, bytes);
    }

    /// <summary>Files a range as a free extent; when the table is full, the smallest extent (or this range) is unmapped instead.</summary>
    private static void FileFreeLarge(Heap* heap, nuint start, nuint bytes, bool dirty = true)
    {
        ref LargeExtents large = ref heap->Large;
        while (!large.Insert(start, bytes, dirty))
        {
            int smallest = large.Smallest();
            if (large.Bytes(smallest) >= bytes)
            {
                UnmapLargeRange(heap, start, bytes);
                return;
            }
            UnmapLargeExtent(heap, smallest);
        }
    }

    private static void UnmapLargeExtent(Heap* heap, int i)
    {
        nuint start = heap->Large.Remove(i, out nuint bytes);
        UnmapLargeRange(heap, start, bytes);
    }

    private static void UnmapLargeRange(Heap* heap, nuint start, nuint bytes)
    {
        heap->Counters.Add(Counter.LargeZonesUnmapped, 1);
        heap->Counters.Add(Counter.MunmapCalls, 1);
        heap->Counters.Add(Counter.MunmapBytes, bytes);
        heap->Counters.Subtract(Counter.MappedBytes, bytes);
        PageMemory.Unmap((void*)start, bytes);
    }

    /// <summary>A freed LARGE zone leaves the heap: its range becomes a free extent, then the heap keeps to its budget.</summary>
    private static void RetireLarge(Heap* heap, Zone* zone)
    {
        UnlinkZone(heap, zone);
        ZoneMap.Unregister(zone, Zone.RegisteredBytes(zone));
        nuint bytes = zone->MappedBytes;
        heap->Large.LiveBytes -= bytes;
        FileFreeLarge(heap, (nuint)zone, bytes);
        KeepLargeBudget(heap);
    }

    /// <summary>
    /// Purges dirty bytes above the budget (madvise, highest addresses first: the pages stay
    /// mapped and read as zero), then unmaps clean address space above 2 max(RegionBytes, live).
    /// </summary>
    private static void KeepLargeBudget(Heap* heap)
    {
        ref LargeExtents large = ref heap->Large;
        nuint budget = large.Budget(NowMs(), HeapCounters.InUseBytes(CountersOf(heap)));
        while (large.DirtyBytes > budget)
        {
            int i = large.HighestDirty();
            nuint excess = LargeExtents.RoundToChunks(large.DirtyBytes - budget);
            nuint cut = excess < large.Bytes(i) ? excess : large.Bytes(i);
            nuint at = large.End(i) - cut;
            int savedErrno = Libc.Errno;
            Libc.madvise((void*)at, cut, Libc.MADV_DONTNEED);
            Libc.Errno = savedErrno;
            heap->Counters.Add(Counter.MadviseCalls, 1);
            heap->Counters.Add(Counter.MadviseBytes, cut);
            if (!large.MarkTailClean(i, cut)) UnmapLargeRange(heap, large.CutTail(i, cut), cut);
        }
        nuint keepClean = 2 * (large.LiveBytes > LargeExtents.RegionBytes ? large.LiveBytes : LargeExtents.RegionBytes);
        while (large.CleanBytes > keepClean) UnmapLargeExtent(heap, large.LargestClean());
    }

    /// <summary>Unmaps every free LARGE extent (adjacent ones in one call). Returns how many bytes went back.</summary>
    public static nuint ReleaseLargeExtents(Heap* heap)
    {
        ref LargeExtents large = ref heap->Large;
        nuint released = large.FreeBytes;
        while (large.Count != 0)
        {
            // The last run of adjacent extents goes back in one munmap.
            int first = large.Count - 1;
            while (first > 0 && large.End(first - 1) == large.Start(first)) first--;
            nuint start = large.Start(first), end = large.End(large.Count - 1);
            while (large.Count > first) large.Remove(large.Count - 1, out _);
            UnmapLargeRange(heap, start, end - start);
        }
        large.PeakBytes = large.LiveBytes;
        return released;
    }

    /// <summary>
    /// realloc of a LARGE block that cannot grow in place: a new range is carved (a clean one
    /// if one holds it: the moved pages would discard a dirty one's) and one mremap moves the
    /// block's pages to its front and resizes it: no copy, no fault (copying 200 KiB into
    /// clean pages takes about 110 microseconds here, a move 5 to 10). The block stays one
    /// mapping (the kernel's count of mappings per process is limited, 65,530 by default), its
    /// new tail reads as zero and faults when touched, and the old range's address space is
    /// given up. Returns the new payload, or null (nothing changed) when the caller should
    /// allocate and copy: the kernel refuses to resize a block that spans mappings (grown in
    /// place over dirty extents, or carved over several), and a copy makes it one again.
    /// </summary>
    [SkipLocalsInit]
    private static byte* TryMoveLarge(Heap* heap, Zone* zone, nuint request)
    {
        nuint mapped = zone->MappedBytes, offset = (nuint)(zone->AreaStart - (byte*)zone);
        if (Categories.Of(request) != Category.Large || offset >= ZoneMap.ChunkBytes) return null;
        if (request > Categories.MaxRequest - offset) return null;
        nuint bytes = LargeExtents.RoundToChunks(offset + request);
        if (bytes <= mapped) return null;
        ref LargeExtents large = ref heap->Large;
        nuint start = large.FindMoveWindow(bytes);
        if (start == 0)
        {
            if (!MapLargeRegion(heap, bytes)) return null;
            start = large.FindMoveWindow(bytes);
            if (start == 0) return null;
        }
        nuint* clean = stackalloc nuint[2 * LargeExtents.Capacity];
        large.Take(start, bytes, clean, out _);

        nuint old = (nuint)zone;
        // The new place is in the zone map before the header arrives there (a leaf may have to be mapped).
        if (!ZoneMap.Register((void*)start, offset + 1, (Zone*)start, ZoneTag.Of(heap, Category.Large)))
        {
            FileFreeLarge(heap, start, bytes); // put the window back (dirty: the safe side for calloc)
            return null;
        }
        if (PageMemory.Move((void*)old, mapped, bytes, (void*)start) == Libc.MAP_FAILED)
        {
            ZoneMap.Unregister((void*)start, offset + 1);
            FileFreeLarge(heap, start, bytes);
            return null;
        }
        heap->Counters.Add(Counter.MremapCalls, 1);
        heap->Counters.Add(Counter.MremapBytes, mapped);

        // The header moved with the pages (the old place is gone): relink the zone at its new place.
        ZoneMap.Unregister((void*)old, offset + 1);
        zone = (Zone*)start;
        Zone* next = zone->Next, prev = zone->Prev;
        if (prev != null) prev->Next = zone; else heap->LargeZones = zone;
        if (next != null) next->Prev = zone;
        zone->MappedBytes = bytes;
        zone->AreaStart = (byte*)zone + offset;
        zone->AreaEnd = (byte*)zone + bytes;
        heap->Counters.Subtract(Counter.MappedBytes, mapped); // the old address space is gone
        large.AddLive(bytes - mapped, bytes, NowMs());
        heap->Counters.Subtract(Counter.InUseBytes, zone->LargeRequested);
        heap->Counters.AddWithPeak(Counter.InUseBytes, Counter.PeakInUseBytes, request);
        zone->LargeRequested = request;
        KeepLargeBudget(heap);
        return zone->AreaStart;
    }

    /// <summary>
    /// realloc of a LARGE block in place: a smaller LARGE size gives its tail to the free
    /// extents; a bigger one takes the free extents right after the block if they reach.
    /// </summary>
    [SkipLocalsInit]
    private static bool TryResizeLargeInPlace(Heap* heap, Zone* zone, nuint request)
    {
        if (Categories.Of(request) != Category.Large) return false;
        nuint offset = (nuint)(zone->AreaStart - (byte*)zone);
        if (request > Categories.MaxRequest - offset) return false;
        nuint bytes = LargeExtents.RoundToChunks(offset + request);
        nuint mapped = zone->MappedBytes;
        if (bytes < mapped)
        {
            zone->MappedBytes = bytes;
            zone->AreaEnd = (byte*)zone + bytes;
            heap->Large.LiveBytes -= mapped - bytes;
            FileFreeLarge(heap, (nuint)zone + bytes, mapped - bytes);
            KeepLargeBudget(heap);
        }
        else if (bytes > mapped)
        {
            nuint at = (nuint)zone + mapped, grow = bytes - mapped;
            if (!heap->Large.Covers(at, grow, out nuint dirty)) return false;
            nuint* clean = stackalloc nuint[2 * LargeExtents.Capacity];
            nuint dirtyEnd;
            int pieces = heap->Large.Take(at, grow, clean, out dirtyEnd);
            if (dirty == 0)
            {
                // All clean: the block's mapping is extended over them, so that it stays one
                // mapping and its next move can resize it (TryMoveLarge).
                bool extended = PageMemory.Extend(zone, mapped, grow, out bool lost);
                heap->Counters.Add(Counter.MunmapCalls, 1);
                heap->Counters.Add(Counter.MunmapBytes, grow);
                heap->Counters.Add(Counter.MremapCalls, 1); // nothing moved: no MremapBytes
                if (!extended)
                {
                    heap->Counters.Add(Counter.MmapCalls, 1); // the bytes mapped again
                    if (lost)
                    {
                        heap->Counters.Subtract(Counter.MappedBytes, grow); // that address space is gone
                        return false;
                    }
                    heap->Counters.Add(Counter.MmapBytes, grow);
                }
            }
            else for (int p = 0; p < pieces; p++) FillFromDirty(heap, clean[2 * p], clean[2 * p + 1], ref dirtyEnd);
            zone->MappedBytes = bytes;
            zone->AreaEnd = (byte*)zone + bytes;
            heap->Large.AddLive(grow, bytes, NowMs());
        }
        heap->Counters.Subtract(Counter.InUseBytes, zone->LargeRequested);
        heap->Counters.AddWithPeak(Counter.InUseBytes, Counter.PeakInUseBytes, request);
        zone->LargeRequested = request;
        return true;
    }
}
