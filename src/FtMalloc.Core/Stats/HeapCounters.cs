// A heap's counters: one ulong per Counter (Counter.cs), updated by the heap's owner
// with plain adds: the owner is the only writer, so no lock and no atomic is needed, and
// readers on other threads (reports) see each value whole (aligned 8-byte loads).
//
// The malloc and free fast paths (a quick-bin pop or push) count one word per call instead
// of five: the block's bin's entry in _binMallocs or _binFrees. The indexer folds them
// into what they stand for, so no reader sees the difference:
//   Mallocs, CallsMalloc  += sum of _binMallocs     BytesServed += sum of _binMallocs[i] * (16 i - 8)
//   Frees, CallsFree      += sum of _binFrees
//
// Always on, and cheap: an update is an add to memory in the heap's first page (two or
// three instructions as NativeAOT compiles them; the pointer form, Add(HeapCounters*, ...),
// is the shorter). Building with FT_MALLOC_NO_COUNTERS (DefineConstants) compiles every
// update away; only bench/counters does that, to measure what the counters cost.
using System.Runtime.CompilerServices;
using System.Threading;
using FtMalloc.Core.Memory;

namespace FtMalloc.Core.Stats;

internal unsafe struct HeapCounters
{
    /// <summary>Size of the struct (Heap.cs places its outgoing remote-free batch right after it).</summary>
    public const int Bytes = 8 * ((int)Counter.Count + 2 * QuickBins.Count);

    private fixed ulong _values[(int)Counter.Count];
    private fixed ulong _binMallocs[QuickBins.Count];
    private fixed ulong _binFrees[QuickBins.Count];

    public ulong this[Counter counter]
    {
        get
        {
            ulong value = _values[(int)counter];
            switch (counter)
            {
                case Counter.Mallocs or Counter.CallsMalloc:
                    value += BinMallocs();
                    break;
                case Counter.BytesServed:
                    for (int i = 1; i < QuickBins.Count; i++) value += _binMallocs[i] * (ulong)(16 * i - (int)SizeClasses.Categories.BlockOverheadBytes);
                    break;
                case Counter.Frees or Counter.CallsFree:
                    for (int i = 0; i < QuickBins.Count; i++) value += _binFrees[i];
                    break;
            }
            return value;
        }
    }

    /// <summary>
    /// Blocks allocated so far, without the indexer (whose switch compiles to a jump table in
    /// read-only data, a 64 KiB window of the library away from its code): for the slow
    /// paths that read it (Heap.TrimTop).
    /// </summary>
    public readonly ulong Mallocs => _values[(int)Counter.Mallocs] + BinMallocs();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly ulong BinMallocs()
    {
        ulong sum = 0;
        for (int i = 0; i < QuickBins.Count; i++) sum += _binMallocs[i];
        return sum;
    }

    // The fast paths' updates take the heap itself, not its counters: every address below is
    // then the heap plus a constant (and the bin), which NativeAOT folds into the instruction.
    // Given a pointer to the counters instead, it keeps that pointer in a register and adds
    // one lea per update (three instructions more on a malloc/free pair). And each update is
    // written "*a = *a + x", its address twice, not "*a += x": C#'s compound assignment
    // duplicates the address on the IL stack, NativeAOT spills it to a register, and the
    // update became an lea plus an add through that register (free 3, malloc 4 instructions
    // more; FastPathShapeTests checks that no update goes through a bare register).

    /// <summary>The fast path's malloc: one call, one block of bin <paramref name="bin"/>, <paramref name="request"/> bytes asked; <paramref name="heap"/> is the Heap the counters are in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountCachedMalloc(byte* heap, nuint bin, nuint request)
    {
#if !FT_MALLOC_NO_COUNTERS
        // Addresses written out twice, not "+=" (see CountCachedFree).
        *(ulong*)(heap + Heap.CountersOffset + BinMallocsOffset + bin * 8) = *(ulong*)(heap + Heap.CountersOffset + BinMallocsOffset + bin * 8) + 1;
        *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.BytesRequested) = *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.BytesRequested) + request;
        ulong inUse = *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.InUseBytes) + request;
        *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.InUseBytes) = inUse;
        if (inUse > *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.PeakInUseBytes))
            *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.PeakInUseBytes) = inUse;
#endif
    }

    /// <summary>The fast path's free: one call, one block of bin <paramref name="bin"/> that held <paramref name="requested"/> bytes; <paramref name="heap"/> is the Heap the counters are in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountCachedFree(byte* heap, nuint bin, nuint requested)
    {
#if !FT_MALLOC_NO_COUNTERS
        // Each address written out twice rather than "+=": C#'s compound assignment
        // duplicates the address, which NativeAOT then keeps in a register of its own (an lea
        // and the add through it); two equal expressions fold into one add to memory.
        *(ulong*)(heap + Heap.CountersOffset + BinFreesOffset + bin * 8) = *(ulong*)(heap + Heap.CountersOffset + BinFreesOffset + bin * 8) + 1;
        *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.InUseBytes) = *(ulong*)(heap + Heap.CountersOffset + 8 * (int)Counter.InUseBytes) - requested;
