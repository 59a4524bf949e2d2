// The C allocation ABI over one heap, with glibc's rules for the edges:
//   malloc(0)            a unique pointer that free accepts
//   size > PTRDIFF_MAX   NULL, errno = ENOMEM (also calloc/reallocarray products that overflow)
//   realloc(NULL, n)     malloc(n);  realloc(p, 0) frees p and returns NULL
//   failed realloc       NULL, errno = ENOMEM, the old block untouched
//   free(NULL)           nothing; free never changes errno
//   posix_memalign       EINVAL unless alignment is a power-of-two multiple of sizeof(void*)
//   aligned_alloc        EINVAL unless alignment is a power of two
//   memalign             alignment rounded up to a power of two (glibc)
//   calloc               zeroed memory, also when a block is reused
// Exported symbols (FtMalloc.Native) forward here with the calling thread's heap, which
// is null for a thread that could not get one (then every allocation says ENOMEM, and
// frees still work); tests call these directly with heaps of their own.
// Each public function counts one call of its entry point (Counter.Calls*) in the
// caller's heap, a plain add by the heap's owner; internal reuse goes through the
// private helpers (Allocate, Release, Reallocate), which count nothing. Tracing and
// perturbing wrap these calls one layer up (Instrumented.cs), off the fast path.
using System.Runtime.CompilerServices;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.CSemantics;

