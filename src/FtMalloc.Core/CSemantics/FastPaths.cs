// What the exported malloc, free and realloc test before their fast paths (Exports.cs).
//
// Open: the library is set up (the zone map's root exists, so free's fast path reads it
// without a null test) and no debugging hook is on (Instrumented: tracing and perturbing
// need every call to go through their wrappers). Closed, every call takes the full path,
// which handles the state it finds. A static int is zero before anything runs, so "closed"
// is the value a call made before set-up sees.
//
// SingleThreaded: most programs never start a second thread, and while a process has one
// thread, that thread's heap is the caller's without asking who the caller is. glibc keeps
// __libc_single_threaded non-zero exactly while the calling thread is the process's only
// thread (pthread_create clears it before the new thread exists; 2.36 never sets it again,
// not even in a fork child), so the fast paths test that byte and then use SoleHeap, with
// no pthread_self() call, no heap lookup, and so no saved registers (a malloc/free pair
// 10.1 -> 6.9 ns). When it reads 0 they hand the call to a function of their own that finds
// the caller's heap from pthread_self() (Exports.MallocThreaded and the like). Set by
// ThreadHeap before the fast paths open (glibc's byte, or one that stays 0 if there is no
// such variable or no heap for the one thread), and in a fork child (the forking thread's heap).
namespace FtMalloc.Core.CSemantics;

internal static unsafe class FastPaths
{
    private static int s_open;
    private static int s_ready;

    public static bool Open => s_open != 0;

    // Each alone at the start of a class of its own: NativeAOT loads a static at offset 0 of
    // its class's statics in one instruction, any other through the statics' address (two).
    private static class SingleThreadedByte { public static nint Address; }
    private static class SoleHeapPointer { public static nint Value; }
    private static class KeySlotOffset { public static nuint Value; }

    /// <summary>
    /// Where a thread's heap pointer is, from its pthread_self(): the offset of the word of
    /// glibc's thread descriptor that holds the thread's value of the library's pthread key
    /// (FtMalloc.Native's ThreadHeap finds it at set-up; the threaded fast paths read the
    /// heap there). 0 until then, and for good if none was found: the fast paths then stay
    /// closed. Here, with the other statics set-up writes: alone in a class of the native
    /// library it was laid out on a page of its own, one more page fault at load.
    /// </summary>
    public static nuint KeySlot
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => KeySlotOffset.Value;
        set => KeySlotOffset.Value = value;
    }

    /// <summary>Non-zero while the calling thread is the only thread: then its heap is SoleHeap. Never null once the fast paths are open.</summary>
    public static byte* SingleThreaded
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => (byte*)SingleThreadedByte.Address;
    }

    /// <summary>The heap of the process's only thread (the main thread's; in a fork child, the forking thread's).</summary>
    public static Memory.Heap* SoleHeap
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => (Memory.Heap*)SoleHeapPointer.Value;
    }

#pragma warning disable CS0649 // never written: the byte the single-thread test reads when that path is shut
    private static byte s_never;
#pragma warning restore CS0649

    /// <summary>
    /// The single-thread path: glibc's <paramref name="flag"/> (null: none) and the one
    /// thread's <paramref name="heap"/> (null: none, so the path stays shut).
    /// </summary>
    public static void SetSingleThread(byte* flag, Memory.Heap* heap)
    {
        SoleHeapPointer.Value = (nint)heap;
        SingleThreadedByte.Address = (nint)(flag != null && heap != null ? flag : (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref s_never));
    }

    /// <summary>Set-up is done (and the zone map's root exists): open the fast paths unless a hook is on.</summary>
    public static void MarkReady()
    {
        s_ready = 1;
        Update();
    }

    /// <summary>Recomputes Open; Instrumented calls it whenever a hook changes.</summary>
    public static void Update() => s_open = s_ready != 0 && !Instrumented.IsOn ? 1 : 0;
}
