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
// the caller's heap from pthread_self() (Exports.MallocThreaded and the like).
//
// The two tests are one: SingleThreaded is the address of a byte of ours that is always 0
// (Never) plus an offset, which is 0 until the fast paths open, and then, while they stay
// open and the process has its sole heap, glibc's byte's distance from Never. A call made
// before set-up, or while a hook is on, so reads 0 and takes the threaded function, and
// only that tests Open (the exports' single-thread path has no test of its own: a load, a
// compare and a branch less a call). Set by ThreadHeap at set-up (glibc's byte, or none if
// there is no such variable or no heap for the one thread), and in a fork child (the
// forking thread's heap).
namespace FtMalloc.Core.CSemantics;

internal static unsafe class FastPaths
{
    private static int s_open;
    private static int s_ready;

    public static bool Open => s_open != 0;

    // Each at the start of a class of its own: NativeAOT loads a static at offset 0 of its
    // class's statics in one instruction, any other through the statics' address (two).
    // Never follows Offset: its address is that of the class's statics plus a constant.
    private static class SingleThreadedByte { public static nint Offset; public static byte Never; }
    private static class SoleHeapPointer { public static nint Value; }
    private static class SoleHeapTagValue { public static nuint Value; } // no initializer: NativeAOT would add a class-constructor check
    private static class KeySlotOffset { public static nuint Value; }

    /// <summary>glibc's __libc_single_threaded (null: none, or no sole heap), whatever Open says.</summary>
    private static byte* s_glibcFlag;

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

    /// <summary>
    /// Non-zero while the fast paths are open and the calling thread is the process's only
    /// thread: then its heap is SoleHeap. Always readable (Never's address before set-up).
    /// </summary>
    public static byte* SingleThreaded
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref SingleThreadedByte.Never) + SingleThreadedByte.Offset;
    }

    /// <summary>glibc's single-thread byte as set-up found it (null: none, or no sole heap), whether or not the fast paths are open.</summary>
    public static byte* GlibcSingleThreaded => s_glibcFlag;

    /// <summary>The heap of the process's only thread (the main thread's; in a fork child, the forking thread's).</summary>
    public static Memory.Heap* SoleHeap
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => (Memory.Heap*)SoleHeapPointer.Value;
    }

    /// <summary>
    /// SoleHeap's TinyTag (ZoneTag.None once set with no sole heap; 0 before set-up, when the
    /// single-thread path is closed: SetSingleThread sets both before it can open), in a static
    /// of its own: free's single-thread path compares a block's zone tag with it before reading
    /// the block, with no load through SoleHeap (whose first line its bins share with every free).
    /// </summary>
    public static nuint SoleHeapTag
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => SoleHeapTagValue.Value;
    }

    /// <summary>
    /// The single-thread path: glibc's <paramref name="flag"/> (null: none) and the one
    /// thread's <paramref name="heap"/> (null: none, so the path stays shut).
    /// </summary>
    public static void SetSingleThread(byte* flag, Memory.Heap* heap)
    {
        SoleHeapPointer.Value = (nint)heap;
        SoleHeapTagValue.Value = heap != null ? heap->TinyTag : Memory.ZoneTag.None;
        s_glibcFlag = heap != null ? flag : null;
        Update();
    }

    /// <summary>Set-up is done (and the zone map's root exists): open the fast paths unless a hook is on.</summary>
    public static void MarkReady()
    {
        s_ready = 1;
        Update();
    }

    /// <summary>Recomputes Open and the single-thread byte's offset; Instrumented calls it whenever a hook changes.</summary>
    public static void Update()
    {
        s_open = s_ready != 0 && !Instrumented.IsOn ? 1 : 0;
        byte* flag = s_open != 0 ? s_glibcFlag : null;
        SingleThreadedByte.Offset = flag != null ? (nint)(flag - (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref SingleThreadedByte.Never)) : 0;
    }
}
