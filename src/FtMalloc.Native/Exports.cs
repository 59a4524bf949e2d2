// The C allocation ABI of libft_malloc.so: one thin forwarding line per exported symbol
// (malloc, free and realloc add their fast paths, below).
// Every C rule (errno, overflow, realloc(p, 0), alignment errors) lives one layer down in
// CAllocator, where in-process tests reach it; this file only binds names to the calling
// thread's heap. When a debugging hook is on (tracing, perturbing), each allocation call
// goes through Instrumented (one predictable branch otherwise). The exported names are listed
// once in exports.txt (the build writes the version script from it); each needs a method
// here.
//
// [RuntimeExport] makes each method a plain native function: no reverse P/Invoke frame, no
// runtime start. Nothing reachable from here may need the .NET runtime (no GC allocation,
// no exceptions, no [ThreadStatic]); tests/FtMalloc.Tests/NativeLibrary proves it on the
// built library's disassembly. C types: size_t = nuint, int = int, void* = void*, FILE* =
// void*. A struct returned by value (mallinfo, mallinfo2: more than 16 bytes) is, in the
// System V ABI, a hidden first argument pointing at the caller's storage, returned in rax:
// the methods say so explicitly rather than rely on how the compiler returns structs.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Threading;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Native;

internal static unsafe class Exports
{
    // The C standard and POSIX
    // malloc, free and realloc are the exceptions to "one line": their fast paths (a block
    // popped from or pushed to a quick bin of the calling thread's heap, or resized; see
    // Heap.FastPath.cs) are written out here, as straight-line tests that each jump to the
    // full path, because that is the shape NativeAOT compiles best. The full path starts
    // again from nothing, or from the caller's heap once the fast path has found it.
    // The caller's heap: in a single-threaded process, FastPaths.SoleHeap, with no call at
    // all (FastPaths.cs); otherwise the *Threaded functions find it from pthread_self(),
    // apart, so that the single-threaded path saves no register for that call.
    [RuntimeExport("malloc")]
    public static void* Malloc(nuint size)
    {
        if (*FastPaths.SingleThreaded == 0) return MallocThreaded(size); // also while the fast paths are closed (FastPaths.cs)
        return MallocFrom(FastPaths.SoleHeap, size);
    }

    /// <summary>malloc's fast path once the caller's heap is known: pop the request's quick bin, or go on to the full path from that heap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void* MallocFrom(Heap* heap, nuint size)
    {
        if (size > QuickBins.MaxRequestBytes) return MallocOwned(size, heap);
        nuint bin = QuickBins.BinOfRequest(size);
        byte* payload = QuickBins.HeadIn((byte*)heap, Heap.BinsOffset, bin); // the heap's bins, reached from the heap (QuickBins' "In" forms)
        if (payload == null) return MallocOwned(size, heap);
        QuickBins.UnlinkIn((byte*)heap, Heap.BinsOffset, bin, payload);
        return Heap.CommitCached(heap, payload, bin, size);
    }

    /// <summary>malloc in a process that has (or had) other threads, or before the fast paths open: the caller's heap from its pthread_self().</summary>
    // Not NoInlining, nor FreeThreaded: NativeAOT made no tail call out of them while they
    // were (it keeps a NoInlining caller on the stack), so their ways out were calls, each
    // followed by a jump to one shared epilogue and a nop; the inliner leaves both out of
    // malloc and free anyway (FastPathShapeTests fails if their pthread_self call lands in
    // an export). larson 4 10 100000: 924.5M -> 904.5M instructions, 3 a malloc, 2 a free.
    private static void* MallocThreaded(nuint size)
    {
        if (!FastPaths.Open) return MallocSlow(size);
        nuint self = Pthread.Self();
        Heap* heap = ThreadHeap.Own(self);
        if (heap == null) return MallocSlow(size);
        return MallocFrom(heap, size);
    }