internal static unsafe class CAllocator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Malloc(Heap* heap, nuint size)
    {
        if (heap == null) return HeaplessOutOfMemory(Counter.CallsMalloc);
        HeapCounters.Add(&heap->Counters, Counter.CallsMalloc, 1); // heap known: no second test
        return Allocate(heap, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void* Allocate(Heap* heap, nuint size)
    {
        if (size > Categories.MaxRequest || heap == null) return OutOfMemory();
        byte* p = Heap.AllocateFast(heap, size);
        return p != null ? p : OutOfMemory();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Free(Heap* heap, void* pointer)
    {
        Count(heap, Counter.CallsFree);
        Release(heap, pointer);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Release(Heap* heap, void* pointer)
    {
        if (pointer == null) return;
        // errno survives: the only system calls on this path (munmap, write) restore it.
        PointerStatus status = Heap.FreeFast(heap, pointer);
        if (status != PointerStatus.Valid) Misuse.Report(heap, CFunction.Free, pointer, status);
    }

    public static void* Calloc(Heap* heap, nuint count, nuint size)
    {
        Count(heap, Counter.CallsCalloc);
        if (!TryMultiply(count, size, out nuint bytes) || bytes > Categories.MaxRequest || heap == null) return OutOfMemory();
        byte* p = Heap.AllocateZeroed(heap, bytes);
        return p != null ? p : OutOfMemory();
    }

    public static void* Realloc(Heap* heap, void* pointer, nuint size)
    {
        Count(heap, Counter.CallsRealloc);
        return Reallocate(heap, pointer, size);
    }

    private static void* Reallocate(Heap* heap, void* pointer, nuint size)
    {
        if (pointer == null) return Allocate(heap, size);
        if (size == 0)
        {
            Release(heap, pointer);
            return null;
        }
        if (size > Categories.MaxRequest || heap == null) return OutOfMemory();
        PointerStatus status = Heap.Reallocate(heap, pointer, size, out byte* result);
        if (status != PointerStatus.Valid)
        {
            Misuse.Report(heap, CFunction.Realloc, pointer, status);
            return null;
        }
        return result != null ? result : OutOfMemory();
    }

    /// <summary>
    /// realloc of a block the caller found valid, allocated and owned by <paramref name="heap"/>
    /// (the exported realloc's fast path: <paramref name="zone"/>'s TINY/SMALL block), to
    /// <paramref name="size"/> bytes, 1 to SmallMaxRequest.
    /// </summary>
    public static void* ReallocChecked(Heap* heap, Zone* zone, Block* block, nuint size)
    {
        HeapCounters.Add(&heap->Counters, Counter.CallsRealloc, 1);
        byte* p = Heap.ReallocateChecked(heap, zone, block, size);
        return p != null ? p : OutOfMemory();
    }

    public static void* ReallocArray(Heap* heap, void* pointer, nuint count, nuint size)
    {
        Count(heap, Counter.CallsReallocArray);
        if (!TryMultiply(count, size, out nuint bytes)) return OutOfMemory();
        return Reallocate(heap, pointer, bytes);
    }

    public static int PosixMemalign(Heap* heap, void** result, nuint alignment, nuint size)
    {
        Count(heap, Counter.CallsPosixMemalign);
        if (alignment < (nuint)sizeof(void*) || !IsPowerOfTwo(alignment)) return Libc.EINVAL;
        int savedErrno = Libc.Errno;
        void* p = AlignedOrNull(heap, alignment, size);
        Libc.Errno = savedErrno;
        if (p == null) return Libc.ENOMEM;
        *result = p;
        return 0;
    }

    public static void* AlignedAlloc(Heap* heap, nuint alignment, nuint size)
    {
        Count(heap, Counter.CallsAlignedAlloc);
        if (alignment == 0 || !IsPowerOfTwo(alignment))
        {
            Libc.Errno = Libc.EINVAL;
            return null;
        }
        return Aligned(heap, alignment, size);
    }

    public static void* Memalign(Heap* heap, nuint alignment, nuint size)
    {
        Count(heap, Counter.CallsMemalign);
        if (alignment > Categories.MaxRequest / 2)
        {
            Libc.Errno = Libc.EINVAL;
            return null;
        }
        nuint a = Categories.Granule;
        while (a < alignment) a <<= 1;
        return Aligned(heap, a, size);
    }

    public static void* Valloc(Heap* heap, nuint size)
    {
        Count(heap, Counter.CallsValloc);
        PageMemory.Initialize();
        return Aligned(heap, PageMemory.PageSize, size);
    }

    public static void* Pvalloc(Heap* heap, nuint size)
    {
        Count(heap, Counter.CallsPvalloc);
        PageMemory.Initialize();
        if (size > Categories.MaxRequest) return OutOfMemory();
        nuint rounded = PageMemory.RoundUpToPages(size == 0 ? 1 : size);
        return Aligned(heap, PageMemory.PageSize, rounded);
    }

    public static nuint UsableSize(Heap* heap, void* pointer)
    {
        Count(heap, Counter.CallsMallocUsableSize);
        if (pointer == null) return 0;
        PointerStatus status = Heap.UsableSize(heap, pointer, out nuint usable);
        if (status != PointerStatus.Valid) Misuse.Report(heap, CFunction.MallocUsableSize, pointer, status);
        return usable;
    }

    /// <summary>C23 free_sized: the size is a promise we do not need; the pointer is checked as by free.</summary>
    public static void FreeSized(Heap* heap, void* pointer, nuint size)
    {
        Count(heap, Counter.CallsFreeSized);
        Release(heap, pointer);
    }

    public static void FreeAlignedSized(Heap* heap, void* pointer, nuint alignment, nuint size)
    {
        Count(heap, Counter.CallsFreeAlignedSized);
        Release(heap, pointer);
    }

    public static void ShowAllocMem(Heap* heap) => AllocationReport.Print(heap, 1);

    // ---- helpers ----------------------------------------------------------------------

    private static void* Aligned(Heap* heap, nuint alignment, nuint size)
    {
        void* p = AlignedOrNull(heap, alignment, size);
        return p != null ? p : OutOfMemory();
    }

    private static void* AlignedOrNull(Heap* heap, nuint alignment, nuint size)
    {
        if (size > Categories.MaxRequest || alignment > Categories.MaxRequest / 2 || heap == null) return null;
        return Heap.AllocateAligned(heap, size, alignment);
    }

    /// <summary>Counts one call of an entry point: in the caller's heap, or process-wide for a thread without one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count(Heap* heap, Counter entry)
    {
#if !FT_MALLOC_NO_COUNTERS
        if (heap != null) HeapCounters.Add(&heap->Counters, entry, 1);
        else ProcessCounters.CountHeapless(entry);
#endif
    }

    private static bool IsPowerOfTwo(nuint value) => value != 0 && (value & (value - 1)) == 0;

    private static bool TryMultiply(nuint count, nuint size, out nuint product)
    {
        product = count * size;
        return size == 0 || product / size == count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* HeaplessOutOfMemory(Counter entry)
    {
        ProcessCounters.CountHeapless(entry);
        return OutOfMemory();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* OutOfMemory()
    {
        Libc.Errno = Libc.ENOMEM;
        return null;
    }
}
