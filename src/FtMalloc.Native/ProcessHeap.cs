// The heap behind the exported C ABI: one per process, in static storage, so it exists
// before the first call and can never fail to be created. Set-up runs when ld.so loads
// the library (the link names ft_malloc_on_load as its DT_INIT), or at the first call if
// another library's constructor calls malloc even earlier: it loads the settings and then
// registers the process hooks: fork handlers that keep the heap consistent across fork(),
// and the exit handler that writes the statistics line. Registration may itself call
// malloc, so it runs after the heap is ready and outside its lock.
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
    private static Heap s_heap;
    private static int s_state; // 0 untouched, 1 setting up, 2 ready

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* Get()
    {
        if (Volatile.Read(ref s_state) != 2) SetUp();
        return (Heap*)Unsafe.AsPointer(ref s_heap);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SetUp()
    {
        if (Interlocked.CompareExchange(ref s_state, 1, 0) != 0)
        {
            // Another thread is setting up; settings are read in microseconds.
            while (Volatile.Read(ref s_state) != 2) Libc.sched_yield();
            return;
        }
        PageMemory.Initialize();
        Settings.Load();
        Volatile.Write(ref s_state, 2);
        ProcessHooks.__register_atfork(
            (delegate* unmanaged<void>)(delegate*<void>)&BeforeFork,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInParent,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInChild,
            null);
        ProcessHooks.__cxa_atexit((delegate* unmanaged<void*, void>)(delegate*<void*, void>)&AtExit, null, null);
    }

    [RuntimeExport("ft_malloc_on_load")]
    private static void OnLoad()
    {
        if (Volatile.Read(ref s_state) != 2) SetUp();
    }

    // fork(): no other thread may be inside the heap while the address space is copied,
    // or the child would inherit a half-updated heap and a lock nobody will release.
    [RuntimeExport("ft_malloc_before_fork")]
    private static void BeforeFork() => s_heap.Lock.Enter();

    [RuntimeExport("ft_malloc_after_fork_parent")]
    private static void AfterForkInParent() => s_heap.Lock.Exit();

    [RuntimeExport("ft_malloc_after_fork_child")]
    private static void AfterForkInChild() => s_heap.Lock.Reset();

    [RuntimeExport("ft_malloc_at_exit")]
    private static void AtExit(void* unused)
    {
        if (Settings.StatsAtExit) StatsLine.Write((Heap*)Unsafe.AsPointer(ref s_heap), Settings.OutputFd);
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