    [RuntimeExport("free")]
    public static void Free(void* pointer)
    {
        if (*FastPaths.SingleThreaded == 0) { FreeThreaded(pointer); return; } // also while the fast paths are closed
        // OwnZoneOfAllocated's checks, written out: as the inlined helper they cost two
        // instructions (a null materialised and tested again).
        nuint address = (nuint)pointer;
        if (!Zone.IsPayloadAddress(address)) goto slow;
        nuint* leaf = ZoneMap.LeafOfPayload(address);
        if (leaf == null) goto slow;
        nuint entry = ZoneMap.EntryInLeaf(leaf, address);
        // The owner first, from a static copy of the sole heap's tag: a zone of that heap is a
        // TINY or SMALL one (a LARGE zone's tag, or no zone's, is 0, which no heap's tag comes
        // within 3 of), so this one test stands for the kind test too (2 instructions a free
        // less). Not heap->TinyTag: loaded ahead of the block's checks, from the line the
        // previous free wrote its bin into, it made bench/'s million run its random frees
        // about 10% slower (93-99 -> 105-112 ms) when that was the test here.
        if (!ZoneTag.SameHeap(ZoneTag.In(entry), FastPaths.SoleHeapTag)) goto slow; // also a heap the one thread does not own (a fork child's retired ones)
        if (!ZoneMap.IsStartSetInLeaf(leaf, address) || !Block.FromPayload(pointer)->IsAllocated) goto slow;
        Heap* heap = FastPaths.SoleHeap;
        if (!TryCacheFreed(heap, (byte*)pointer)) FreeOwned(heap, ZoneMap.ZoneOf(entry), Block.FromPayload(pointer));
        return;
    slow:
        FreeSlow(pointer);
    }

    /// <summary>
    /// The zone of <paramref name="pointer"/> if it is the payload of an allocated block of a
    /// TINY/SMALL zone of <paramref name="heap"/>, else null: Locate's checks (zone map,
    /// owner, start bit, flags) in the order that reads nothing a previous test did not vouch
    /// for, with the owner and the zone's kind taken from the zone map's tag, so that no zone
    /// header is read (ZoneTag.cs). realloc's fast paths' (free writes the same checks out).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Zone* OwnZoneOfAllocated(Heap* heap, void* pointer)
    {
        nuint address = (nuint)pointer;
        if (!Zone.IsPayloadAddress(address)) return null;
        nuint* leaf = ZoneMap.LeafOfPayload(address);
        if (leaf == null) return null;
        nuint entry = ZoneMap.EntryInLeaf(leaf, address);
        nuint tag = ZoneTag.In(entry);
        Zone* zone = (Zone*)(entry - tag);
        return Heap.IsAllocatedPayloadOfKind(leaf, tag & ZoneTag.KindMask, pointer)
            && ZoneTag.SameHeap(tag, heap->TinyTag) ? zone : null; // the owner last, as in free
    }

    /// <summary>
    /// free's fast path once the block of <paramref name="payload"/> (checked) is known to be
    /// of the caller's heap: into its quick bin if it has room (true), by its payload address,
    /// which is how a bin names it (QuickBins.cs); else the caller frees it for real (FreeOwned), with
    /// its zone: free derives it from the block's tagged zone-map entry only then (the push
    /// does not need it); FreeThreaded, which keeps the zone for its remote branch anyway,
    /// passes that (the entry kept instead cost it a saved register).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryCacheFreed(Heap* heap, byte* payload)
    {
        nuint bin = Block.BinOf(Block.FromPayload(payload));
        if (!QuickBins.HasRoomIn((byte*)heap, Heap.BinsOffset, bin)) return false;
        Heap.CacheFreed(heap, payload, bin);
        return true;
    }

