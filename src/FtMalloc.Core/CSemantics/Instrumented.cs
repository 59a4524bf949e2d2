// The C ABI with its debugging hooks: tracing (Trace.cs, FT_MALLOC_TRACE) and perturbing
// (Heap.Perturb.cs, FT_MALLOC_PERTURB / MALLOC_PERTURB_ / mallopt(M_PERTURB)). The exports
// test one flag, IsOn, and come here only when a hook is active, so the fast path pays a
// load and a branch for both hooks together. Each wrapper calls CAllocator (which counts
// the call and applies the C rules), perturbs what needs it, and records the call.
//   perturb  new blocks: the requested bytes, ~N (never calloc's); realloc: the bytes past
//            the old block's usable size; freed blocks: N, before the heap takes them
using FtMalloc.Core.Memory;

namespace FtMalloc.Core.CSemantics;

internal static unsafe class Instrumented
{
    private static int s_on;

    /// <summary>True when a hook is active: the exports then call these wrappers.</summary>
    public static bool IsOn => s_on != 0;

    /// <summary>Recomputes IsOn; called whenever the trace or the perturb byte changes.</summary>
    public static void Update()
    {
        s_on = Trace.IsOn || Heap.PerturbByte != 0 ? 1 : 0;
        FastPaths.Update();
    }

    public static void* Malloc(Heap* heap, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.Malloc(heap, size);
        if (p != null) Heap.PerturbNew(p, size);
        if (traced)
        {
            int e = Trace.Begin("malloc"u8);
            Trace.Decimal(size);
            Trace.Pointer(p);
            Trace.End(e);
        }
        return p;
    }

    public static void Free(Heap* heap, void* pointer)
    {
        bool traced = Trace.Enter();
        PerturbBeforeFree(heap, pointer);
        CAllocator.Free(heap, pointer);
        if (traced)
        {
            int e = Trace.Begin("free"u8);
            Trace.Pointer(pointer);
            Trace.End(e);
        }
    }

    public static void* Calloc(Heap* heap, nuint count, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.Calloc(heap, count, size);
        if (traced)
        {
            int e = Trace.Begin("calloc"u8);
            Trace.Decimal(count);
            Trace.Decimal(size);
            Trace.Pointer(p);
            Trace.End(e);
        }
        return p;
    }

    public static void* Realloc(Heap* heap, void* pointer, nuint size)
    {
        bool traced = Trace.Enter();
        nuint oldUsable = OldUsable(heap, pointer);
        void* p = CAllocator.Realloc(heap, pointer, size);
        PerturbTail(p, oldUsable, size);
        if (traced)
        {
            int e = Trace.Begin("realloc"u8);
            Trace.Pointer(pointer);
            Trace.Decimal(size);
            Trace.Pointer(p);
            Trace.End(e);
        }
        return p;
    }

    public static void* ReallocArray(Heap* heap, void* pointer, nuint count, nuint size)
    {
        bool traced = Trace.Enter();
        nuint oldUsable = OldUsable(heap, pointer);
        void* p = CAllocator.ReallocArray(heap, pointer, count, size);
        PerturbTail(p, oldUsable, count * size);
        if (traced)
        {
            int e = Trace.Begin("reallocarray"u8);
            Trace.Pointer(pointer);
            Trace.Decimal(count);
            Trace.Decimal(size);
            Trace.Pointer(p);
            Trace.End(e);
        }
        return p;
    }

    public static int PosixMemalign(Heap* heap, void** result, nuint alignment, nuint size)
    {
        bool traced = Trace.Enter();
        int r = CAllocator.PosixMemalign(heap, result, alignment, size);
        if (r == 0) Heap.PerturbNew(*result, size);
        if (traced)
        {
            int e = Trace.Begin("posix_memalign"u8);
            Trace.Decimal(alignment);
            Trace.Decimal(size);
            Trace.Pointer(r == 0 ? *result : null);
            Trace.Decimal((ulong)r);
            Trace.End(e);
        }
        return r;
    }

    public static void* AlignedAlloc(Heap* heap, nuint alignment, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.AlignedAlloc(heap, alignment, size);
        if (p != null) Heap.PerturbNew(p, size);
        if (traced) RecordAligned("aligned_alloc"u8, alignment, size, p);
        return p;
    }

    public static void* Memalign(Heap* heap, nuint alignment, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.Memalign(heap, alignment, size);
        if (p != null) Heap.PerturbNew(p, size);
        if (traced) RecordAligned("memalign"u8, alignment, size, p);
        return p;
    }

    public static void* Valloc(Heap* heap, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.Valloc(heap, size);
        if (p != null) Heap.PerturbNew(p, size);
        if (traced) RecordSized("valloc"u8, size, p);
        return p;
    }

    public static void* Pvalloc(Heap* heap, nuint size)
    {
        bool traced = Trace.Enter();
        void* p = CAllocator.Pvalloc(heap, size);
        if (p != null) Heap.PerturbNew(p, size);
        if (traced) RecordSized("pvalloc"u8, size, p);
        return p;
    }

    public static nuint UsableSize(Heap* heap, void* pointer)
    {
        bool traced = Trace.Enter();
        nuint usable = CAllocator.UsableSize(heap, pointer);
        if (traced)
        {
            int e = Trace.Begin("malloc_usable_size"u8);
            Trace.Pointer(pointer);
            Trace.Decimal(usable);
            Trace.End(e);
        }
        return usable;
    }

    public static void FreeSized(Heap* heap, void* pointer, nuint size)
    {
        bool traced = Trace.Enter();
        PerturbBeforeFree(heap, pointer);
        CAllocator.FreeSized(heap, pointer, size);
        if (traced)
        {
            int e = Trace.Begin("free_sized"u8);
            Trace.Pointer(pointer);
            Trace.Decimal(size);
            Trace.End(e);
        }
    }

    public static void FreeAlignedSized(Heap* heap, void* pointer, nuint alignment, nuint size)
    {
        bool traced = Trace.Enter();
        PerturbBeforeFree(heap, pointer);
        CAllocator.FreeAlignedSized(heap, pointer, alignment, size);
        if (traced)
        {
            int e = Trace.Begin("free_aligned_sized"u8);
            Trace.Pointer(pointer);
            Trace.Decimal(alignment);
            Trace.Decimal(size);
            Trace.End(e);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static void PerturbBeforeFree(Heap* heap, void* pointer)
    {
        if (pointer != null && Heap.PerturbByte != 0) Heap.PerturbBeforeFree(heap, pointer);
    }

    /// <summary>The usable size of realloc's old block when perturbing (0 otherwise, or for NULL and bad pointers).</summary>
    private static nuint OldUsable(Heap* heap, void* pointer)
    {
        if (pointer == null || Heap.PerturbByte == 0) return 0;
        return Heap.UsableSize(heap, pointer, out nuint usable) == PointerStatus.Valid ? usable : 0;
    }

    private static void PerturbTail(void* p, nuint oldUsable, nuint size)
    {
        if (p != null && size > oldUsable) Heap.PerturbNew((byte*)p + oldUsable, size - oldUsable);
    }

    private static void RecordAligned(System.ReadOnlySpan<byte> operation, nuint alignment, nuint size, void* p)
    {
        int e = Trace.Begin(operation);
        Trace.Decimal(alignment);
        Trace.Decimal(size);
        Trace.Pointer(p);
        Trace.End(e);
    }

    private static void RecordSized(System.ReadOnlySpan<byte> operation, nuint size, void* p)
    {
        int e = Trace.Begin(operation);
        Trace.Decimal(size);
        Trace.Pointer(p);
        Trace.End(e);
    }
}
