// Every shared heap of the process, and the pool of heaps whose threads have exited.
// A thread gets a heap from Acquire: an abandoned one if there is one (with the blocks
// its last owner left behind, which stay valid; the heap of the block a thread frees
// before it has a heap, if that heap is in the pool), else a new one. When the thread exits,
// Abandon gives back what it can (remote frees taken in, quick bins released unless the
// heap holds KeepBinsFromBytes or more in use, free LARGE
// extents unmapped, the pages of the empty spare zones released with madvise: the zones
// stay, so the next thread to adopt the heap maps nothing) and puts the heap in the pool. Heaps are never unmapped: 10,000
// short-lived threads reuse a handful of heaps.
//
// A heap in the pool still receives remote frees. The thread that pushes one sees the
// Abandoned state and reclaims: it takes the heap (Abandoned -> Reclaiming), frees the
// pushed blocks as the owner would, returns empty zones, and puts it back. So a program
// whose threads have all exited still gets its memory back when other threads free.
//
// fork(): the registry lock is held across fork. In the child only the forking thread
// exists; a heap that another thread owned (or was reclaiming) at that moment may be
// half-updated, so it becomes Dead: never adopted or reclaimed again. Its blocks stay
// valid and frees of them are accepted (they wait on its remote list forever).
//
// Invariants
//   every shared heap ever created is on s_all exactly once
//   OwnerThread != 0  <=>  State == Owned (and not Dead), and it names the owner
//   a heap on s_abandoned is Abandoned, Reclaiming or Dead (Dead ones are dropped lazily)
//   State transitions: Owned -> Abandoned (its owner, at exit); Abandoned -> Owned (Acquire);
//   Abandoned <-> Reclaiming (TryReclaim); Owned/Reclaiming -> Dead (fork child only)
using System.Threading;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal static unsafe class HeapRegistry
{
    private static SpinLock s_lock;
    private static nint s_all;        // Heap*, linked by NextInRegistry
    private static nint s_abandoned;  // Heap*, linked by NextAbandoned

    /// <summary>
    /// A heap for the thread <paramref name="self"/> (its pthread_self), which has none:
    /// <paramref name="preferred"/> if it is in the pool (a thread whose first call frees a
    /// block of an abandoned heap adopts that heap: its next frees of that heap's blocks are
    /// its own, not remote), else the last heap abandoned, else a new one; null when no
    /// memory can be mapped.
    /// </summary>
    public static Heap* Acquire(nuint self, Heap* preferred = null)
    {
        Heap* heap = null;
        s_lock.Enter();
        Heap** link = (Heap**)System.Runtime.CompilerServices.Unsafe.AsPointer(ref s_abandoned);
        if (preferred != null)
        {
            for (; *link != null; link = &(*link)->NextAbandoned)
            {
                if (*link != preferred) continue;
                if (Interlocked.CompareExchange(ref preferred->State, HeapState.Owned, HeapState.Abandoned) == HeapState.Abandoned)
                {
                    *link = preferred->NextAbandoned;
                    heap = preferred;
                }
                break;
            }
            link = (Heap**)System.Runtime.CompilerServices.Unsafe.AsPointer(ref s_abandoned);
        }
        while (heap == null && *link != null)
        {
            Heap* candidate = *link;
            int state = Interlocked.CompareExchange(ref candidate->State, HeapState.Owned, HeapState.Abandoned);
            if (state == HeapState.Abandoned || state == HeapState.Dead)
            {
                *link = candidate->NextAbandoned; // taken, or dropped for good
                if (state == HeapState.Abandoned)
                {
                    heap = candidate;
                    break;
                }
                continue;
            }
            link = &candidate->NextAbandoned; // being reclaimed right now: leave it
        }
        s_lock.Exit();
        if (heap == null)
        {
            heap = Heap.Create(HeapKind.Shared);
            if (heap == null) return null;
            heap->SelfPointer = heap;
            s_lock.Enter();
            heap->NextInRegistry = (Heap*)s_all;
            s_all = (nint)heap;
            s_lock.Exit();
        }
        Volatile.Write(ref heap->OwnerThread, self);
        if (heap->Remote.IsPending) Heap.DrainRemoteFrees(heap);
        return heap;
    }

    /// <summary>
    /// The heap thread <paramref name="self"/> owns, or null: for a thread whose heap is not
    /// yet in its key (pthread_setspecific of a key of 32 or more allocates glibc's block for
    /// the thread's values: that calloc comes here while the thread's heap is Acquired but
    /// not yet stored). OwnerThread names the owner only (Abandon clears it first).
    /// </summary>
    public static Heap* OwnedBy(nuint self)
    {
        Heap* found = null;
        s_lock.Enter();
        for (Heap* h = (Heap*)s_all; h != null; h = h->NextInRegistry)
        {
            if (Volatile.Read(ref h->OwnerThread) != self || Volatile.Read(ref h->State) != HeapState.Owned) continue;
            found = h;
            break;
        }
        s_lock.Exit();
        return found;
    }

    /// <summary>
    /// A heap abandoned with this many bytes in use or more keeps its quick bins (and small
    /// cache) for the next owner: they hold at most an eighth (a sixteenth) of the bytes in
    /// use, and a heap that big is most likely adopted by a thread that takes over its blocks
    /// (larson), which would carve the same blocks again. A small heap's bins are released:
    /// short threads' heaps (threadchurn) would otherwise keep their zones' pages.
    /// </summary>
    private const ulong KeepBinsFromBytes = 256 * 1024;

    /// <summary>The owner of <paramref name="heap"/> is exiting: tidy the heap and put it in the pool.</summary>
    public static void Abandon(Heap* heap)
    {
        Heap.FlushRemoteBatch(heap);
        Heap.DrainRemoteFrees(heap);
        if (Stats.HeapCounters.InUseBytes(&heap->Counters) < KeepBinsFromBytes) Heap.ReleaseQuickBins(heap);
        Heap.ReleaseSparePages(heap);
        Heap.ReleaseLargeExtents(heap);
        s_lock.Enter();
        Volatile.Write(ref heap->OwnerThread, 0);
        Volatile.Write(ref heap->State, HeapState.Abandoned);
        heap->NextAbandoned = (Heap*)s_abandoned;
        s_abandoned = (nint)heap;
        s_lock.Exit();
        // A free pushed between the drain and the state change found the heap Owned and
        // left the work to the owner, which is gone: do it now.
        if (heap->Remote.IsPending) TryReclaim(heap);
    }

    /// <summary>Takes in the remote frees of an abandoned heap, unless someone else is on it.</summary>
    public static void TryReclaim(Heap* heap)
    {
        while (Interlocked.CompareExchange(ref heap->State, HeapState.Reclaiming, HeapState.Abandoned) == HeapState.Abandoned)
        {
            Heap.DrainRemoteFrees(heap);
            Heap.ReleaseQuickBins(heap); // the drained blocks went to the bins: merge them now
            Heap.ReleaseSparePages(heap);
            Heap.ReleaseLargeExtents(heap);
            Volatile.Write(ref heap->State, HeapState.Abandoned);
            if (!heap->Remote.IsPending) return; // else a push came in while we held it
        }
    }

    /// <summary>Adds every heap's counters into <paramref name="total"/> (peaks add up to an upper bound of the process's peak).</summary>
    public static void SumCounters(HeapCounters* total)
    {
        s_lock.Enter();
        for (Heap* h = (Heap*)s_all; h != null; h = h->NextInRegistry) total->AddAll(ref h->Counters);
        s_lock.Exit();
    }

    public static void BeforeFork() => s_lock.Enter();

    public static void AfterForkInParent() => s_lock.Exit();

    /// <summary>In the child: only <paramref name="survivor"/>'s thread exists; heaps other threads were using are now Dead.</summary>
    public static void AfterForkInChild(Heap* survivor)
    {
        s_lock.Reset();
        for (Heap* h = (Heap*)s_all; h != null; h = h->NextInRegistry)
        {
            if (h == survivor) continue;
            h->OwnerThread = 0; // that thread is not in the child; its pthread_t may be reused
            int state = h->State;
            if (state == HeapState.Owned || state == HeapState.Reclaiming) h->State = HeapState.Dead;
        }
    }
}
