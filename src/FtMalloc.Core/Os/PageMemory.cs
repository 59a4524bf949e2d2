// Whole pages from the kernel: every byte the allocator hands out comes from Map and
// goes back through Unmap or Release. Mappings are aligned to ZoneMap.ChunkBytes so
// that the zone map can find the owner of any address with two array reads.
namespace FtMalloc.Core.Os;

internal static unsafe class PageMemory
{
    /// <summary>The system page size in bytes, read at run time by <see cref="Initialize"/>.</summary>
    public static nuint PageSize;

    public static void Initialize()
    {
        if (PageSize != 0) return;
        nint size = Libc.getpagesize();
        PageSize = size > 0 ? (nuint)size : 4096;
    }

    public static nuint RoundUpToPages(nuint bytes) => (bytes + PageSize - 1) & ~(PageSize - 1);

    /// <summary>
    /// Maps <paramref name="bytes"/> (a multiple of the page size) of zeroed read-write
    /// memory aligned to <paramref name="alignment"/> (a power of two, at least a page).
    /// Returns null when the kernel refuses; errno is then ENOMEM.
    /// </summary>
    public static void* Map(nuint bytes, nuint alignment)
    {
        nuint span = bytes + alignment - PageSize;
        if (span < bytes) return null; // overflow
        void* raw = Libc.mmap(null, span, Libc.PROT_READ | Libc.PROT_WRITE,
                              Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (raw == Libc.MAP_FAILED) return null;
        nuint start = (nuint)raw;
        nuint aligned = (start + alignment - 1) & ~(alignment - 1);
        nuint head = aligned - start;
        nuint tail = span - head - bytes;
        if (head != 0) Libc.munmap(raw, head);
        if (tail != 0) Libc.munmap((void*)(aligned + bytes), tail);
        return (void*)aligned;
    }

    /// <summary>Gives a mapping back. Keeps errno: free() must never change it.</summary>
    public static void Unmap(void* start, nuint bytes)
    {
        int savedErrno = Libc.Errno;
        UnmapAfterForeignReads(start, bytes);
        Libc.Errno = savedErrno;
    }

    /// <summary>
    /// Moves the mapping [from, from + oldBytes) to [to, to + newBytes) with mremap
    /// (MREMAP_MAYMOVE | MREMAP_FIXED: page tables move, nothing is copied; a longer mapping
    /// reads as zero past the moved pages). The old range is gone afterwards, so this waits, as
    /// Unmap does, while a report walks. MAP_FAILED when the kernel refuses, for one when the
    /// old range spans more than one mapping (EFAULT): the old range is then unchanged, and
    /// the target range mapped (RestoreTarget). Keeps errno.
    /// </summary>
    public static void* Move(void* from, nuint oldBytes, nuint newBytes, void* to)
    {
        int savedErrno = Libc.Errno;
        WaitOutForeignReads();
        void* moved = Libc.mremap(from, oldBytes, newBytes, Libc.MREMAP_MAYMOVE | Libc.MREMAP_FIXED, to);
        AllowForeignReads();
        if (moved == Libc.MAP_FAILED) RestoreTarget(to, newBytes);
        Libc.Errno = savedErrno;
        return moved;
    }

    /// <summary>
    /// After an mremap with MREMAP_FIXED failed: makes sure [<paramref name="to"/>, +
    /// <paramref name="bytes"/>), a range the caller owns, is mapped. Linux up to at least 6.10 unmapped
    /// the target before it looked the source up (mremap_to: do_munmap, then vma_lookup; 6.18
    /// checks first), so a move refused for a source that spans
    /// mappings (EFAULT) left the target unmapped, and the allocator handed out that address
    /// space as free (a LARGE block there faulted: tests/native/moverefused.c under the
    /// oldmremap.so shim). Maps it again, fresh (reads as zero), without replacing anything:
    /// where the target is still mapped (later kernels) the kernel says EEXIST and nothing
    /// changes. Changes errno.
    /// </summary>
    public static void RestoreTarget(void* to, nuint bytes) => MapFreshAt(to, bytes);

    /// <summary>
    /// Maps [<paramref name="at"/>, + <paramref name="bytes"/>) fresh (reads as zero) without
    /// replacing anything: true if it did; false if something is mapped there (EEXIST) or the
    /// kernel said no. A kernel before 4.17 takes MAP_FIXED_NOREPLACE's address as a hint
    /// (something was mapped there): the mapping it made elsewhere is undone. Changes errno.
    /// </summary>
    private static bool MapFreshAt(void* at, nuint bytes)
    {
        void* again = Libc.mmap(at, bytes, Libc.PROT_READ | Libc.PROT_WRITE,
                                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED_NOREPLACE, -1, 0);
        if (again != Libc.MAP_FAILED && again != at) Libc.munmap(again, bytes);
        return again == at;
    }

    /// <summary>
    /// Extends the mapping that ends at <paramref name="start"/> + <paramref name="bytes"/> over
    /// the next <paramref name="more"/> bytes, which the caller owns and may be mapped: they are
    /// unmapped, then the mapping grows in place (mremap without MREMAP_MAYMOVE), so the range
    /// stays one mapping. False when the kernel refuses (the range spans mappings, or another
    /// thread mapped something there meanwhile): the next bytes are then mapped again, fresh
    /// (reading as zero), without replacing anything, or else <paramref name="lost"/> (their
    /// address space is no longer the caller's). Keeps errno.
    /// </summary>
    public static bool Extend(void* start, nuint bytes, nuint more, out bool lost)
    {
        int savedErrno = Libc.Errno;
        byte* next = (byte*)start + bytes;
        lost = false;
        Libc.munmap(next, more); // bytes nobody reads: no report walks there
        bool grown = Libc.mremap(start, bytes, bytes + more, 0, null) != Libc.MAP_FAILED;
        if (!grown) lost = !MapFreshAt(next, more);
        Libc.Errno = savedErrno;
        return grown;
    }

    /// <summary>
    /// Faults in, in one system call, the pages fully inside [start, start+bytes) that are not
    /// resident yet, as a write would (resident ones are left as they are); keeps errno.
    /// </summary>
    public static void Prefault(void* start, nuint bytes)
    {
        nuint first = ((nuint)start + PageSize - 1) & ~(PageSize - 1);
        nuint last = ((nuint)start + bytes) & ~(PageSize - 1);
        if (last <= first) return;
        int savedErrno = Libc.Errno;
        Libc.madvise((void*)first, last - first, Libc.MADV_POPULATE_WRITE);
        Libc.Errno = savedErrno;
    }

    /// <summary>Gives the pages fully inside [start, start+bytes) back to the kernel; they read as zero afterwards.</summary>
    public static void Release(void* start, nuint bytes)
    {
        nuint first = ((nuint)start + PageSize - 1) & ~(PageSize - 1);
        nuint last = ((nuint)start + bytes) & ~(PageSize - 1);
        if (last > first) Libc.madvise((void*)first, last - first, Libc.MADV_DONTNEED);
    }

    // ---- reads of other threads' mappings -------------------------------------------------
    // A report (show_alloc_mem, malloc_info, the snapshot, the exit reports) walks every
    // heap's zones while their owners run. An owner may unmap a zone at any moment; reading
    // it afterwards would be a segmentation fault (tests/native/reportrace.c found it). So
    // reports bracket their walk with BeginForeignReads/EndForeignReads and Unmap waits while
    // a report walks: a reader-writer exclusion in which unmapping has priority, so that a
    // thread calling reports in a loop cannot starve the owners' unmaps.
    //   report: wait while an unmap waits; readers++; if an unmap arrived meanwhile, back off
    //   unmap:  unmappers++; wait while readers != 0; munmap; unmappers--
    // Every step is a full fence (interlocked), and an owner takes a zone out of the zone map
    // before it unmaps it: a report either is counted before the owner looks (and is waited
    // for) or looks at the zone map after the zone left it. Unmaps do not exclude each
    // other. A report never allocates or frees while it walks (it writes with write(2)), so
    // it never waits for itself; owners wait only on the rare unmap path.
    private static int s_foreignReaders;
    private static int s_waitingUnmaps;

    public static void BeginForeignReads()
    {
        while (true)
        {
            while (System.Threading.Volatile.Read(ref s_waitingUnmaps) != 0) Libc.sched_yield();
            System.Threading.Interlocked.Increment(ref s_foreignReaders);
            if (System.Threading.Volatile.Read(ref s_waitingUnmaps) == 0) return;
            System.Threading.Interlocked.Decrement(ref s_foreignReaders);
        }
    }

    public static void EndForeignReads() => System.Threading.Interlocked.Decrement(ref s_foreignReaders);

    /// <summary>In a forked child only the forking thread exists: a report or unmap another thread was in is not.</summary>
    public static void ResetForeignReadsInChild()
    {
        s_foreignReaders = 0;
        s_waitingUnmaps = 0;
    }

    private static void UnmapAfterForeignReads(void* start, nuint bytes)
    {
        WaitOutForeignReads();
        Libc.munmap(start, bytes);
        AllowForeignReads();
    }

    /// <summary>Before a range goes away (munmap, or mremap away from it): new reports wait, and the walking ones finish. AllowForeignReads after.</summary>
    private static void WaitOutForeignReads()
    {
        System.Threading.Interlocked.Increment(ref s_waitingUnmaps);
        while (System.Threading.Volatile.Read(ref s_foreignReaders) != 0) Libc.sched_yield();
    }

    private static void AllowForeignReads() => System.Threading.Interlocked.Decrement(ref s_waitingUnmaps);
}