    /// <summary>
    /// free in a process that has (or had) other threads, or before the fast paths open: the caller's heap from its
    /// pthread_self() (asked first: the call then overlaps the zone map's loads; a thread
    /// without one goes to FreeWithoutHeap), then its own block, or another thread's to hand
    /// back.
    /// </summary>
    private static void FreeThreaded(void* pointer)
    {
        if (!FastPaths.Open) goto slow;
        Heap* heap = ThreadHeap.Own(Pthread.Self());
        if (heap == null) goto noHeap;
        // The block is checked before its owner is known (it may be another thread's), so the
        // zone's kind comes from the tag alone; the owner test compares the tag's heap id.
        nuint address = (nuint)pointer;
        if (!Zone.IsPayloadAddress(address)) goto slow;
        nuint* leaf = ZoneMap.LeafOfPayload(address);
        if (leaf == null) goto slow;
        nuint entry = ZoneMap.EntryInLeaf(leaf, address);
        nuint tag = ZoneTag.In(entry);
        Zone* zone = (Zone*)(entry - tag);
        if (!Heap.IsAllocatedPayloadOfKind(leaf, tag & ZoneTag.KindMask, pointer)) goto slow;
        Block* block = Block.FromPayload(pointer);
        if (ZoneTag.SameHeap(tag, heap->TinyTag))
        {
            if (!TryCacheFreed(heap, (byte*)pointer)) FreeOwned(heap, zone, block);
            return;
        }
        // Another heap's block (or one of a heap without an id, maybe the caller's: the
        // owner compare catches it). The owner's OwnerThread is not read: its line is the
        // one its thread writes on every malloc and free (the bins), a coherence miss here.
        Heap* owner = zone->Owner;
        if (owner == heap) goto slow;
        FreeRemote(owner, block, heap);
        return;
    noHeap:
        // The caller has no heap yet (or no longer: its thread is exiting): looked up, or made.
        FreeWithoutHeap(pointer);
        return;
    slow:
        FreeSlow(pointer);
    }

    /// <summary>
    /// free from a thread that has no heap in its key (none yet, or its thread is exiting),
    /// FreeThreaded's no-heap branch: a valid block (free's checks again) goes to
    /// FreeRemoteFromUnknownHeap, anything else to the full path. Apart, so that every way
    /// out of FreeThreaded after its pthread_self call is a jump: FreeRemoteFromUnknownHeap
    /// called there, between the checks and the owner test, kept the tag in a saved register
    /// on every free (larson 4 10 100000: FreeThreaded 260.0M -> 256.0M instructions).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeWithoutHeap(void* pointer)
    {
        if (pointer == null && !Instrumented.IsOn)
        {
            // glibc frees its per-thread buffers after the key's destructors (NULL when unused):
            // counted here, not through the full path's heap lookup (about 150 instructions).
            ProcessCounters.CountHeapless(Counter.CallsFree);
            return;
        }
        nuint address = (nuint)pointer;
        if (!Zone.IsPayloadAddress(address)) goto slow;
        nuint* leaf = ZoneMap.LeafOfPayload(address);
        if (leaf == null) goto slow;
        nuint entry = ZoneMap.EntryInLeaf(leaf, address);
        if (!Heap.IsAllocatedPayloadOfKind(leaf, ZoneTag.In(entry) & ZoneTag.KindMask, pointer)) goto slow;
        if (FreeRemoteFromUnknownHeap(ZoneMap.ZoneOf(entry)->Owner, Block.FromPayload(pointer))) return;
    slow:
        FreeSlow(pointer);
    }

    /// <summary>
    /// A valid block of another thread's heap, freed by the thread of <paramref name="caller"/>:
    /// chained into the caller's outgoing batch (Heap.IsBatchingFor, TryMarkRemote, ChainMarked),
    /// or the full path. Inlined into FreeThreaded's remote branch, with every call it makes
    /// its last act, so that no value lives across a call and FreeThreaded saves no more
    /// registers for it. (A function of its own while its chaining called out and went on:
    /// inlined then, it kept one more register saved on every local free, larson about 3
    /// instructions a free; apart, the call cost a remote free about 12.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FreeRemote(Heap* owner, Block* block, Heap* caller)
    {
        nuint bin = Block.BinOf(block);
        if (!Heap.IsBatchingFor(caller, owner, bin)) { FreeRemoteUnbatched(owner, block, caller); return; }
        uint info = Volatile.Read(ref block->Info);
        if (!Heap.TryMarkRemote(block, info)) { FreeSlow(Block.PayloadOf(block)); return; } // freed twice, or by two threads at once: the full path says which
        Heap.ChainMarked(caller, block, bin, info);
    }

