// malloc_trim for one heap: give the system back every page the heap does not need now.
//   1. take in the blocks other threads freed, release the quick bins (their blocks merge
//      into free blocks) and the free LARGE extents (unmapped);
//   2. in every free block of every TINY/SMALL zone, the whole pages past the block's
//      header and free-list links (32 bytes) go back with madvise(MADV_DONTNEED): they
//      stay mapped and read as zero when touched again. Only pages mincore reports
//      resident are advised, so a second trim releases nothing and says so;
//   3. the empty spare zones are unmapped, unless pad (glibc: "free space to leave
//      untrimmed at the top of the heap") still covers them: spares are the top here.
// Returns true if anything went back. Called by the heap's owner (it changes the heap).
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    /// <summary>Bytes at the start of a free block that must stay: its header and its free-list links.</summary>
    private const nuint FreeBlockKeepBytes = Categories.PayloadOffset + 16;

    private const int MincorePages = 256;

    public static bool Trim(Heap* heap, nuint pad)
    {
        heap->Counters.Add(Counter.TrimCalls, 1);
        FlushRemoteBatch(heap);
        bool released = false;
        if (heap->Remote.IsPending) DrainRemoteFrees(heap);
        ReleaseQuickBins(heap);
        if (ReleaseLargeExtents(heap) != 0) released = true;
        for (Category c = Category.Tiny; c <= Category.Small; c++)
        {
            for (Zone* zone = ZoneListOf(heap, c); zone != null; zone = zone->Next)
            {
                for (Block* b = (Block*)zone->AreaStart; (byte*)b < zone->AreaEnd && b->Size != 0; b = Block.NextOf(b))
                {
                    if (b->IsFree && b->Size > FreeBlockKeepBytes && ReleaseResidentPages(heap, (byte*)b + FreeBlockKeepBytes, b->Size - FreeBlockKeepBytes))
                        released = true;
                }
            }
        }
        nuint keep = pad;
        for (Category c = Category.Tiny; c <= Category.Small; c++)
        {
            Zone* spare = c == Category.Tiny ? heap->TinySpare : heap->SmallSpare;
            if (spare == null || !IsEmpty(spare)) continue;
            if (keep >= spare->MappedBytes)
            {
                keep -= spare->MappedBytes;
                continue;
            }
            ListsOf(heap, spare)->Remove((Block*)spare->AreaStart);
            ReturnZone(heap, spare);
            released = true;
        }
        return released;
    }

    /// <summary>madvise(MADV_DONTNEED) on the resident whole pages inside [start, start + bytes); true if there were any.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static bool ReleaseResidentPages(Heap* heap, byte* start, nuint bytes)
    {
        nuint page = PageMemory.PageSize;
        nuint first = ((nuint)start + page - 1) & ~(page - 1);
        nuint end = ((nuint)start + bytes) & ~(page - 1);
        if (end <= first) return false;
        bool released = false;
        byte* resident = stackalloc byte[MincorePages];
        for (nuint chunk = first; chunk < end; chunk += MincorePages * page)
        {
            nuint chunkEnd = end - chunk > MincorePages * page ? chunk + MincorePages * page : end;
            nuint pages = (chunkEnd - chunk) / page;
            if (Libc.mincore((void*)chunk, chunkEnd - chunk, resident) != 0)
            {
                for (nuint i = 0; i < pages; i++) resident[i] = 1; // cannot tell: advise them all
            }
            nuint run = 0;
            for (nuint i = 0; i <= pages; i++)
            {
                if (i < pages && (resident[i] & 1) != 0)
                {
                    run++;
                    continue;
                }
                if (run == 0) continue;
                nuint runStart = chunk + (i - run) * page;
                int savedErrno = Libc.Errno;
                if (Libc.madvise((void*)runStart, run * page, Libc.MADV_DONTNEED) == 0)
                {
                    heap->Counters.Add(Counter.MadviseCalls, 1);
                    heap->Counters.Add(Counter.MadviseBytes, run * page);
                    released = true;
                }
                Libc.Errno = savedErrno;
                run = 0;
            }
        }
        return released;
    }
}
