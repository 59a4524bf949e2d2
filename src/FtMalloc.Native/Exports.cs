// The C allocation ABI of libft_malloc.so: one thin forwarding line per exported symbol.
// Every C rule (errno, overflow, realloc(p, 0), alignment errors) lives one layer down in
// CAllocator, where in-process tests reach it; this file only binds names to the process
// heap. The exported names are listed once in exports.txt (the build writes the version
// script from it); each needs a method here.
//
// [RuntimeExport] makes each method a plain native function: no reverse P/Invoke frame, no
// runtime start. Nothing reachable from here may need the .NET runtime (no GC allocation,
// no exceptions, no [ThreadStatic]); tests/FtMalloc.Tests/NativeLibrary proves it on the
// built library's disassembly. C types: size_t = nuint, int = int, void* = void*.
using System.Runtime;
using FtMalloc.Core.CSemantics;

namespace FtMalloc.Native;

internal static unsafe class Exports
{
    // The C standard and POSIX
    [RuntimeExport("malloc")] public static void* Malloc(nuint size) => CAllocator.Malloc(ThreadHeap.Get(), size);
    [RuntimeExport("free")] public static void Free(void* pointer) => CAllocator.Free(ThreadHeap.Current, pointer);
    [RuntimeExport("calloc")] public static void* Calloc(nuint count, nuint size) => CAllocator.Calloc(ThreadHeap.Get(), count, size);
    [RuntimeExport("realloc")] public static void* Realloc(void* pointer, nuint size) => CAllocator.Realloc(ThreadHeap.Get(), pointer, size);
    [RuntimeExport("reallocarray")] public static void* ReallocArray(void* pointer, nuint count, nuint size) => CAllocator.ReallocArray(ThreadHeap.Get(), pointer, count, size);
    [RuntimeExport("posix_memalign")] public static int PosixMemalign(void** result, nuint alignment, nuint size) => CAllocator.PosixMemalign(ThreadHeap.Get(), result, alignment, size);
    [RuntimeExport("aligned_alloc")] public static void* AlignedAlloc(nuint alignment, nuint size) => CAllocator.AlignedAlloc(ThreadHeap.Get(), alignment, size);

    // C23
    [RuntimeExport("free_sized")] public static void FreeSized(void* pointer, nuint size) => CAllocator.FreeSized(ThreadHeap.Current, pointer, size);
    [RuntimeExport("free_aligned_sized")] public static void FreeAlignedSized(void* pointer, nuint alignment, nuint size) => CAllocator.FreeAlignedSized(ThreadHeap.Current, pointer, alignment, size);

    // Obsolete but still called (glibc, BSD)
    [RuntimeExport("memalign")] public static void* Memalign(nuint alignment, nuint size) => CAllocator.Memalign(ThreadHeap.Get(), alignment, size);
    [RuntimeExport("valloc")] public static void* Valloc(nuint size) => CAllocator.Valloc(ThreadHeap.Get(), size);
    [RuntimeExport("pvalloc")] public static void* Pvalloc(nuint size) => CAllocator.Pvalloc(ThreadHeap.Get(), size);
    [RuntimeExport("cfree")] public static void Cfree(void* pointer) => CAllocator.Free(ThreadHeap.Current, pointer);
    [RuntimeExport("malloc_usable_size")] public static nuint MallocUsableSize(void* pointer) => CAllocator.UsableSize(ThreadHeap.Current, pointer);

    // glibc's internal aliases, called by code that wants "the real malloc"
    [RuntimeExport("__libc_malloc")] public static void* LibcMalloc(nuint size) => CAllocator.Malloc(ThreadHeap.Get(), size);
    [RuntimeExport("__libc_free")] public static void LibcFree(void* pointer) => CAllocator.Free(ThreadHeap.Current, pointer);
    [RuntimeExport("__libc_calloc")] public static void* LibcCalloc(nuint count, nuint size) => CAllocator.Calloc(ThreadHeap.Get(), count, size);
    [RuntimeExport("__libc_realloc")] public static void* LibcRealloc(void* pointer, nuint size) => CAllocator.Realloc(ThreadHeap.Get(), pointer, size);
    [RuntimeExport("__libc_memalign")] public static void* LibcMemalign(nuint alignment, nuint size) => CAllocator.Memalign(ThreadHeap.Get(), alignment, size);
    [RuntimeExport("__libc_valloc")] public static void* LibcValloc(nuint size) => CAllocator.Valloc(ThreadHeap.Get(), size);
    [RuntimeExport("__libc_pvalloc")] public static void* LibcPvalloc(nuint size) => CAllocator.Pvalloc(ThreadHeap.Get(), size);
    [RuntimeExport("__posix_memalign")] public static int LibcPosixMemalign(void** result, nuint alignment, nuint size) => CAllocator.PosixMemalign(ThreadHeap.Get(), result, alignment, size);

    // Introspection
    [RuntimeExport("show_alloc_mem")] public static void ShowAllocMem() => CAllocator.ShowAllocMem(null);
}