    /// <summary>FreeRemote's other cases (a new owner, a block with no bin: Heap.TryFreeRemote), or the full path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeRemoteUnbatched(Heap* owner, Block* block, Heap* caller)
    {
        if (!Heap.TryFreeRemote(owner, block, caller)) FreeSlow(Block.PayloadOf(block));
    }

    /// <summary>
    /// A valid block, freed by a thread that has no heap in its key (none yet, or its thread
    /// is exiting): if it is another thread's, handed back (Heap.Remote.cs), counted on the
    /// caller's heap, looked up (made if it has none: a thread that only frees then batches
    /// and counts with plain adds); false for the full path. A thread that gets its heap
    /// here adopts the block's own heap if it is in the pool (its thread exited): the block
    /// is then freed as its own, by the full path, and so are the next ones of that heap
    /// (larson's threads take over a dead thread's blocks). An exiting thread past its
    /// key's last destructor gets no heap (ThreadHeap.IsPastExit). Asks pthread_self()
    /// itself: FreeThreaded's Pthread.Self() is no identity in the table fallback
    /// (ThreadHeap.HeapAsSelf).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool FreeRemoteFromUnknownHeap(Heap* owner, Block* block)
    {
        nuint self = Pthread.pthread_self();
        if (owner->OwnerThread == self) return false;
        Heap* caller = ThreadHeap.IsPastExit ? null : ThreadHeap.GetOf(self, owner);
        return caller != owner && Heap.TryFreeRemote(owner, block, caller);
    }

    /// <summary>
    /// The calling thread's own heap, found by the fast path, whose bin could not serve: a
    /// block of the small cache for a request of its sizes (Heap.AllocateCachedSmall), else
    /// the full path from the heap on (no second lookup).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* MallocOwned(nuint size, Heap* heap)
    {
        if (size - (QuickBins.MaxRequestBytes + 1) <= Heap.SmallCacheMaxRequest - (QuickBins.MaxRequestBytes + 1))
        {
            byte* cached = Heap.AllocateCachedSmall(heap, size);
            if (cached != null) return cached;
        }
        return CAllocator.Malloc(heap, size);
    }

