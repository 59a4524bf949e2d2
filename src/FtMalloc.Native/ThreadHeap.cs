// Each thread's heap, and the process hooks. A thread's heap is its value of the library's
// pthread key ([ThreadStatic] would need the runtime). The threaded fast paths read it in
// glibc's thread descriptor, at pthread_self() + FastPaths.KeySlot (Own; FindKeySlot finds
// the offset at set-up). The full path finds it from pthread_self() (a call that reads one
// word) in a small table of heaps indexed by a hash of it, checked against the heap's
// OwnerThread; on a miss, pthread_getspecific has the answer and the table is refreshed.
// While the process has only ever had one thread the fast paths skip all this and use the
// main thread's heap (FastPaths.cs: glibc's __libc_single_threaded, looked up here).
//
// The table fallback. Set-up may find no key slot: the library's key is 32 or more (glibc
// keeps those values in blocks of their own; the program, or libraries loaded before the
// library, made 32 keys first), or glibc predates 2.32 (no __libc_single_threaded). Then
// the fast paths still open, and still read pthread_self() + KeySlot, but "pthread_self"
// is HeapAsSelf, which looks the heap up in the table and returns the heap itself, and
// KeySlot is the offset of Heap.SelfPointer, the heap's own address: the fast paths' code
// is the same in both modes (no test a call), and the fallback costs a table lookup a call
// (tests/native/manykeys.c). Before it, no slot closed every fast path, the single-thread
// ones included; and a key of 32 or more hung the process at load: glibc's
// pthread_setspecific callocs the block for such keys, and that calloc, made from set-up,
// waited for set-up to finish. The table now names the heap before its key is set, and
// Attach asks the registry (HeapRegistry.OwnedBy) when a thread's calloc comes back
// while its heap is not yet in its key. A
// thread gets a heap at its first allocation or its first free of another thread's
// block (HeapRegistry.Acquire: an abandoned one if possible): a consumer thread that only
// frees then counts its calls with plain adds on a heap of its own, not with atomic adds
// on the process's shared counters. A free of its own null or bad pointer needs no heap.
// When a thread exits, the key's destructor abandons its heap to the registry.
//
// Set-up runs when ld.so loads the library (the link names ft_malloc_on_load as DT_INIT):
// it reads the settings, creates the key, gives the loading (main) thread its heap with
// a SMALL zone mapped ahead of need and, when a report is asked for, registers the exit
// handler. Registration may itself call malloc, so it runs once the main thread's heap is
// ready. The fork handlers are registered when a second thread gets a heap, a report runs
// or tracing starts (EnsureForkHooks). If another library's constructor calls malloc
// even earlier, that first call runs the set-up.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Native;

internal static unsafe class ThreadHeap
{
    private static uint s_key;
    private static int s_state; // 0 untouched, 1 setting up, 2 ready
    private static int s_forkHooks; // 2 once the fork handlers are registered
    private static nuint s_forkHooksBy; // pthread_self of the thread that registers them
    private const int CacheSlots = 256;
    private static HeapCache s_cache;

    /// <summary>Heap pointers by hash of their owner's pthread_self(); any slot may be stale (checked on use); an empty one names s_noHeap (from set-up on).</summary>
    private struct HeapCache
    {
        public fixed ulong Slots[CacheSlots];
    }

    /// <summary>
    /// What an empty slot names: not a heap, only a Heap's first 16 bytes with an OwnerThread
    /// of 0, which is no thread's pthread_self(), so the fast paths' owner compare rejects it
    /// and they test no slot for null (two instructions a call).
    /// </summary>
    private static NoHeap s_noHeap;

    [StructLayout(LayoutKind.Sequential)]
    private struct NoHeap
    {
        public nuint KindTagState; // Heap's Kind, TinyTag and State
        public nuint OwnerThread;  // at Heap.OwnerThread's offset, 8 (HeapLayoutTests)
    }

