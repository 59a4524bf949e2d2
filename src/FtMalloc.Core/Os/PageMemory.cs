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
        nint size = Libc.sysconf(Libc._SC_PAGESIZE);
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
        Libc.munmap(start, bytes);
        Libc.Errno = savedErrno;
    }

    /// <summary>Gives the pages fully inside [start, start+bytes) back to the kernel; they read as zero afterwards.</summary>
    public static void Release(void* start, nuint bytes)
    {
        nuint first = ((nuint)start + PageSize - 1) & ~(PageSize - 1);
        nuint last = ((nuint)start + bytes) & ~(PageSize - 1);
        if (last > first) Libc.madvise((void*)first, last - first, Libc.MADV_DONTNEED);
    }
}
