// Counters of calls made by threads that have no heap (a thread that only ever frees
// gets none: its frees go to the blocks' owners). They cannot go into a heap's counters,
// whose only writer is the owner, so they are kept here, process-wide, with atomic adds;
// the process's totals (ThreadHeap's exit report, malloc_stats...) add them in.
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.Stats;

internal static unsafe class ProcessCounters
{
    private static HeapCounters s_heapless;

    public static HeapCounters* Heapless => (HeapCounters*)Unsafe.AsPointer(ref s_heapless);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void CountHeapless(Counter counter) => Heapless->AddAtomic(counter, 1);
}