    /// <summary>The calling thread's heap, or null if it has none yet (enough for free).</summary>
    public static Heap* Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Heap* sole = SoleHeapOfOnlyThread();
            return sole != null ? sole : CurrentOf(Pthread.pthread_self());
        }
    }

    /// <summary>The caller's heap without asking who the caller is, while the process has one thread (FastPaths.cs); else null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Heap* SoleHeapOfOnlyThread() => *FastPaths.SingleThreaded != 0 ? FastPaths.SoleHeap : null; // non-zero only while open

    /// <summary>The heap of the calling thread, whose pthread_self() is <paramref name="self"/>, or null if it has none yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* CurrentOf(nuint self)
    {
        Heap* heap = Candidate(self);
        return heap != null && heap->OwnerThread == self ? heap : CurrentSlow(self);
    }

    /// <summary>The table's heap for thread <paramref name="self"/>: s_noHeap (whose OwnerThread is 0) or a heap, which is the thread's only if its OwnerThread == self; null only before set-up.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* Candidate(nuint self) => (Heap*)s_cache.Slots[Slot(self)];

    /// <summary>
    /// The heap of the calling thread, whose Pthread.Self() is <paramref name="self"/>, or
    /// null if it has none: its value of the key, read where pthread_getspecific reads it
    /// (one load, no call, nothing shared with other threads); in the table fallback, the
    /// heap's SelfPointer (<paramref name="self"/> is then HeapAsSelf's answer). Only once
    /// the fast paths are open.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* Own(nuint self) => *(Heap**)(self + FastPaths.KeySlot);

    /// <summary>
    /// Bytes of a thread descriptor that FindKeySlot looks through: where glibc keeps the
    /// values of keys 0 to 30 (key 0's at 792 bytes in 2.36; the descriptor is 2,368 bytes
    /// there, and has been bigger than this in every release since the keys' first block
    /// moved into it). A constant, not glibc's own figure (_thread_db_sizeof_pthread): looking
    /// that up at load cost the process two page faults.
    /// </summary>
    private const nuint KeySlotSearchBytes = 1280;

    /// <summary>
    /// The offset from <paramref name="self"/> (the calling thread's pthread_self()) of the
    /// word that holds its value of <paramref name="key"/>, now <paramref name="value"/>, or 0
    /// if there is none in the descriptor's first KeySlotSearchBytes (a key of 32 or more,
    /// whose values glibc keeps in blocks of their own). The word must be the only one there
    /// that holds the value, and must follow the key when its value is changed.
    /// </summary>
    private static nuint FindKeySlot(nuint self, uint key, void* value)
    {
        if (value == null) return 0;
        nuint found = 0;
        for (nuint at = 8; at < KeySlotSearchBytes; at += 8) // not 0: the descriptor's first word is its own address
        {
            if (*(nuint*)(self + at) != (nuint)value) continue;
            if (found != 0) return 0;
            found = at;
        }
        if (found == 0) return 0;
        nuint other;
        Pthread.pthread_setspecific(key, &other);
        bool follows = *(nuint*)(self + found) == (nuint)(&other);
        Pthread.pthread_setspecific(key, value);
        return follows && *(nuint*)(self + found) == (nuint)value ? found : 0;
    }

    /// <summary>
    /// Thread descriptors sit at the tops of their stacks, megabytes apart: a multiplicative
    /// hash (Fibonacci hashing: the top 8 bits of self times 2^64 / golden ratio) spreads them
    /// over the slots whatever the stack size, in two instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Slot(nuint self) => (nuint)((ulong)self * 0x9E3779B97F4A7C15UL >> 56);

    /// <summary>1 in the table fallback (set-up found no key slot).</summary>
    private static int s_tableFallback;

    /// <summary>KeySlot in the table fallback: the offset of Heap.SelfPointer (a key slot is never below 8).</summary>
    private static nuint FallbackKeySlot => (nuint)((byte*)&((Heap*)Unsafe.AsPointer(ref s_noHeap))->SelfPointer - (byte*)Unsafe.AsPointer(ref s_noHeap)); // an offset: nothing is read there

    /// <summary>What HeapAsSelf returns for a thread without a heap, read at KeySlot: null.</summary>
    private static nuint s_noHeapWord;

    /// <summary>
    /// Pthread.Self in the table fallback (see the top of the file): the calling thread's
    /// heap, read by the fast paths at that address + KeySlot (its SelfPointer); for a thread
    /// without one, an address whose word at + KeySlot is null (s_noHeapWord): the fast paths
    /// then take the full path, which looks again (and attaches the thread).
    /// </summary>
    private static nuint HeapAsSelf()
    {
        Heap* heap = CurrentOf(Pthread.pthread_self());
        return heap != null ? (nuint)heap : (nuint)Unsafe.AsPointer(ref s_noHeapWord) - FastPaths.KeySlot;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Heap* CurrentSlow(nuint self)
    {
        if (Volatile.Read(ref s_state) != 2) return null;
        Heap* heap = (Heap*)Pthread.pthread_getspecific(s_key);
        if (heap == null || heap == PastExit) return null;
        s_cache.Slots[Slot(self)] = (ulong)heap;
        return heap;
    }

    /// <summary>What the key holds in the table fallback once its destructor abandoned the thread's heap (OnThreadExit): no heap.</summary>
    private static byte s_pastExit;

    private static Heap* PastExit => (Heap*)Unsafe.AsPointer(ref s_pastExit);

    /// <summary>
    /// The calling thread is exiting, past its key's destructor, so a heap attached now would
    /// never be abandoned (known in the table fallback only, see OnThreadExit): a free from
    /// it is handed back without one.
    /// </summary>
    public static bool IsPastExit => s_tableFallback != 0 && Pthread.pthread_getspecific(s_key) == PastExit;

    /// <summary>The calling thread's heap, created (or adopted) on its first allocation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* Get()
    {
        Heap* sole = SoleHeapOfOnlyThread();
        return sole != null ? sole : GetOf(Pthread.pthread_self());
    }

    /// <summary>Get, for a caller that already has its pthread_self() in <paramref name="self"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Heap* GetOf(nuint self)
    {
        Heap* heap = CurrentOf(self);
        return heap != null ? heap : Attach();
    }

    /// <summary>GetOf for a thread whose first call frees a block of <paramref name="preferred"/>: that heap if it is in the pool (HeapRegistry.Acquire).</summary>
    public static Heap* GetOf(nuint self, Heap* preferred)
    {
        Heap* heap = CurrentOf(self);
        return heap != null ? heap : Attach(preferred);
    }

    /// <summary>Gives the calling thread a heap (<paramref name="preferred"/> if it is in the pool); null only if not even a heap's two pages can be mapped (the C layer then says ENOMEM).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Heap* Attach(Heap* preferred = null)
    {
        if (Volatile.Read(ref s_state) != 2)
        {
            SetUp(null);
            Heap* mine = (Heap*)Pthread.pthread_getspecific(s_key);
            if (mine != null) return mine;
        }
        nuint self = Pthread.pthread_self();
        EnsureForkHooks();
        // Registering may have called malloc, which attached this thread already.
        Heap* heap = CurrentSlow(self);
        if (heap != null) return heap;
        // A calloc from pthread_setspecific below (a key of 32 or more, so the table
        // fallback: glibc's block for the thread's values), whose table slot another thread
        // took in between. (A walk of every heap under the registry's lock: not for keys below 32.)
        if (s_tableFallback != 0)
        {
            heap = HeapRegistry.OwnedBy(self);
            if (heap != null) return heap;
        }
        heap = HeapRegistry.Acquire(self, preferred);
        if (heap != null)
        {
            s_cache.Slots[Slot(self)] = (ulong)heap; // first: pthread_setspecific may calloc, which finds the heap here
            Pthread.pthread_setspecific(s_key, heap);
        }
        return heap;
    }

    /// <summary>DT_INIT: ld.so calls it as it calls every initializer, with argc, argv and the environment.</summary>
    [RuntimeExport("ft_malloc_on_load")]
    private static void OnLoad(int argc, byte** argv, byte** environment) => SetUp(environment);

    /// <summary>Set-up, once; <paramref name="environment"/> is null when the first malloc runs it.</summary>
    private static void SetUp(byte** environment)
    {
        if (Interlocked.CompareExchange(ref s_state, 1, 0) != 0)
        {
            // Another thread is setting up; it takes microseconds.
            while (Volatile.Read(ref s_state) != 2) Libc.sched_yield();
            return;
        }
        PageMemory.Initialize();
        // Without a variable of ours in the environment every setting is a default: no hook
        // to set up, and nothing of the settings table is read (a page of it less to fault in).
        // When a malloc sets up, before ld.so calls OnLoad (an initializer of another library
        // allocated first: ls's libselinux), the environment is libc's environ.
        bool configured = Settings.Load(environment != null ? environment : ProcessEnvironment());
        if (configured) ProcessReports.OnSettingsLoaded();
        uint key;
        Pthread.pthread_key_create(&key, (delegate* unmanaged<void*, void>)(delegate*<void*, void>)&OnThreadExit);
        s_key = key;
        ulong noHeap = (ulong)Unsafe.AsPointer(ref s_noHeap);
        for (int i = 0; i < CacheSlots; i++) s_cache.Slots[i] = noHeap; // before the fast paths open (the statics' page is written here anyway)
        Heap* main = HeapRegistry.Acquire(Pthread.pthread_self());
        if (main != null)
        {
            // A SMALL zone is mapped ahead of need (the textbook's preallocated zones): the
            // first SMALL allocations then touch no fresh page of metadata. The TINY zone is
            // mapped by the first TINY allocation, which takes the slow path anyway: at load
            // its header page would be one more page fault in every program, even in one
            // that never allocates. A refusal is not an error here: the first allocation
            // tries again and reports ENOMEM.
            Heap.MapSpareZones(main, Category.Small);
            s_cache.Slots[Slot(main->OwnerThread)] = (ulong)main; // first: with a key of 32 or more pthread_setspecific callocs, which finds the heap here
            Pthread.pthread_setspecific(key, main);
        }
        Volatile.Write(ref s_state, 2);
        // The names are written on the stack, not read from literals: ld.so's lookup would
        // otherwise fault in a page of the library's read-only data for these few bytes.
        // (A struct, not stackalloc, which would read the stack-guard cookie, on a page of its own.)
        SymbolName name;
        name.Head = 0x5F64616572687470; // "pthread_"
        name.Middle = 0x00000000666C6573; // "self\0"
        name.Tail = 0;
        delegate*<nuint> libcSelf = (delegate*<nuint>)Pthread.dlsym(null, (byte*)&name); // RTLD_DEFAULT
        name.Head = 0x735F6362696C5F5F; // "__libc_s"
        name.Middle = 0x68745F656C676E69; // "ingle_th"
        name.Tail = 0x0000646564616572; // "readed\0"
        byte* singleThreaded = (byte*)Pthread.dlsym(null, (byte*)&name); // the variable is glibc 2.32's
        FastPaths.SetSingleThread(singleThreaded, main);
        // glibc's own byte (2.32 and later): without it, as without a slot, the table fallback.
        // (Not FastPaths.SingleThreaded: it reads 0 until the fast paths open.)
        nuint slot = singleThreaded != null && *singleThreaded != 0 && main != null ? FindKeySlot(main->OwnerThread, key, main) : 0;
        if (slot != 0)
        {
            FastPaths.KeySlot = slot;
            Pthread.Self = libcSelf;
        }
        else
        {
            FastPaths.KeySlot = FallbackKeySlot;
            s_tableFallback = 1;
            Pthread.Self = &HeapAsSelf;
        }
        // A managed pointer with bit 1 set would be taken for a "fat" generic pointer: a libc
        // function is at least 16-byte aligned, but say no rather than trust it.
        if (ZoneMap.EnsureRoot() && libcSelf != null && ((nuint)libcSelf & 2) == 0) FastPaths.MarkReady(); // else every call takes the full path
        // The fork handlers flush the trace, and keep the registry and the heaps of other
        // threads consistent in the child: with one heap, no trace and no report running,
        // fork has nothing to protect, so they wait for a second thread (EnsureForkHooks).
        if (configured && Trace.IsOn) EnsureForkHooks();
        // The exit handler only reports; without a report to write it is not registered.
        if (configured && ProcessReports.NeedsExitHandler)
            ProcessHooks.__cxa_atexit((delegate* unmanaged<void*, void>)(delegate*<void*, void>)&AtExit, null, null);
    }

    /// <summary>
    /// Registers the fork handlers, once, before a second heap exists or a report walks the
    /// heaps (the callers: Attach, the report exports) or when tracing starts. Until then a
    /// process has one heap, its own thread's, and a fork has nothing to lock or retire; a
    /// single-threaded program so never registers them (one page fault of libc less at
    /// start-up, measured). Other threads wait until the handlers are in; the registering thread goes
    /// on if registration calls malloc (which attaches it: Attach checks again).
    /// </summary>
    public static void EnsureForkHooks()
    {
        if (Volatile.Read(ref s_forkHooks) == 2) return;
        nuint self = Pthread.pthread_self();
        if (Interlocked.CompareExchange(ref s_forkHooksBy, self, 0) != 0)
        {
            if (Volatile.Read(ref s_forkHooksBy) == self) return; // a malloc from inside __register_atfork
            while (Volatile.Read(ref s_forkHooks) != 2) Libc.sched_yield();
            return;
        }
        ProcessHooks.__register_atfork(
            (delegate* unmanaged<void>)(delegate*<void>)&BeforeFork,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInParent,
            (delegate* unmanaged<void>)(delegate*<void>)&AfterForkInChild,
            null);
        Volatile.Write(ref s_forkHooks, 2);
    }

    /// <summary>
    /// libc's environ (null if dlsym does not find it), read as SetUp reads its other symbols.
    /// Unlike those lookups it runs before set-up is done, where a malloc of this thread would
    /// wait for set-up forever: dlsym allocates only to report a failure, and every glibc
    /// defines environ (the library relies on glibc already: its thread descriptor, its
    /// single-thread byte).
    /// </summary>
    private static byte** ProcessEnvironment()
    {
        SymbolName name;
        name.Head = 0x006E6F7269766E65; // "environ\0"
        name.Middle = 0;
        name.Tail = 0;
        byte*** environ = (byte***)Pthread.dlsym(null, (byte*)&name);
        return environ != null ? *environ : null;
    }

    /// <summary>A NUL-terminated symbol name of up to 23 characters, built in registers.</summary>
    private struct SymbolName
    {
        public ulong Head;
        public ulong Middle;
        public ulong Tail;
    }

    [RuntimeExport("ft_malloc_on_thread_exit")]
    private static void OnThreadExit(void* heap)
    {
        // In the table fallback the key is 32 or more, and glibc frees the block that holds
        // its value after the destructors, with free: a free from a thread with no heap,
        // which would attach one (FreeRemoteFromUnknownHeap) that stays Owned by a dead
        // thread, its memory and remote frees never taken back (tests/native/threads.c
        // kept 76 MB resident). So the key is left holding PastExit, set again at each of
        // glibc's destructor rounds (4), which that free reads. (With the key slot the fast
        // paths read the key's value as the heap: PastExit is never stored then.)
        if (heap != PastExit) HeapRegistry.Abandon((Heap*)heap);
        if (s_tableFallback != 0) Pthread.pthread_setspecific(s_key, PastExit);
    }

    // fork(): the registry is locked across it; in the child, the heaps of the threads
    // that do not exist there are retired (HeapRegistry.cs).
    [RuntimeExport("ft_malloc_before_fork")]
    private static void BeforeFork()
    {
        ProcessReports.BeforeFork();
        HeapRegistry.BeforeFork();
    }

    [RuntimeExport("ft_malloc_after_fork_parent")]
    private static void AfterForkInParent()
    {
        HeapRegistry.AfterForkInParent();
        ProcessReports.AfterForkInParent();
    }

    [RuntimeExport("ft_malloc_after_fork_child")]
    private static void AfterForkInChild()
    {
        // The child's one thread is the one that forked: if glibc says the child is single-
        // threaded (2.36 does not, after threads existed), its heap is the sole heap.
        Heap* current = CurrentOf(Pthread.pthread_self()); // not Current: SoleHeap is the parent's main thread's until set here
        FastPaths.SetSingleThread(FastPaths.GlibcSingleThreaded, current);
        HeapRegistry.AfterForkInChild(current);
        PageMemory.ResetForeignReadsInChild();
        ProcessReports.AfterForkInChild();
    }

    [RuntimeExport("ft_malloc_at_exit")]
    private static void AtExit(void* unused) => ProcessReports.AtExit();
}

