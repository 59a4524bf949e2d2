// TINY zones are segregated by size class once a heap outgrows its first TINY zone.
//
// A heap starts with one mixed TINY zone (class 0) that serves every TINY size, first fit
// through TLSF, as the textbook has it. When it has no room left for a request, the heap
// turns its size classes on for good: from then on every new TINY zone serves one class (a
// range of block sizes, two per doubling: 32, 48, 64, 80-96, 112-128, 144-192, 208-256,
// 272-384, 400-528; Zone.TinyClass), and each class has free lists of its own (TLSF,
// FreeLists.cs), stored after the heap's struct. Blocks keep their headers, start bits and
// merging: inside a zone nothing changes, only which zone a block comes from.
//
// Why: blocks of one size allocated one after another then sit side by side, away from
// other sizes, as in the size-class pages of mimalloc, jemalloc and tcmalloc, and a
// program that walks its objects (python3's garbage collector walks every container in
// allocation order) touches fewer cache lines and pages: bench/'s python workload 1.21 s
// -> 1.04 s, peak RSS unchanged. Why not from the first byte: a small program (ls) then
// mapped a zone per class it used, 8 for ls, and took 19 more page faults to start.
//
// What it costs, and the answers:
// - Holes. Blocks freed in one class cannot serve another, so a program that frees many
//   blocks of some sizes and then asks for others (bench/'s million) would map new zones
//   beside half-empty ones. A class with no free block borrows one smaller than
//   BorrowMaxBytes from another class (a hole left by frees; a zone's untouched rest is
//   bigger and costs no memory, so it is never borrowed) when much of the TINY zones is
//   free; the block stays in its zone, so what is left of it and its later free go back
//   to that zone's class.
// - Empty zones. The one spare TINY zone is taken over by whichever class needs a zone
//   next (TakeOverSpare) rather than a new one being mapped.
//
// Invariants (HeapValidator checks them)
//   a free TINY block is on ClassLists(heap, its zone's TinyClass), and on no other lists
//   a zone's TinyClass is MixedTinyClass or a class in 1 .. TinyClassCount - 1
//   a zone's TinyClass changes only while the zone is empty
//   TinyClassesOn is 0 until the mixed zone had no room, then 1 for the heap's life
using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    /// <summary>TINY free-list sets: the mixed zone's (0), then the size classes 1 to 9.</summary>
    public const int TinyClassCount = 10;

    /// <summary>The class of a heap's first TINY zone, which serves every TINY size.</summary>
    public const int MixedTinyClass = 0;

    /// <summary>A class borrows from another class's zone only free blocks smaller than this (holes left by frees; a zone's untouched rest is bigger); a power of two (FreeLists.HasFitBelow).</summary>
    public const nuint BorrowMaxBytes = 4096;

    /// <summary>A class borrows holes only while the free lists hold 1 / BorrowFreeShare of the TINY zones' bytes, and releases the quick bins only while they hold as much.</summary>
    public const nuint BorrowFreeShare = 8;

    private static nuint ClassListsOffset => ((nuint)sizeof(Heap) + 63) & ~(nuint)63;

    /// <summary>Bytes of the heap's mapping: the struct, then TINY's lists per class, then the small cache (Heap.SmallCache.cs), then the outgoing remote-free chains (Heap.Remote.cs).</summary>
    private static nuint MappedBytes => PageMemory.RoundUpToPages(OutgoingChainsOffset + OutgoingChainsBytes);

    /// <summary>The free lists of TINY class <paramref name="tinyClass"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FreeLists* ClassLists(Heap* heap, int tinyClass) => (FreeLists*)((byte*)heap + ClassListsOffset) + tinyClass;

    /// <summary>The free lists a free block of <paramref name="zone"/> belongs on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FreeLists* ListsOf(Heap* heap, Zone* zone) =>
        zone->Category == Category.Tiny ? ClassLists(heap, zone->TinyClass) : &heap->SmallFree;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TinyClassOf(nuint blockBytes) => ClassOfGranules((nint)(blockBytes >> Categories.GranuleShift));

    /// <summary>
    /// The class of a block of 16 <paramref name="granules"/> bytes, 2 &lt;= granules &lt;=
    /// TinyMaxGranules: two classes per doubling of granules - 1, twice its log2 plus the bit
    /// below its top bit (which half of the doubling), so that 32, 48, 64, 80-96, 112-128,
    /// 144-192, 208-256 and 272-384-byte blocks are classes 1 to 8, and 400-528 class 9 (the
    /// 528-byte blocks too, which would start class 10). Computed, not looked up: a table is
    /// read-only data, far from the code, and reading it faulted in a 64 KiB window of the
    /// library (fault-around) in every program that carves TINY blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ClassOfGranules(nint granules)
    {
        uint above = (uint)granules - 1;
        int log = BitOperations.Log2(above); // bsr: no POPCNT or LZCNT in the baseline x86-64 the library targets
        int tinyClass = 2 * log + (int)((above >> (log - 1)) & 1); // 32 bytes: log 0, a shift by 31, so 0
        return tinyClass < 1 ? 1 : tinyClass >= TinyClassCount ? TinyClassCount - 1 : tinyClass;
    }

    /// <summary>Smallest and largest block size of TINY class <paramref name="tinyClass"/> (the mixed zone's: every TINY size), for introspection.</summary>
    public static void TinyClassBlockBytes(int tinyClass, out nuint smallest, out nuint largest)
    {
        smallest = 0;
        largest = 0;
        for (int granules = 2; granules <= TinyMaxGranules; granules++)
        {
            if (tinyClass != MixedTinyClass && ClassOfGranules(granules) != tinyClass) continue;
            if (smallest == 0) smallest = (nuint)granules << Categories.GranuleShift;
            largest = (nuint)granules << Categories.GranuleShift;
        }
    }

    /// <summary>Granules of the largest TINY block (528 bytes: a 512-byte request and its header, rounded up).</summary>
    private const int TinyMaxGranules = 33;

    /// <summary>
    /// TINY's TakeFreeBlock: a free block of at least <paramref name="bytes"/> for its class,
    /// unlinked. When the class has none, in this order: the blocks other threads gave back;
    /// a hole of another class if the free lists hold an eighth of the TINY zones' bytes; the
    /// empty spare zone; if the quick bins hold much, the blocks they hold (released, so
    /// they merge) and a hole again; and only then a new zone.
    /// </summary>
    private static Block* TakeTinyBlock(Heap* heap, nuint bytes)
    {
        Block* block;
        if (heap->TinyClassesOn == 0 && (block = TakeMixedBlock(heap, bytes)) != null) return block;
        int tinyClass = TinyClassOf(bytes);
        FreeLists* lists = ClassLists(heap, tinyClass);
        if ((block = lists->TakeFit(bytes)) != null) return block;
        if (heap->Remote.IsPending && DrainRemoteFrees(heap) != 0 && (block = lists->TakeFit(bytes)) != null) return block;
        nuint mapped = TinyMappedBytes(heap);
        if (TinyListedBytes(heap) >= mapped / BorrowFreeShare && (block = BorrowHole(heap, tinyClass, bytes)) != null) return block;
        if (TakeOverSpare(heap, tinyClass) && (block = lists->TakeFit(bytes)) != null) return block;
        if (heap->Bins.CachedBytes(TinyLastBin) >= mapped / BorrowFreeShare && ReleaseQuickBins(heap) != 0
            && ((block = lists->TakeFit(bytes)) != null || (block = BorrowHole(heap, tinyClass, bytes)) != null))
            return block;
        if (MapZone(heap, Category.Tiny, tinyClass)) block = lists->TakeFit(bytes);
        return block;
    }

    /// <summary>
    /// Before the classes are on: a free block from the mixed zone (mapped on the heap's
    /// first TINY request), after remote frees and the quick bins are taken back into it.
    /// Null when it has no room: the classes are then on.
    /// </summary>
    private static Block* TakeMixedBlock(Heap* heap, nuint bytes)
    {
        FreeLists* mixed = ClassLists(heap, MixedTinyClass);
        Block* block = mixed->TakeFit(bytes);
        if (block == null && heap->Remote.IsPending && DrainRemoteFrees(heap) != 0) block = mixed->TakeFit(bytes);
        if (block == null && ReleaseQuickBins(heap) != 0) block = mixed->TakeFit(bytes);
        if (block == null && heap->TinyZones == null && MapZone(heap, Category.Tiny, MixedTinyClass)) block = mixed->TakeFit(bytes);
        if (block == null) heap->TinyClassesOn = 1;
        return block;
    }

    /// <summary>Bytes of the free blocks on every class's lists.</summary>
    private static nuint TinyListedBytes(Heap* heap)
    {
        nuint bytes = 0;
        for (int c = 0; c < TinyClassCount; c++) bytes += ClassLists(heap, c)->FreeBytes;
        return bytes;
    }

    private static nuint TinyMappedBytes(Heap* heap) => heap->TinyZoneCount * Categories.ZoneBytes(Category.Tiny);

    /// <summary>The last quick bin of TINY blocks.</summary>
    private static int TinyLastBin => (int)(Categories.MaxBlockBytes(Category.Tiny) >> Categories.GranuleShift);

    /// <summary>
    /// A free block of at least <paramref name="bytes"/> and under BorrowMaxBytes from
    /// another class's lists, unlinked, or null: a hole of CarveBytes or more if a class has
    /// one (the carve then fills the bin from it), else the first that fits. Which class has
    /// either is told from the classes' bitmaps (FreeLists.HasFitBelow), and only the chosen
    /// class's list head is read: reading each class's first fit to see its size cost a
    /// cache line per class (the heads of nine classes' lists lie 2.3 KB apart), and bench/'s
    /// million borrows 49K times, looking at all nine other classes nearly every time (a
    /// hole of CarveBytes or more is rare there).
    /// </summary>
    private static Block* BorrowHole(Heap* heap, int tinyClass, nuint bytes)
    {
        int fitClass = -1;
        nuint fitBytes = bytes;
        for (int c = 0; c < TinyClassCount; c++)
        {
            if (c == tinyClass) continue;
            FreeLists* lists = ClassLists(heap, c);
            if (!lists->HasFitBelow(bytes, BorrowMaxBytes)) continue; // none, or the smallest fit is a zone's untouched rest
            if (fitClass < 0) fitClass = c;
            if (bytes < CarveBytes && lists->HasFitBelow(CarveBytes, BorrowMaxBytes))
            {
                fitClass = c;
                fitBytes = CarveBytes;
                break;
            }
        }
        if (fitClass < 0) return null;
        FreeLists* fitLists = ClassLists(heap, fitClass);
        Block* fit = fitLists->FindFit(fitBytes);
        fitLists->Remove(fit);
        heap->Counters.Add(Counter.TinyHolesBorrowed, 1);
        return fit;
    }

    /// <summary>Gives the empty spare TINY zone to <paramref name="tinyClass"/>; false if there is none or it is in use.</summary>
    private static bool TakeOverSpare(Heap* heap, int tinyClass)
    {
        Zone* spare = heap->TinySpare;
        if (spare == null || spare->TinyClass == tinyClass || !IsEmpty(spare)) return false;
        Block* area = (Block*)spare->AreaStart;
        ClassLists(heap, spare->TinyClass)->Remove(area);
        spare->TinyClass = tinyClass;
        ClassLists(heap, tinyClass)->Insert(area);
        heap->Counters.Add(Counter.TinySpareTakenOver, 1);
        return true;
    }
}