#endif
    }

    // Offsets of the bin arrays: the fast paths index them from the struct's address (a
    // fixed buffer indexed through a pointer costs a null check in NativeAOT's code).
    private const int BinMallocsOffset = 8 * (int)Counter.Count;
    private const int BinFreesOffset = BinMallocsOffset + 8 * QuickBins.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Counter counter, ulong amount)
    {
#if !FT_MALLOC_NO_COUNTERS
        _values[(int)counter] = _values[(int)counter] + amount; // not +=: see CountCachedMalloc's comment above
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Subtract(Counter counter, ulong amount)
    {
#if !FT_MALLOC_NO_COUNTERS
        _values[(int)counter] = _values[(int)counter] - amount;
#endif
    }

    /// <summary>in_use_bytes, read without the indexer (whose switch NativeAOT does not inline: a call and some 15 instructions): no bin's share is added to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong InUseBytes(HeapCounters* counters) => ((ulong*)counters)[(int)Counter.InUseBytes];

    /// <summary>The peak of InUseBytes, without the indexer (for the slow paths' policies, like InUseBytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PeakInUseBytes(HeapCounters* counters) => ((ulong*)counters)[(int)Counter.PeakInUseBytes];

    /// <summary>Adds through a pointer: one instruction fewer than the instance form, for the hottest updates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(HeapCounters* counters, Counter counter, ulong amount)
    {
#if !FT_MALLOC_NO_COUNTERS
        ((ulong*)counters)[(int)counter] = ((ulong*)counters)[(int)counter] + amount;
#endif
    }

    /// <summary>
    /// The counters of one block handed out, through one base pointer: in NativeAOT's code
    /// each update is then one address computation and one add, where the instance form
    /// takes a null check and three instructions per counter.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountAllocation(HeapCounters* counters, nuint request, nuint served)
    {
#if !FT_MALLOC_NO_COUNTERS
        ulong* v = (ulong*)counters;
        v[(int)Counter.Mallocs] = v[(int)Counter.Mallocs] + 1;
        v[(int)Counter.BytesRequested] = v[(int)Counter.BytesRequested] + request;
        v[(int)Counter.BytesServed] = v[(int)Counter.BytesServed] + served;
        ulong inUse = v[(int)Counter.InUseBytes] + request;
        v[(int)Counter.InUseBytes] = inUse;
        if (inUse > v[(int)Counter.PeakInUseBytes]) v[(int)Counter.PeakInUseBytes] = inUse;
#endif
    }

    /// <summary>The counters of one block given back (same form as CountAllocation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountFree(HeapCounters* counters, nuint requested)
    {
#if !FT_MALLOC_NO_COUNTERS
        ulong* v = (ulong*)counters;
        v[(int)Counter.Frees] = v[(int)Counter.Frees] + 1;
        v[(int)Counter.InUseBytes] = v[(int)Counter.InUseBytes] - requested;
#endif
    }

    /// <summary><paramref name="count"/> frees at once, of blocks that held <paramref name="requested"/> bytes together.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountFrees(HeapCounters* counters, nuint count, nuint requested)
    {
#if !FT_MALLOC_NO_COUNTERS
        ulong* v = (ulong*)counters;
        v[(int)Counter.Frees] = v[(int)Counter.Frees] + count;
        v[(int)Counter.InUseBytes] = v[(int)Counter.InUseBytes] - requested;
#endif
    }

    /// <summary>For counters that several threads share (ProcessCounters): an atomic add.</summary>
    public void AddAtomic(Counter counter, ulong amount)
    {
#if !FT_MALLOC_NO_COUNTERS
        fixed (ulong* values = _values) Interlocked.Add(ref values[(int)counter], amount);
#endif
    }

    /// <summary>Sets every counter to zero.</summary>
    public void Clear()
    {
        for (int i = 0; i < (int)Counter.Count; i++) _values[i] = 0;
        for (int i = 0; i < QuickBins.Count; i++) _binMallocs[i] = _binFrees[i] = 0;
    }

    /// <summary>Adds every counter of <paramref name="other"/> to this one.</summary>
    public void AddAll(ref HeapCounters other)
    {
        for (int i = 0; i < (int)Counter.Count; i++) _values[i] += other._values[i];
        for (int i = 0; i < QuickBins.Count; i++)
        {
            _binMallocs[i] += other._binMallocs[i];
            _binFrees[i] += other._binFrees[i];
        }
    }

    /// <summary>Adds to a "now" counter and raises its peak companion.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddWithPeak(Counter now, Counter peak, ulong amount)
    {
#if !FT_MALLOC_NO_COUNTERS
        ulong value = _values[(int)now] += amount;
        if (value > _values[(int)peak]) _values[(int)peak] = value;
#endif
    }
}