/// <summary>Thread-specific data: the thread's heap pointer. None of these calls allocates for the library's own key.</summary>
internal static unsafe class Pthread
{
    [DllImport("libc"), SuppressGCTransition]
    public static extern int pthread_key_create(uint* key, delegate* unmanaged<void*, void> destructor);

    [DllImport("libc"), SuppressGCTransition]
    public static extern void* pthread_getspecific(uint key);

    [DllImport("libc"), SuppressGCTransition]
    public static extern nuint pthread_self();

    [DllImport("libc"), SuppressGCTransition]
    public static extern void* dlsym(void* handle, byte* name);

    // The fast paths call pthread_self through this pointer, typed as a managed function:
    // a managed call is a plain `call` (x86-64 System V passes and returns the same way),
    // without the GC poll NativeAOT adds after a [SuppressGCTransition] P/Invoke, which
    // costs two instructions and, being a call on the path, two more saved registers.
    // Set once by ThreadHeap.SetUp, before the fast paths open; never read before. In the
    // table fallback it is ThreadHeap.HeapAsSelf, which returns no thread's identity: only
    // Own may take its answer.
    public static delegate*<nuint> Self;

    [DllImport("libc"), SuppressGCTransition]
    public static extern int pthread_setspecific(uint key, void* value);
}

/// <summary>libc calls that may allocate: only ever made once the calling thread has a heap.</summary>
internal static unsafe class ProcessHooks
{
    // pthread_atfork is only in libc_nonshared.a since glibc 2.34; this is what it calls.
    [DllImport("libc"), SuppressGCTransition]
    public static extern int __register_atfork(delegate* unmanaged<void> prepare, delegate* unmanaged<void> parent,
                                                delegate* unmanaged<void> child, void* dsoHandle);

    [DllImport("libc"), SuppressGCTransition]
    public static extern int __cxa_atexit(delegate* unmanaged<void*, void> function, void* argument, void* dsoHandle);
}
