// The heap behind the exported C ABI: one per process, in static storage, so it exists
// before the first call and can never fail to be created. Set-up runs when ld.so loads
// the library (the link names ft_malloc_on_load as its DT_INIT), or at the first call if
// another library's constructor calls malloc even earlier: it loads the settings, maps
// the first TINY and SMALL zones, then registers the process hooks: fork handlers that
// keep the heap consistent across fork(), and (when a report is asked for) the exit
// handler that writes it. Registration may itself call malloc, so it runs after the heap
// is ready and outside its lock. The heap sits at a page boundary in static storage so
// that its hot fields share one page (see Heap's field order).
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;
using FtMalloc.Core.Os;

namespace FtMalloc.Native;

internal static unsafe class ProcessHeap
{
    private const int PageBytes = 4096;

    /// <summary>Room for the heap at a page boundary (see Heap's field order).</summary>
    private struct HeapStorage
    {
        public fixed byte Bytes[2 * PageBytes + PageBytes];
    }

    private static HeapStorage s_storage;
    private static nint s_heap;   // Heap*, page-aligned inside s_storage; 0 until set up
    private static int s_state;   // 0 untouched, 1 setting up

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* Get()
    {
        Heap* heap = (Heap*)s_heap;
        return heap != null ? heap : SetUp();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Heap* SetUp()
    {
        if (Interlocked.CompareExchange(ref s_state, 1, 0) != 0)
        {
            // Another thread is setting up; settings are read in microseconds.
            while (Volatile.Read(ref s_heap) == 0) Libc.sched_yield();
            return (Heap*)s_heap;
        }
        PageMemory.Initialize();
        Settings.Load();
        nuint storage = (nuint)Unsafe.AsPointer(ref s_storage);
        Heap* heap = (Heap*)((storage + PageBytes - 1) & ~(nuint)(PageBytes - 1));
        heap->Bins.Limit = QuickBins.DefaultLimit;
        Volatile.Write(ref s_heap, (nint)heap);
        ProcessHooks.__register_atfork(
            (delegate* unmanaged<void>)(delegate*<void>)&BeforeFork,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInParent,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInChild,
            null);
        // Zones are mapped ahead of need (the textbook's preallocated zones): the first TINY
        // and SMALL allocations then touch no fresh page of metadata. A refusal is not an
        // error here: the first allocation will try again and report ENOMEM.
        Heap.MapSpareZones(heap);
        // The exit handler only reports; without a report to write it is not registered.
        if (Settings.StatsAtExit)
            ProcessHooks.__cxa_atexit((delegate* unmanaged<void*, void>)(delegate*<void*, void>)&AtExit, null, null);
        return heap;
    }

    [RuntimeExport("ft_malloc_on_load")]
    private static void OnLoad()
    {
        Get();
    }

    // fork(): no other thread may be inside the heap while the address space is copied,
    // or the child would inherit a half-updated heap and a lock nobody will release.
    [RuntimeExport("ft_malloc_before_fork")]
    private static void BeforeFork() => ((Heap*)s_heap)->Lock.Enter();

    [RuntimeExport("ft_malloc_after_fork_parent")]
    private static void AfterForkInParent() => ((Heap*)s_heap)->Lock.Exit();

    [RuntimeExport("ft_malloc_after_fork_child")]
    private static void AfterForkInChild() => ((Heap*)s_heap)->Lock.Reset();

    [RuntimeExport("ft_malloc_at_exit")]
    private static void AtExit(void* unused)
    {
        if (Settings.StatsAtExit) StatsLine.Write((Heap*)s_heap, Settings.OutputFd);
    }
}

/// <summary>libc calls that may allocate: only ever made outside the heap lock.</summary>
internal static unsafe class ProcessHooks
{
    // pthread_atfork is only in libc_nonshared.a since glibc 2.34; this is what it calls.
    [DllImport("libc"), SuppressGCTransition]
    public static extern int __register_atfork(delegate* unmanaged<void> prepare, delegate* unmanaged<void> parent,
                                                delegate* unmanaged<void> child, void* dsoHandle);

    [DllImport("libc"), SuppressGCTransition]
    public static extern int __cxa_atexit(delegate* unmanaged<void*, void> function, void* argument, void* dsoHandle);
}