    /// <summary>
    /// A block the fast path found valid, allocated and owned by the calling thread, too big
    /// for the quick bins or whose bin is full: into the small cache if it is of its sizes
    /// (Heap.TryFreeCachedSmall), else freed for real, without checking it again.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeOwned(Heap* heap, Zone* zone, Block* block)
    {
        if (Heap.TryFreeCachedSmall(heap, block)) return;
        Heap.FreeChecked(heap, zone, block);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* MallocSlow(nuint size)
    {
        // Counted (malloc_heap_lookups): with the fast paths open, a thread's first malloc
        // (or one from a thread without a heap in its key); shut, every malloc.
        Heap* heap = ThreadHeap.Get();
        if (heap != null) heap->Counters.Add(Core.Stats.Counter.MallocHeapLookups, 1);
        return Instrumented.IsOn ? Instrumented.Malloc(heap, size) : CAllocator.Malloc(heap, size);
    }

    /// <summary>
    /// free's full path. free(NULL) by a thread with a heap, while the fast paths are open (no
    /// hook), is only counted, its heap read from its key slot: glibc's pthread_create frees
    /// each entry of a reused stack's DTV, NULL for modules without TLS, 16 a thread here
    /// (zone map entry of kind 0: the fast paths send them here), and each cost about 93
    /// instructions (a second pthread_self, the heap table, CAllocator.Free's tests).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeSlow(void* pointer)
    {
        if (pointer == null && FastPaths.Open)
        {
            Heap* heap = ThreadHeap.Own(Pthread.Self());
            if (heap != null)
            {
                HeapCounters.Add(&heap->Counters, Counter.CallsFree, 1);
                return;
            }
        }
        if (Instrumented.IsOn) Instrumented.Free(ThreadHeap.Current, pointer); else CAllocator.Free(ThreadHeap.Current, pointer);
    }

    [RuntimeExport("calloc")] public static void* Calloc(nuint count, nuint size) => Instrumented.IsOn ? Instrumented.Calloc(ThreadHeap.Get(), count, size) : CAllocator.Calloc(ThreadHeap.Get(), count, size);
    [RuntimeExport("realloc")]
    public static void* Realloc(void* pointer, nuint size)
    {
        // The free fast path's checks, for a TINY/SMALL request (0 frees, bigger ones and
        // NULL take the full path): a block of the caller's own heap is resized or moved
        // without being looked up again.
        if (size - 1 >= Categories.SmallMaxRequest) goto slow;
        if (*FastPaths.SingleThreaded == 0) return ReallocThreaded(pointer, size); // also while the fast paths are closed
        Zone* zone = OwnZoneOfAllocated(FastPaths.SoleHeap, pointer);
        if (zone == null) goto slow;
        return CAllocator.ReallocChecked(FastPaths.SoleHeap, zone, Block.FromPayload(pointer), size);
    slow:
        return ReallocSlow(pointer, size);
    }

    /// <summary>realloc's fast path in a process that has (or had) other threads: a block of the caller's heap (from its pthread_self()) is resized here.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* ReallocThreaded(void* pointer, nuint size)
    {
        if (!FastPaths.Open) return ReallocSlow(pointer, size);
        nuint self = Pthread.Self();
        Heap* heap = ThreadHeap.Own(self);
        if (heap == null) return ReallocSlow(pointer, size);
        Zone* zone = OwnZoneOfAllocated(heap, pointer);
        if (zone == null) return ReallocSlow(pointer, size);
        return CAllocator.ReallocChecked(heap, zone, Block.FromPayload(pointer), size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* ReallocSlow(void* pointer, nuint size) => Instrumented.IsOn ? Instrumented.Realloc(ThreadHeap.Get(), pointer, size) : CAllocator.Realloc(ThreadHeap.Get(), pointer, size);
    [RuntimeExport("reallocarray")] public static void* ReallocArray(void* pointer, nuint count, nuint size) => Instrumented.IsOn ? Instrumented.ReallocArray(ThreadHeap.Get(), pointer, count, size) : CAllocator.ReallocArray(ThreadHeap.Get(), pointer, count, size);
    [RuntimeExport("posix_memalign")] public static int PosixMemalign(void** result, nuint alignment, nuint size) => Instrumented.IsOn ? Instrumented.PosixMemalign(ThreadHeap.Get(), result, alignment, size) : CAllocator.PosixMemalign(ThreadHeap.Get(), result, alignment, size);
    [RuntimeExport("aligned_alloc")] public static void* AlignedAlloc(nuint alignment, nuint size) => Instrumented.IsOn ? Instrumented.AlignedAlloc(ThreadHeap.Get(), alignment, size) : CAllocator.AlignedAlloc(ThreadHeap.Get(), alignment, size);

    // C23
    [RuntimeExport("free_sized")] public static void FreeSized(void* pointer, nuint size) { if (Instrumented.IsOn) Instrumented.FreeSized(ThreadHeap.Current, pointer, size); else CAllocator.FreeSized(ThreadHeap.Current, pointer, size); }
    [RuntimeExport("free_aligned_sized")] public static void FreeAlignedSized(void* pointer, nuint alignment, nuint size) { if (Instrumented.IsOn) Instrumented.FreeAlignedSized(ThreadHeap.Current, pointer, alignment, size); else CAllocator.FreeAlignedSized(ThreadHeap.Current, pointer, alignment, size); }

    // Obsolete but still called (glibc, BSD)
    [RuntimeExport("memalign")] public static void* Memalign(nuint alignment, nuint size) => Instrumented.IsOn ? Instrumented.Memalign(ThreadHeap.Get(), alignment, size) : CAllocator.Memalign(ThreadHeap.Get(), alignment, size);
    [RuntimeExport("valloc")] public static void* Valloc(nuint size) => Instrumented.IsOn ? Instrumented.Valloc(ThreadHeap.Get(), size) : CAllocator.Valloc(ThreadHeap.Get(), size);
    [RuntimeExport("pvalloc")] public static void* Pvalloc(nuint size) => Instrumented.IsOn ? Instrumented.Pvalloc(ThreadHeap.Get(), size) : CAllocator.Pvalloc(ThreadHeap.Get(), size);
    [RuntimeExport("cfree")] public static void Cfree(void* pointer) => Free(pointer);
    [RuntimeExport("malloc_usable_size")] public static nuint MallocUsableSize(void* pointer) => Instrumented.IsOn ? Instrumented.UsableSize(ThreadHeap.Current, pointer) : CAllocator.UsableSize(ThreadHeap.Current, pointer);

    // glibc's internal aliases, called by code that wants "the real malloc"
    [RuntimeExport("__libc_malloc")] public static void* LibcMalloc(nuint size) => Malloc(size);
    [RuntimeExport("__libc_free")] public static void LibcFree(void* pointer) => Free(pointer);
    [RuntimeExport("__libc_calloc")] public static void* LibcCalloc(nuint count, nuint size) => Calloc(count, size);
    [RuntimeExport("__libc_realloc")] public static void* LibcRealloc(void* pointer, nuint size) => Realloc(pointer, size);
    [RuntimeExport("__libc_memalign")] public static void* LibcMemalign(nuint alignment, nuint size) => Memalign(alignment, size);
    [RuntimeExport("__libc_valloc")] public static void* LibcValloc(nuint size) => Valloc(size);
    [RuntimeExport("__libc_pvalloc")] public static void* LibcPvalloc(nuint size) => Pvalloc(size);
    [RuntimeExport("__posix_memalign")] public static int LibcPosixMemalign(void** result, nuint alignment, nuint size) => PosixMemalign(result, alignment, size);

    // Introspection (FtMalloc's own)
    // Reports that walk every heap's zones do it inside PageMemory's foreign-reads bracket,
    // and only once the fork handlers are registered (ThreadHeap.EnsureForkHooks).
    [RuntimeExport("show_alloc_mem")] public static void ShowAllocMem() { ThreadHeap.EnsureForkHooks(); PageMemory.BeginForeignReads(); CAllocator.ShowAllocMem(null); PageMemory.EndForeignReads(); }
    [RuntimeExport("show_alloc_mem_ex")] public static void ShowAllocMemEx() { ThreadHeap.EnsureForkHooks(); PageMemory.BeginForeignReads(); AllocationReportEx.Print(null, 1, Settings.ShowDumpBytes); PageMemory.EndForeignReads(); }
    [RuntimeExport("ft_malloc_snapshot")] public static int FtMallocSnapshot(byte* path) => ProcessReports.WriteSnapshot(path);

    // Introspection (glibc's)
    [RuntimeExport("malloc_stats")] public static void MallocStats() => ProcessReports.MallocStats();
    [RuntimeExport("mallinfo2")] public static MallInfo2* MallInfo2(MallInfo2* result) { ThreadHeap.EnsureForkHooks(); PageMemory.BeginForeignReads(); GlibcIntrospection.MallInfo2(null, result); PageMemory.EndForeignReads(); return result; }
    [RuntimeExport("mallinfo")] public static MallInfo* MallInfo(MallInfo* result) { ThreadHeap.EnsureForkHooks(); PageMemory.BeginForeignReads(); GlibcIntrospection.MallInfo(null, result); PageMemory.EndForeignReads(); return result; }
    [RuntimeExport("malloc_info")] public static int MallocInfo(int options, void* stream) => ProcessReports.MallocInfo(options, stream);
    [RuntimeExport("malloc_trim")] public static int MallocTrim(nuint pad) => ProcessReports.Trim(pad);
    [RuntimeExport("mallopt")] public static int Mallopt(int parameter, int value) => Core.CSemantics.Mallopt.Set(parameter, value);
}
