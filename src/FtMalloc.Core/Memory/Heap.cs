// A heap owns zones and hands out blocks from them. It is the unit of ownership: one
// thread at a time owns a heap and only the owner changes its blocks, lists and zones,
// so no operation takes a lock. The C ABI gives every thread a heap of its own
// (FtMalloc.Native's ThreadHeap, HeapRegistry.cs); a block freed by another thread goes
// back to its owner through the owner's remote-free list (Heap.Remote.cs). The managed
// API's heaps are Standalone: their callers serialise the calls, and a block of any other
// heap is an error. A heap lives in pages of its own, mapped by Create.
//
// Glossary
//   zone      a mapping owned by this heap (Zone.cs); TINY/SMALL zones hold many blocks
//   block     a piece of a zone (Block.cs); free blocks sit on the category's FreeLists
//   spare     the one empty zone per category that stays mapped instead of going back
//   owner     the thread that may change the heap (HeapRegistry hands heaps to threads)
//   remote    a free of a block by a thread that does not own its heap
//
// Invariants (HeapValidator checks them all)
//   a TINY block is on its zone's class lists (ClassLists), a SMALL one on SmallFree  <=>  it is free
//   a TINY block is in Bins  <=>  it is cached (QuickBins.cs)
//   a SMALL block is in Bins (up to 1,040 bytes) or the small cache (SmallCache.cs)  <=>  it is cached
//   Bins.Limit >= BinLimitBase; == BinLimitBase right after ReleaseQuickBins
//   every zone of this heap is on exactly one of TinyZones/SmallZones/LargeZones
//   TinyZoneCount == the length of TinyZones
//   every empty TINY/SMALL zone is the spare of its category (so at most one each)
//   Counters[InUseBytes] == sum of Requested over allocated blocks and LARGE zones
//
// The first malloc of a new heap: Allocate(h, 24) finds TINY and asks for a 32-byte block
// (24 plus the 8 bytes a block costs, rounded up to 16: Block.cs); the quick bin is empty
// and so are the class's free lists (Heap.TinyClasses.cs), so MapZone maps a 256 KiB zone
// for the class of 32-byte blocks and files its whole area as one free block, and the
// second search finds it; TakeAndCarve cuts seven 32-byte blocks
// into the bin and an eighth to return, and files the rest; Commit marks the block
// allocated and counts it; zone + 0x140 is returned (80-byte zone header + seven cached
// blocks + the block's 16-byte header), and its start bit set in the zone map (ZoneMap.cs).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Memory;

[StructLayout(LayoutKind.Sequential)]
internal unsafe partial struct Heap
{
    // Field order matters. The fast paths read OwnerThread at a small offset (NativeAOT
    // adds an explicit null check to a field read far from the pointer) and reach Bins and
    // Counters at constant offsets (BinsOf, CountersOf: NativeAOT null-checks the address of
    // a field taken through a pointer before an indexed access); HeapLayoutTests checks the
    // offsets. Everything else the first TINY and SMALL allocations touch follows closely.
    public HeapKind Kind;
    /// <summary>The zone-map tag of this heap's TINY zones (ZoneTag.cs): free's fast path tells its own zones by it.</summary>
    public ushort TinyTag;
    /// <summary>HeapState: written by HeapRegistry with compare-and-swap.</summary>
    public int State;
    /// <summary>pthread_self() of the owner of a shared heap; 0 while it has none.</summary>
    public nuint OwnerThread;
    public QuickBins Bins;
    public HeapCounters Counters;
    /// <summary>This heap's thread's remote frees not yet pushed to their owner (Heap.Remote.cs): right after the counters, at OutgoingOffset, which free's remote branch adds as a constant.</summary>
    public RemoteBatch Outgoing;
    public Zone* TinyZones;
    public Zone* SmallZones;
    public Zone* LargeZones;
    public Zone* TinySpare;
    public Zone* SmallSpare;
    /// <summary>Bins.Limit the heap was created with; the slow path raises Bins.Limit above it (GrowQuickBins) and ReleaseQuickBins puts it back.</summary>
    public uint BinLimitBase;
    /// <summary>0 while the heap's TINY blocks come from its one mixed zone, 1 once size classes are on (Heap.TinyClasses.cs).</summary>
    public int TinyClassesOn;
    /// <summary>Zones on TinyZones (the size classes' policy weighs free bytes against them).</summary>
    public uint TinyZoneCount;
    /// <summary>
    /// The heap's own address (a shared heap's; null in a Standalone one): where the threaded
    /// fast paths find it when set-up found no key slot in glibc's thread descriptor
    /// (FtMalloc.Native's ThreadHeap, "the table fallback").
    /// </summary>
    public Heap* SelfPointer;
    // Creating a heap and a slow malloc read or write these: they stay in the first page
    // (a read of an untouched page faults as a write does), ahead of the free lists.
    /// <summary>HeapRegistry's links (all heaps; abandoned heaps), under the registry lock.</summary>
    public Heap* NextInRegistry;
    public Heap* NextAbandoned;
    /// <summary>Other threads write here (Heap.Remote.cs): a cache line of its own.</summary>
    public RemoteFreeList Remote;
    /// <summary>
    /// FreeLists keeps its largest lists first, so the list of a fresh SMALL zone's one free
    /// block (16 MiB) ends in the first page too (FreeLists.cs).
    /// </summary>
    public FreeLists SmallFree;
    // TINY's free lists, one set for the mixed zone and one per size class, follow the
    // struct (ClassLists, Heap.TinyClasses.cs).
    /// <summary>The free LARGE address space (Heap.Large.cs); last, so that the first page stays TINY/SMALL's.</summary>
    public LargeExtents Large;
    /// <summary>The heap's mallocs counter when a SMALL zone's top was last trimmed (TrimTop).</summary>
    public ulong TopTrimMallocs;

    // ---- lifetime -------------------------------------------------------------------

    /// <summary>Heaps created so far: the last heap's id (ZoneTag.cs). Here, with the other statics set-up writes.</summary>
    private static int s_heapsCreated;

    /// <summary>A new empty heap in pages of its own; <paramref name="quickBinLimit"/> blocks per quick bin (0: none).</summary>
    public static Heap* Create(HeapKind kind, uint quickBinLimit = QuickBins.DefaultLimit)
    {
        PageMemory.Initialize();
        Heap* heap = (Heap*)PageMemory.Map(MappedBytes, PageMemory.PageSize);
        if (heap == null) return null;
        heap->Kind = kind;
        heap->TinyTag = ZoneTag.ForHeap((uint)Interlocked.Increment(ref s_heapsCreated));
        heap->Bins.SetLimit(quickBinLimit);
        heap->BinLimitBase = quickBinLimit;
        return heap;
    }

    /// <summary>
    /// Maps one TINY (unless <paramref name="from"/> is Small) and one SMALL zone ahead of
    /// need, as the spares of their categories: the process heap maps its SMALL one when
    /// the library is loaded, so that a program's first SMALL allocations find their zone
    /// (and the zone map) ready. False if the system said no.
    /// </summary>
    public static bool MapSpareZones(Heap* heap, Category from = Category.Tiny)
    {
        bool mapped = true;
        for (Category c = from; c <= Category.Small; c++)
        {
            ref Zone* spare = ref c == Category.Tiny ? ref heap->TinySpare : ref heap->SmallSpare;
            if (spare != null || ZoneListOf(heap, c) != null) continue;
            if (MapZone(heap, c, MixedTinyClass)) spare = ZoneListOf(heap, c);
            else mapped = false;
        }
        return mapped;
    }

    /// <summary>
    /// Gives the pages of the empty spare zones back with madvise, keeping the zones mapped:
    /// a heap whose thread exited keeps its spares for the next thread that adopts it
    /// (no mmap/munmap per short-lived thread), without keeping their memory.
    /// </summary>
    public static void ReleaseSparePages(Heap* heap)
    {
        for (Category c = Category.Tiny; c <= Category.Small; c++)
        {
            Zone* spare = c == Category.Tiny ? heap->TinySpare : heap->SmallSpare;
            if (spare == null || !IsEmpty(spare)) continue;
            nuint keep = Categories.PayloadOffset + 16; // the free block's header and list links
            PageMemory.Release(spare->AreaStart + keep, Zone.AreaBytes(spare) - keep);
        }
    }

    /// <summary>Unmaps every zone of the heap, then the heap itself. Its blocks are gone.</summary>
    public static void Destroy(Heap* heap)
    {
        ReleaseQuickBins(heap);
        ReleaseLargeExtents(heap);
        for (Category c = Category.Tiny; c <= Category.Large; c++)
        {
            ref Zone* list = ref ZoneListOf(heap, c);
            while (list != null) ReturnZone(heap, list);
        }
        PageMemory.Unmap(heap, MappedBytes);
    }

    // ---- allocation -----------------------------------------------------------------

    /// <summary>A block of at least <paramref name="request"/> bytes (&lt;= Categories.MaxRequest), 16-byte aligned, or null when memory is exhausted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Allocate(Heap* heap, nuint request) => AllocateWithRoom(heap, request, request);

    /// <summary>
    /// Allocate with a block that holds <paramref name="room"/> bytes (at least
    /// <paramref name="request"/>, and TINY/SMALL like it when it is), committed as a block of
    /// <paramref name="request"/> requested bytes: realloc's moves leave room to grow (GrowthRoom).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte* AllocateWithRoom(Heap* heap, nuint request, nuint room)
    {
        if (heap->Outgoing.Chains != 0) FlushRemoteBatch(heap); // this thread's slow paths also hand its remote frees on
        Category category = Categories.Of(request);
        if (category == Category.Large) return AllocateLarge(heap, request, Categories.Granule);
        nuint blockBytes = Categories.BlockBytesFor(room);
        Block* block;
        if (blockBytes <= QuickBins.MaxBlockBytes)
        {
            // The bin names its block by the payload (QuickBins.cs): a hit returns that.
            byte* cached = QuickBins.PopPayload(BinsOf(heap), blockBytes >> Categories.GranuleShift);
            if (cached != null)
            {
                Commit(heap, Block.FromPayload(cached), request);
                return cached;
            }
            block = TakeAndCarve(heap, category, blockBytes);
        }
        else if ((block = TakeCachedSmall(heap, blockBytes)) == null) // above the quick bins: SMALL
        {
            block = TakeFreeBlock(heap, category, blockBytes);
            if (block != null) Split(heap, category, block, blockBytes);
        }
        byte* payload = null;
        if (block != null)
        {
            Commit(heap, block, request);
            payload = Block.PayloadOf(block);
        }
        return payload;
    }

    /// <summary>Like Allocate, with the first <paramref name="request"/> bytes zero (LARGE: only the part that held old data is cleared).</summary>
    public static byte* AllocateZeroed(Heap* heap, nuint request)
    {
        nuint dirty = request;
        byte* payload = Categories.Of(request) == Category.Large
            ? AllocateLarge(heap, request, Categories.Granule, out dirty)
            : AllocateFast(heap, request); // a cached block of the size if there is one, as malloc
        if (payload != null && dirty != 0) Libc.memset(payload, 0, dirty < request ? dirty : request);
        return payload;
    }

    /// <summary>Like Allocate, with the payload aligned to <paramref name="alignment"/> (a power of two).</summary>
    public static byte* AllocateAligned(Heap* heap, nuint request, nuint alignment)
    {
        if (alignment <= Categories.Granule) return Allocate(heap, request);
        if (request > Categories.SmallMaxRequest || alignment > Categories.SmallMaxRequest)
            return AllocateLarge(heap, request, alignment);
        nuint blockBytes = Categories.BlockBytesFor(request);
        nuint search = blockBytes + alignment + Categories.MinBlockBytes;
        Category category = search <= Categories.MaxBlockBytes(Category.Tiny) ? Category.Tiny
                          : search <= Categories.MaxBlockBytes(Category.Small) ? Category.Small
                          : Category.Large;
        if (category == Category.Large) return AllocateLarge(heap, request, alignment);

        Block* block = TakeFreeBlock(heap, category, search);
        byte* payload = null;
        if (block != null)
        {
            nuint gap = (alignment - ((nuint)Block.PayloadOf(block) & (alignment - 1))) & (alignment - 1);
            if (gap != 0)
            {
                // The gap in front becomes a free block of its own; it needs room for one.
                if (gap < Categories.MinBlockBytes) gap += alignment;
                Zone* zone = Zone.OfBlock(block, category);
                Block* aligned = SplitOff(zone, block, gap);
                block->Info = Block.FlagFree;
                Block.SetPrevFree(aligned, (uint)gap);
                ListsOf(heap, zone)->Insert(block);
                block = aligned;
            }
            Split(heap, category, block, blockBytes);
            Commit(heap, block, request);
            payload = Block.PayloadOf(block);
        }
        return payload;
    }

    /// <summary>
    /// Gives a block back: at once if this heap owns it, through its owner's remote-free
    /// list if another shared heap does (<paramref name="heap"/> may then be null: a thread
    /// that has no heap yet). Returns what was wrong with the pointer, if anything; a bad
    /// pointer changes nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PointerStatus Free(Heap* heap, void* pointer)
    {
        PointerStatus status = Locate(heap, pointer, out Zone* zone, out Block* block);
        if (status == PointerStatus.Valid) FreeOwned(heap, zone, block);
        else if (status == PointerStatus.OtherHeap && IsRemoteFreeAllowed(heap, zone)) status = FreeRemote(zone, pointer);
        return status;
    }

    /// <summary>Bytes in use from which a bin may grow to hold half of them, not an eighth (GrowQuickBins).</summary>
    private const ulong BigHeapBytes = 64 << 20;

    /// <summary>Most blocks per quick bin the slow path lets the bins grow to.</summary>
    public const uint MaxBinLimit = 1u << 20;

    /// <summary>
    /// A free found its quick bin full: doubles the bins' limit if the bin could then still
    /// hold no more than an eighth of the bytes in use (half of them from BigHeapBytes in use
    /// on), and says whether the block now fits. Half for every heap spared python3 its merges
    /// but cost small heaps memory; a big heap's bins give their blocks back before a zone is
    /// mapped (ARCHITECTURE.md, "Growing bins").
    /// Why: a program that frees many blocks of a few sizes and allocates those sizes again
    /// (million, churn) then reuses them without merging and splitting, and its frees touch
    /// no neighbour. The cost is memory no other size can use until the bins are released,
    /// which happens before any zone is mapped (TakeFreeBlock) and before a fresh LARGE
    /// region is mapped (Heap.Large.cs, MapLargeRegion), and which puts the limit back to BinLimitBase.
    /// </summary>
    private static bool GrowQuickBins(Heap* heap, uint blockBytes)
    {
        uint limit = heap->Bins.Limit;
        if (limit == 0 || limit >= MaxBinLimit || blockBytes > QuickBins.MaxBlockBytes) return false;
        ulong inUse = HeapCounters.InUseBytes(CountersOf(heap)); // not the indexer: a call and its switch on every refused growth
        if ((ulong)limit * 2 * blockBytes > (inUse >= BigHeapBytes ? inUse / 2 : inUse / 8)) return false;
        heap->Bins.SetLimit(limit * 2);
        return heap->Bins.HasRoom(blockBytes);
    }

    /// <summary>Most blocks a full bin that may not grow gives back at once (ReleaseBinBatch): 32 gave python3 1,253.1M instructions, 64 1,250.1M, 128 1,248.6M.</summary>
    private const int BinReleaseBatch = 64;

    /// <summary>Part of a full bin's capacity ReleaseBinBatch gives back (a bin of under 8 times BinReleaseBatchFloor blocks gives none).</summary>
    private const int BinReleaseBatchShare = 8;

    /// <summary>Fewest blocks a batch gives back: below it (bins at their base limit, a small heap's) a free beyond the bin merges alone, as it always did.</summary>
    private const int BinReleaseBatchFloor = 8;

    /// <summary>
    /// A free of <paramref name="freed"/> (allocated, its requested bytes already uncounted)
    /// found its bin full and GrowQuickBins refused to grow it: merges it together with the
    /// bin's newest blocks, an eighth of the bin and at most BinReleaseBatch in all, so that
    /// the next frees of its size find room (true); false, and nothing done, when the bin is
    /// overfilled by remote frees (their owner is about to allocate them again: QuickBins.cs)
    /// or holds fewer than BinReleaseBatchShare * BinReleaseBatchFloor blocks (the caller
    /// then merges the block alone).
    /// Why: a program that frees many more blocks of one size than its grown bin holds
    /// (python3 at exit, or its JSON encoder dropping 100,000 strings at once: 262K of its
    /// 1.5M frees in pyalloc.py 15000) took for each block past the bin the whole slow free,
    /// a refused growth (about 120 instructions) and a merge (about 145); now one free in a
    /// batch does that, once, and the others are pushes. The bin keeps its older blocks, as
    /// it did: what is merged is what was (give or take a batch), so the memory is the same.
    /// A block joined into a run (below) costs its mark, one header read and its start bit,
    /// not a merge. python3 pyalloc.py 15000: 1,289.2M -> 1,249.2M instructions.
    /// Runs: blocks of one size freed together were mostly allocated together, side by side
    /// (the batch carve cuts them so): two thirds of python3's batched blocks have a neighbour
    /// in their batch. Each block is marked (Info = Cached | Releasing), and a run grows from
    /// an unmarked-yet block over marked neighbours after it (the next block's header) and
    /// before it (a block of the bin's size ending where it starts: only if its start bit is
    /// set, the bits being exact, is its header read); the run becomes one cached block,
    /// merged once. Every run is built before any is merged, so no header is read in a zone
    /// that a merge gave back. Tried and dropped: prefetching each popped block's neighbours'
    /// headers, 1.3M instructions more and no fewer misses under callgrind (whose cache model
    /// ignores prefetches).
    /// </summary>
    [SkipLocalsInit]
    private static bool ReleaseBinBatch(Heap* heap, Block* freed)
    {
        nuint bin = Block.BinOf(freed);
        QuickBins* bins = BinsOf(heap);
        if (QuickBins.RoomOf(bins, bin) != 0) return false;
        int count = heap->Bins.Capacity(bin) / BinReleaseBatchShare;
        if (count > BinReleaseBatch) count = BinReleaseBatch;
        if (count < BinReleaseBatchFloor) return false;
        const uint Marked = Block.FlagCached | Block.FlagReleasing;
        Block** runs = stackalloc Block*[BinReleaseBatch];
        Zone** zones = stackalloc Zone*[BinReleaseBatch];
        freed->Info = Marked;
        runs[0] = freed;
        for (int i = 1; i < count; i++)
        {
            Block* cached = QuickBins.Pop(bins, bin); // the bin is full: it holds Capacity > count blocks
            cached->Info = Marked;
            runs[i] = cached;
        }
        nuint size = bin << Categories.GranuleShift;
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            Block* first = runs[i];
            if (first->Info != Marked) continue; // joined into an earlier run
            first->Info = Block.FlagCached; // unmarked: no later run joins it (runs are disjoint)
            nuint* leaf = ZoneMap.LeafWrapped((nuint)first); // its zone's entry and start bits: a zone lies in one leaf
            Zone* zone = ZoneMap.ZoneOf(ZoneMap.EntryInLeaf(leaf, (nuint)first));
            Category category = zone->Category;
            byte* area = (byte*)zone + Zone.AreaOffset(category);
            byte* areaEnd = (byte*)zone + Zone.AreaEndOffset(category);
            byte* end = (byte*)first + size;
            while (end < areaEnd && ((Block*)end)->Info == Marked)
            {
                ((Block*)end)->Info = Block.FlagCached;
                ZoneMap.ClearStart(leaf, (nuint)Block.PayloadOf((Block*)end));
                end += size;
            }
            while ((nuint)((byte*)first - area) >= size)
            {
                Block* before = (Block*)((byte*)first - size);
                if (!ZoneMap.IsStartSetInLeaf(leaf, (nuint)Block.PayloadOf(before)) || before->Info != Marked) break;
                before->Info = Block.FlagCached;
                ZoneMap.ClearStart(leaf, (nuint)Block.PayloadOf(first));
                first = before;
            }
            first->SizeWord = (uint)(end - (byte*)first) | (first->SizeWord & Block.PrevFreeBit); // the blocks after it in the run are cached: none is free
            runs[kept] = first;
            zones[kept] = zone;
            kept++;
        }
        for (int k = 0; k < kept; k++) Release(heap, zones[k]->Category, zones[k], runs[k]);
        return true;
    }

    /// <summary>Frees a valid allocated block of this heap: into a quick bin or the small cache, or merged into the free lists, or (LARGE) filed as a free extent.</summary>
    private static void FreeOwned(Heap* heap, Zone* zone, Block* block)
    {
        heap->Counters.Add(Counter.Frees, 1);
        if (zone->Category == Category.Large)
        {
            heap->Counters.Subtract(Counter.InUseBytes, zone->LargeRequested);
            RetireLarge(heap, zone);
            return;
        }
        heap->Counters.Subtract(Counter.InUseBytes, block->Requested);
        if (block->Size <= QuickBins.MaxBlockBytes)
        {
            if (heap->Bins.TryPush(block)) return;
            if (GrowQuickBins(heap, block->Size))
            {
                heap->Bins.Push(block);
                return;
            }
            if (ReleaseBinBatch(heap, block)) return;
        }
        else if (zone->Category == Category.Small && TryCacheSmall(heap, block)) return;
        Release(heap, zone->Category, zone, block);
    }

    /// <summary>
    /// Resizes a block, in place when it can (shrink; grow into a free neighbour; LARGE:
    /// shrink, or grow over the free extents after it), else by moving it. <paramref name="result"/> is null when memory ran out,
    /// and the old block is then untouched.
    /// </summary>
    public static PointerStatus Reallocate(Heap* heap, void* pointer, nuint request, out byte* result)
    {
        result = null;
        PointerStatus status = Locate(heap, pointer, out Zone* zone, out Block* block);
        if (status == PointerStatus.OtherHeap && IsRemoteFreeAllowed(heap, zone))
            return ReallocateForeign(heap, zone, pointer, request, out result);
        if (status != PointerStatus.Valid) return status;
        result = ResizeOrMove(heap, zone, block, pointer, request);
        return status;
    }

    /// <summary>
    /// realloc of a valid allocated block of this heap (<paramref name="block"/> null for
    /// LARGE): in place if it can, else moved; null when memory ran out (the block is then
    /// untouched).
    /// </summary>
    private static byte* ResizeOrMove(Heap* heap, Zone* zone, Block* block, void* pointer, nuint request)
    {
        bool inPlace = zone->Category == Category.Large
            ? TryResizeLargeInPlace(heap, zone, request)
            : Categories.Of(request) == zone->Category && TryResizeInPlace(heap, zone, block, request);
        nuint oldUsable = UsableBytes(zone, block);
        if (inPlace)
        {
            heap->Counters.Add(Counter.Reallocs, 1);
            heap->Counters.Add(Counter.ReallocsInPlace, 1);
            return (byte*)pointer;
        }
        byte* moved;
        if (zone->Category == Category.Large && (moved = TryMoveLarge(heap, zone, request)) != null)
        {
            heap->Counters.Add(Counter.Reallocs, 1);
            return moved;
        }

        moved = AllocateWithRoom(heap, request, GrowthRoom(request, oldUsable));
        if (moved == null) return null;
        CopyForMove(moved, pointer, oldUsable < request ? oldUsable : request);
        PerturbFreed(zone, pointer);
        FreeOwned(heap, zone, block);
        heap->Counters.Add(Counter.Reallocs, 1);
        return moved;
    }

    /// <summary>
    /// Bytes the new block of a realloc that moves a TINY/SMALL block should hold: when the
    /// block grows by a quarter of its size or less (a string appended to, a few bytes at a
    /// time), an eighth more than asked, so that the next appends fit in place
    /// (TryResizeInPlace keeps that room while the block grows); a bigger step (a vector
    /// doubling) gets exactly what it asks for. bench/'s realloc, whose 2,000 strings grow
    /// by exact-size reallocs of 1 to 32 bytes side by side (so none can grow into its
    /// neighbour): moves 795K -> 331K, 3,891M -> 3,737M instructions, user time about 6%
    /// less, peak RSS unchanged (126.1 -> 125.8 MB).
    /// </summary>
    private static nuint GrowthRoom(nuint request, nuint oldUsable)
    {
        nuint room = request + request / 8;
        bool smallStep = request > oldUsable && request - oldUsable <= oldUsable / 4;
        return smallStep && room <= Categories.SmallMaxRequest && Categories.Of(room) == Categories.Of(request) ? room : request;
    }

    /// <summary>
    /// The copy of a realloc that moves a block. A growing block's new home is often memory
    /// no one touched yet (the untouched rest of a zone), and the copy would fault its pages
    /// in one trap at a time: from PrefaultCopyBytes on they are faulted in first, by one
    /// system call, and only the pages the copy writes anyway, so the resident memory is
    /// the same. bench/'s realloc (2,000 vectors doubling at once, 99K faults): system time
    /// 0.21 -> 0.17 s, wall 0.80 -> 0.75 s, peak RSS and faults unchanged; faulting in the
    /// whole new block instead cost 22 MB more peak RSS (1.20x glibc) and more time; 8 KiB and
    /// 32 KiB thresholds measured alike, 32 KiB spends the call only where a copy costs more.
    /// </summary>
    private static void CopyForMove(byte* moved, void* pointer, nuint bytes)
    {
        if (bytes >= PrefaultCopyBytes) PageMemory.Prefault(moved, bytes);
        Libc.memcpy(moved, pointer, bytes);
    }

    private const nuint PrefaultCopyBytes = 32 * 1024;

    /// <summary>realloc of another thread's block: a new block here, the data copied, the old one freed remotely.</summary>
    private static PointerStatus ReallocateForeign(Heap* heap, Zone* zone, void* pointer, nuint request, out byte* result)
    {
        result = null;
        PointerStatus status = CheckForeign(zone, pointer, out nuint oldUsable);
        if (status != PointerStatus.Valid) return status;
        byte* moved = Allocate(heap, request);
        if (moved == null) return status;
        CopyForMove(moved, pointer, oldUsable < request ? oldUsable : request);
        PerturbFreed(zone, pointer);
        status = FreeRemote(zone, pointer);
        heap->Counters.Add(Counter.Reallocs, 1);
        result = moved;
        return status;
    }

    /// <summary>Bytes the caller may use at <paramref name="pointer"/> (at least what it asked for).</summary>
    public static PointerStatus UsableSize(Heap* heap, void* pointer, out nuint usable)
    {
        PointerStatus status = Locate(heap, pointer, out Zone* zone, out Block* block);
        if (status == PointerStatus.OtherHeap && IsRemoteFreeAllowed(heap, zone)) return CheckForeign(zone, pointer, out usable);
        usable = status == PointerStatus.Valid ? UsableBytes(zone, block) : 0;
        return status;
    }

    // ---- the pieces (all called by the owner) ------------------------------------------

    /// <summary>Checks a pointer against the zone map and the start bits before reading any header it seems to have.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PointerStatus Locate(Heap* heap, void* pointer, out Zone* zone, out Block* block)
    {
        block = null;
        zone = null;
        if (((nuint)pointer & (Categories.Granule - 1)) != 0) return PointerStatus.Misaligned;
        zone = ZoneMap.Lookup(pointer);
        if (zone == null) return PointerStatus.NotOurs;
        if (zone->Owner != heap) return PointerStatus.OtherHeap; // the block's header is not ours to read
        if (zone->Category == Category.Large)
            return (byte*)pointer == zone->AreaStart ? PointerStatus.Valid : PointerStatus.NotBlockStart;
        block = Block.FromPayload(pointer);
        if (!Zone.IsBlockStart(zone, block)) return PointerStatus.NotBlockStart;
        return block->IsAllocated ? PointerStatus.Valid : PointerStatus.DoubleFree;
    }

    private static nuint UsableBytes(Zone* zone, Block* block) =>
        zone->Category == Category.Large
            ? (nuint)(zone->AreaEnd - zone->AreaStart)
            : block->Size - Categories.BlockOverheadBytes;

    /// <summary>
    /// A free block of at least <paramref name="bytes"/>, unlinked. When none fits, the blocks
    /// other threads gave back are taken in, then the quick bins are released (their blocks
    /// may merge into one that fits), and only then is a zone mapped. SMALL first looks at
    /// the head of the list its size falls in (FreeLists.TakeExactHead): TLSF's search
    /// rounds up past that list, so a hole of exactly the size asked for (two halves a
    /// doubling realloc left behind, merged) would otherwise lose to the zone's untouched
    /// rest, and the zone would fault in fresh pages while its holes stay resident
    /// (bench/'s realloc: peak RSS 136.0 -> 125.1 MB, glibc 123.0).
    /// </summary>
    private static Block* TakeFreeBlock(Heap* heap, Category category, nuint bytes)
    {
        return category == Category.Tiny ? TakeTinyBlock(heap, bytes) : TakeSmallBlock(heap, bytes);
    }

    private static Block* TakeSmallBlock(Heap* heap, nuint bytes)
    {
        const Category category = Category.Small;
        FreeLists* lists = &heap->SmallFree;
        Block* block = lists->TakeExactHead(bytes);
        if (block == null) block = lists->TakeFit(bytes);
        if (block == null && heap->Remote.IsPending && DrainRemoteFrees(heap) != 0) block = lists->TakeFit(bytes);
        if (block == null && ReleaseQuickBins(heap) != 0) block = lists->TakeFit(bytes);
        if (block == null && MapZone(heap, category, 0)) block = lists->TakeFit(bytes);
        return block;
    }

    /// <summary>Pops between taking a cached block out of its bin and merging it (ReleaseQuickBins); a power of two.</summary>
    private const int ReleaseLag = 8;

    /// <summary>
    /// Frees every cached block for real (merging it): the quick bins' and the small
    /// cache's (Heap.SmallCache.cs). Returns how many there were.
    /// The bins are emptied in turns, one block from each non-empty bin a turn: a bin is a
    /// chain through its blocks, and walking one chain to its end waits for each block's
    /// cache miss before the next address is known, while a pop prefetches the next block of
    /// its bin (QuickBins.Unlink), which then arrives during the other bins' releases.
    /// A block is merged ReleaseLag pops after it was taken: at the pop, the lines its merge
    /// reads are asked for (its zone's header, both lines: Category and TinyClass; its word
    /// of the start bits; the next block's header, at 16 i bytes for bin i), and they
    /// arrive while the blocks taken before it merge. Zones are aligned to their size, so
    /// their headers share a few cache sets and were a miss at every merge (bench/'s million,
    /// which releases some 400,000 blocks at once: Release and this loop 8.3% -> 6.8% of
    /// the samples). A block waiting in the ring is still Cached: nothing merges into it, and
    /// its zone cannot empty, so the order of the merges and their result are as before.
    /// </summary>
    public static nuint ReleaseQuickBins(Heap* heap)
    {
        QuickBins* bins = BinsOf(heap);
        byte* pending = stackalloc byte[QuickBins.Count]; // the bins not yet found empty
        int count = 0;
        for (int bin = 2; bin < QuickBins.Count; bin++)
            if (QuickBins.Head(bins, (nuint)bin) != null) pending[count++] = (byte)bin;
        Block** ring = stackalloc Block*[ReleaseLag];
        Zone** ringZones = stackalloc Zone*[ReleaseLag];
        nuint popped = 0;
        while (count > 0)
        {
            int kept = 0;
            for (int i = 0; i < count; i++)
            {
                nuint bin = pending[i];
                byte* payload = QuickBins.PopPayload(bins, bin);
                if (payload == null) continue;
                Block* b = Block.FromPayload(payload);
                nuint* leaf = ZoneMap.LeafWrapped((nuint)b); // a cached block's zone is mapped: no checks
                Zone* zone = ZoneMap.ZoneOf(ZoneMap.EntryInLeaf(leaf, (nuint)b));
                if (Sse.IsSupported)
                {
                    Sse.Prefetch0(zone);
                    Sse.Prefetch0(&zone->TinyClass);
                    Sse.Prefetch0(ZoneMap.StartWordInLeaf(leaf, (nuint)payload));
                    Sse.Prefetch0((byte*)b + 8); // its own header: the line before the link's when b lies 48 bytes into a line
                    Sse.Prefetch0((byte*)b + (bin << Categories.GranuleShift));
                }
                nuint slot = popped++ & (ReleaseLag - 1);
                if (popped > ReleaseLag) ReleaseCached(heap, ringZones[slot], ring[slot]);
                ring[slot] = b;
                ringZones[slot] = zone;
                if (Sse.IsSupported && popped > ReleaseLag / 2)
                {
                    // Half-way to its merge a block's header has arrived: if the block before
                    // it is free, that block's header is read by the merge too.
                    Block* waiting = ring[(popped - 1 - ReleaseLag / 2) & (ReleaseLag - 1)];
                    if (Block.PrevIsFree(waiting)) Sse.Prefetch0(Block.PrevOf(waiting));
                }
                pending[kept++] = (byte)bin;
            }
            count = kept;
        }
        for (nuint k = popped > ReleaseLag ? popped - ReleaseLag : 0; k < popped; k++)
            ReleaseCached(heap, ringZones[k & (ReleaseLag - 1)], ring[k & (ReleaseLag - 1)]);
        if (heap->Bins.Limit != heap->BinLimitBase) heap->Bins.SetLimit(heap->BinLimitBase); // every bin is empty
        return popped + ReleaseSmallCache(heap);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReleaseCached(Heap* heap, Zone* zone, Block* block) => Release(heap, zone->Category, zone, block);

    /// <summary>
    /// Most blocks one quick-bin miss carves: the one asked for and up to this many less one
    /// for the bin (8, was 4: million 122.5M -> 116.1M instructions, python3's peak RSS the
    /// same; blocks over 128 bytes are held back by CarveBytes anyway). A heap with
    /// BigHeapCarveZones TINY zones or more carves BigHeapCarveBlocks of up to 64 bytes.
    /// </summary>
    public const uint CarveBlocks = 8;

    /// <summary>
    /// Most blocks a quick-bin miss carves in a heap of BigHeapCarveZones TINY zones or more
    /// (since the bin takes them as one chain: million 1000000 2 697.3M -> 677.3M
    /// instructions, python3 pyalloc.py 20000 1,954M -> 1,941M, peak RSS of million, python3
    /// and perl the same; 32 gave million 673.1M only). Not in small heaps: with 16 for
    /// every heap bench/'s stress (one thread, 3 TINY zones) peaked at 5.39 MB, not 5.25.
    /// Only blocks of up to 64 bytes (CarveBytes / 16): letting 80 to 112 bytes carve up to
    /// CarveBytes too (12, 10, 9) took bench/'s realloc from 125.2 to 125.6 MB (base 124.7,
    /// glibc 123.0) for 2M of million's instructions.
    /// </summary>
    public const uint BigHeapCarveBlocks = 16;

    /// <summary>TINY zones (of 256 KiB) from which a heap carves BigHeapCarveBlocks a miss.</summary>
    public const uint BigHeapCarveZones = 8;

    /// <summary>Most bytes one quick-bin miss carves: big blocks are not carved ahead, so a malloc/free loop of 1 KiB blocks touches no more pages than it uses (the textbook's test2).</summary>
    public const uint CarveBytes = 1024;

    /// <summary>
    /// A quick-bin miss (<paramref name="bytes"/> &lt;= QuickBins.MaxBlockBytes): a free block
    /// of at least <paramref name="bytes"/> from the free lists, cut into blocks of
    /// <paramref name="bytes"/> ("batch carve"): while the bin has room and what is left
    /// holds two more, up to CarveBlocks - 1 blocks are parked in the bin (the next mallocs of
    /// this size pop them) after the one returned, and only the rest is filed, once.
    /// Filling a zone thus costs one free-list search per CarveBlocks blocks, and blocks of
    /// one size end up side by side. Layout: [returned][cached ...][rest], the bin handing the
    /// cached ones out in address order, so that blocks allocated one after another lie in
    /// ascending order, as a program that walks what it allocated in that order (python3's
    /// collector, its lists of objects) reads them best: until 2026-11-27 the layout was
    /// [cached ...][returned][rest] and the bin handed them out downwards, nearest to the
    /// returned one first (so that a realloc right after could grow the returned block into
    /// the rest), and python3 pyalloc.py 60000 ran 12% slower (paired A-B-B-A rounds, median
    /// 0.875, 10 rounds; the same instructions, peak RSS and faults; 2% fewer of its reallocs
    /// in place). The carved blocks are Cached, so they obey every quick-bin rule (released
    /// before a zone is mapped, bounded by the bin's limit).
    /// </summary>
    private static Block* TakeAndCarve(Heap* heap, Category category, nuint bytes)
    {
        // The common TINY case, a fit on the class's own lists, here: TakeTinyBlock's frame
        // (it saves six registers for its fallbacks) only when that fails.
        Block* block = null;
        if (category == Category.Tiny)
        {
            if (heap->TinyClassesOn != 0) block = ClassLists(heap, TinyClassOf(bytes))->TakeFit(bytes);
            if (block == null) block = TakeTinyBlock(heap, bytes);
        }
        else block = TakeSmallBlock(heap, bytes); // the lists themselves, as for TINY
        if (block == null) return null;
        nuint size = block->Size;
        Zone* zone = Zone.OfBlock(block, category);
        byte* areaEnd = (byte*)zone + Zone.AreaEndOffset(category);
        byte* cursor = (byte*)block;
        byte* end = cursor + size;
        // The block after is written last (its PrevFree bit, or its footer): a hole taken
        // whole clears that bit with a read-modify-write of a line nothing else here
        // touches, so it is asked for now and arrives while the carve runs.
        if (Sse.IsSupported) Sse.Prefetch0(end);
        if (size - bytes < Categories.MinBlockBytes) // too small to split: the block keeps it all
        {
            if (end < areaEnd) Block.ClearPrevFree((Block*)end);
            return block;
        }
        // end - cursor - bytes stays 0 or >= MinBlockBytes: no cut leaves a 16-byte sliver.
        // Every block cut here follows a block that is not free (block came off the free
        // lists, so the one before it is not free either), so their PrevFree bits are clear.
        // Blocks this miss carves, within CarveBytes: the division only for blocks over 128
        // bytes (a loop that counted up to CarveBlocks cost million about 35 instructions a miss).
        nuint most = bytes * CarveBlocks <= CarveBytes ? CarveBlocks : CarveBytes / bytes;
        if (bytes * BigHeapCarveBlocks <= CarveBytes && heap->TinyZoneCount >= BigHeapCarveZones) most = BigHeapCarveBlocks;
        QuickBins* bins = BinsOf(heap);
        nuint bin = bytes >> Categories.GranuleShift;
        // How many go to the bin, counted before any is cut (the bin's room, the carve's
        // bounds, and what the block holds: the cached ones and the one returned, leaving 0 or
        // at least MinBlockBytes), so the loop below only writes blocks and the bin takes them
        // as one chain: 14 instructions a cached block where a push each took about 30.
        nint room = QuickBins.RoomOf(bins, bin);
        nuint cached = most > 1 ? most - 1 : 0;
        if ((nint)cached > room) cached = room > 0 ? (nuint)room : 0;
        while (cached != 0 && ((cached + 1) * bytes > size || size - (cached + 1) * bytes == Categories.Granule)) cached--;
        Block* taken = (Block*)cursor; // keeps block's start bit
        nuint* leaf = ZoneMap.LeafWrapped((nuint)zone); // the start bits of every block cut here
        if (cached != 0)
        {
            // [taken][cached ...]: each links to the one after it (the last one's link is the
            // bin's old head), so the bin hands them out in address order. The loop walks
            // payloads, as a bin links them (QuickBins.cs): each link is then the address plus
            // bytes, with no header-to-payload add.
            byte* first = Block.PayloadOf((Block*)(cursor + bytes));
            byte* stop = first + cached * bytes;
            for (byte* p = first; p < stop; p += bytes)
            {
                *(ulong*)&Block.FromPayload(p)->SizeWord = bytes | (ulong)Block.FlagCached << 32; // Size, then Info: Cached
                *(byte**)p = p + bytes;
                ZoneMap.SetStart(leaf, (nuint)p);
            }
            QuickBins.PushChain(bins, bin, Block.FromPayload(first), Block.FromPayload(stop - bytes), (int)cached);
        }
        taken->SizeWord = (uint)bytes;
        cursor = (byte*)taken + (cached + 1) * bytes;
        if (cursor < end)
        {
            Block* rest = (Block*)cursor;
            uint restBytes = (uint)(end - cursor);
            rest->SizeWord = restBytes;
            rest->Info = Block.FlagFree;
            ZoneMap.SetStart(leaf, (nuint)Block.PayloadOf(rest));
            ListsOf(heap, zone)->Insert(rest);
            if (end < areaEnd) ((Block*)end)->PrevSize = restBytes; // its PrevFree bit is set already: block was free
            else if (category == Category.Small) NoteTopTouched(zone, rest); // the top of a SMALL zone
        }
        else if (end < areaEnd) Block.ClearPrevFree((Block*)end);
        return taken;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Commit(Heap* heap, Block* block, nuint request)
    {
        block->Info = Block.AllocatedInfo(request);
        HeapCounters.CountAllocation(&heap->Counters, request, block->Size - Categories.BlockOverheadBytes);
    }

    /// <summary>
    /// Cuts <paramref name="block"/>, just taken off the free lists, down to
    /// <paramref name="bytes"/>; a remainder big enough becomes a free block. Either way the
    /// block after ends up with its PrevFree bit right (it was set: block was free).
    /// </summary>
    private static void Split(Heap* heap, Category category, Block* block, nuint bytes)
    {
        Zone* zone = Zone.OfBlock(block, category);
        if (block->Size - bytes < Categories.MinBlockBytes)
        {
            Block* next = Block.NextOf(block);
            if ((byte*)next < (byte*)zone + Zone.AreaEndOffset(category)) Block.ClearPrevFree(next);
            return;
        }
        Block* rest = SplitOff(zone, block, bytes);
        rest->Info = Block.FlagFree;
        ListsOf(heap, zone)->Insert(rest);
        Block* after = Block.NextOf(rest);
        if ((byte*)after < (byte*)zone + Zone.AreaEndOffset(category)) Block.SetPrevFree(after, rest->Size);
        else if (category == Category.Small) NoteTopTouched(zone, rest);
    }

    /// <summary>
    /// Makes the bytes of <paramref name="block"/> past its first <paramref name="bytes"/> a
    /// block of their own (flags clear, PrevFree clear: block is not free) and returns it.
    /// Writes nothing in block's payload (its caller's, when a realloc shrinks in place) and
    /// nothing in the block after: the caller knows what the new block becomes.
    /// </summary>
    private static Block* SplitOff(Zone* zone, Block* block, nuint bytes)
    {
        Block* rest = (Block*)((byte*)block + bytes);
        rest->SizeWord = block->Size - (uint)bytes;
        rest->Info = 0;
        block->SizeWord = (uint)bytes | (block->SizeWord & Block.PrevFreeBit);
        Zone.MarkStart(rest);
        return rest;
    }

    /// <summary>
    /// Frees a block (not on a list): merges it with free neighbours, then files it, or
    /// retires its zone if the zone is now empty. The area's bounds of a TINY/SMALL zone are
    /// constants of its category (Zone.AreaOffset, ZoneBytes), so merging reads no zone
    /// header: zones are aligned to 64 KiB or more, so with many zones their headers share a
    /// few cache sets and are rarely in the cache.
    /// </summary>
    private static void Release(Heap* heap, Category category, Zone* zone, Block* block)
    {
        FreeLists* lists = category == Category.Tiny ? ClassLists(heap, zone->TinyClass) : &heap->SmallFree;
        byte* areaEnd = (byte*)zone + Zone.AreaEndOffset(category);
        byte* area = (byte*)zone + Zone.AreaOffset(category);
        uint size = block->Size;
        bool prevFree = Block.PrevIsFree(block);
        Block* next = (Block*)((byte*)block + size);
        // Both neighbours' headers are usually out of the cache: ask for both before
        // waiting for either (the prefetch of an address past the area is harmless).
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(next);
            if (prevFree) Sse.Prefetch0(Block.PrevOf(block));
        }
        if ((byte*)next < areaEnd && next->IsFree)
        {
            lists->Remove(next);
            Zone.ClearStart(next);
            size += next->Size;
            next = (Block*)((byte*)block + size);
        }
        if (prevFree)
        {
            Block* prev = Block.PrevOf(block);
            lists->Remove(prev);
            Zone.ClearStart(block);
            size += prev->Size;
            block = prev;
        }
        block->SizeWord = size; // the block before is not free: it would have merged
        block->Info = Block.FlagFree;
        if ((byte*)next < areaEnd) Block.SetPrevFree(next, size);

        if (size == (nuint)(areaEnd - area) && !KeepAsSpare(heap, category, zone))
        {
            ReturnZone(heap, zone);
            return;
        }
        lists->Insert(block);
        if ((byte*)next >= areaEnd && lists == &heap->SmallFree) TrimTop(heap, zone, block); // SMALL: lists, not category, which would have to stay in a register
    }

    /// <summary>Bytes of a SMALL zone's top block (its last, free) that stay resident past its start when its top is trimmed.</summary>
    private const nuint TopPadBytes = 64 * 1024;

    /// <summary>Resident bytes past TopPadBytes that a SMALL zone's top block must hold before they go back.</summary>
    private const nuint TopTrimBytes = 128 * 1024;

    /// <summary>
    /// Least mallocs of the heap between two trims of its SMALL tops: a top that grows back
    /// at once faults in again what a trim gave back (bench/'s large, whose SMALL blocks are
    /// all 64 to 128 KB, trimmed 111 times in its 8,000 mallocs). Counted in mallocs, not
    /// time, so that a replayed trace trims as its recording did (TraceTests).
    /// </summary>
    private const ulong TopTrimIntervalMallocs = 512;

    /// <summary>
    /// Peak bytes in use from which a heap no longer trims its SMALL tops: a whole SMALL
    /// zone's worth. Such a heap's tops are a small part of its footprint, and it touches
    /// them again: bench/'s realloc (119 MB in use at its peak) gave back 71.6 MB in 12
    /// trims, most of them the whole top of the one zone left in use between its rounds,
    /// and faulted every page back in the next round.
    /// </summary>
    private const ulong TopTrimMaxPeakBytes = Categories.SmallZoneBytes;

    /// <summary>
    /// <paramref name="top"/> is the new last block of SMALL <paramref name="zone"/>, free,
    /// after a block was cut from the front of the old one (Split, TakeAndCarve): what that
    /// block's caller will touch lies below it, and its own header and links were just
    /// written, so TouchedEnd rises past them. The only writes above a SMALL zone's top
    /// are made so, which keeps TouchedEnd an upper bound of the touched bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NoteTopTouched(Zone* zone, Block* top)
    {
        uint touched = (uint)((byte*)top - (byte*)zone) + (uint)FreeBlockKeepBytes;
        if (touched > zone->TouchedEnd) zone->TouchedEnd = touched;
    }

    /// <summary>
    /// <paramref name="top"/>, the last block of SMALL <paramref name="zone"/>, is free and
    /// has just been filed by a free (Release: merged, or the rest of a block that shrank in
    /// place, whose bytes below it count as touched): if its pages that may be resident (up
    /// to TouchedEnd) pass its first TopPadBytes by TopTrimBytes, they go back with
    /// madvise(MADV_DONTNEED), as glibc trims the top of its heap (M_TRIM_THRESHOLD), and
    /// TouchedEnd falls to what stays; at most once per TopTrimIntervalMallocs of the heap. An empty
    /// zone keeps its pages (the spare, as before, or it is unmapped). Why: the blocks of 4 KB and more of a program push the top up,
    /// and the pages under them stayed resident after they were freed; a thread heap's SMALL
    /// zone held 230 to 490 KB of them in bench/'s stress (ARCHITECTURE.md, "What stays mapped").
    /// A heap that has had TopTrimMaxPeakBytes in use keeps its tops.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TrimTop(Heap* heap, Zone* zone, Block* top)
    {
        nuint page = PageMemory.PageSize;
        nuint keep = ((nuint)((byte*)top - (byte*)zone) + TopPadBytes + page - 1) & ~(page - 1);
        NoteTopTouched(zone, top);
        nuint touched = zone->TouchedEnd;
        if (touched < keep + TopTrimBytes || (byte*)top == (byte*)zone + Zone.AreaOffset(Category.Small)) return;
        if (HeapCounters.PeakInUseBytes(&heap->Counters) >= TopTrimMaxPeakBytes) return; // a big heap keeps its tops
        ulong mallocs = heap->Counters.Mallocs; // a sum over the bins: read only here, where a trim is due
        if (mallocs - heap->TopTrimMallocs < TopTrimIntervalMallocs) return;
        heap->TopTrimMallocs = mallocs;
        nuint end = (touched + page - 1) & ~(page - 1);
        int savedErrno = Libc.Errno; // free never changes errno
        Libc.madvise((byte*)zone + keep, end - keep, Libc.MADV_DONTNEED);
        Libc.Errno = savedErrno;
        heap->Counters.Add(Counter.MadviseCalls, 1);
        heap->Counters.Add(Counter.MadviseBytes, end - keep);
        zone->TouchedEnd = (uint)keep;
    }

    /// <summary>True if the newly empty <paramref name="zone"/> becomes (or is) its category's one spare zone.</summary>
    private static bool KeepAsSpare(Heap* heap, Category category, Zone* zone)
    {
        ref Zone* spare = ref category == Category.Tiny ? ref heap->TinySpare : ref heap->SmallSpare;
        if (spare != null && spare != zone && IsEmpty(spare)) return false;
        spare = zone;
        return true;
    }

    public static bool IsEmpty(Zone* zone)
    {
        Block* first = (Block*)zone->AreaStart;
        return first->IsFree && first->Size == Zone.AreaBytes(zone);
    }

    private static bool TryResizeInPlace(Heap* heap, Zone* zone, Block* block, nuint request)
    {
        nuint need = Categories.BlockBytesFor(request);
        if (need > block->Size)
        {
            Block* next = Block.NextOf(block);
            if ((byte*)next >= zone->AreaEnd || !next->IsFree || block->Size + next->Size < need) return false;
            ListsOf(heap, zone)->Remove(next);
            Zone.ClearStart(next);
            block->SizeWord += next->Size; // keeps block's PrevFree bit
            Block* after = Block.NextOf(block);
            if ((byte*)after < zone->AreaEnd) Block.ClearPrevFree(after);
        }
        if (!KeepsSpare(block, need, request)) Release(heap, zone->Category, zone, SplitOff(zone, block, need));
        Recommit(heap, block, request);
        return true;
    }

    /// <summary>
    /// True if <paramref name="block"/>, resized in place to <paramref name="request"/> bytes
    /// (a block of <paramref name="need"/> bytes, at most its size), keeps its spare bytes:
    /// too few to split off, or, for a block that grows, up to a quarter more than it needs
    /// (GrowthRoom gave it that much for the appends to come). One that shrinks, or has more
    /// spare, gives it back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool KeepsSpare(Block* block, nuint need, nuint request)
    {
        nuint spare = block->Size - need;
        return spare < Categories.MinBlockBytes || (request >= block->Requested && spare <= need / 4);
    }

    /// <summary>Makes <paramref name="block"/>, allocated and resized in place, a block of <paramref name="request"/> requested bytes, counted so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Recommit(Heap* heap, Block* block, nuint request)
    {
        heap->Counters.Subtract(Counter.InUseBytes, block->Requested);
        heap->Counters.AddWithPeak(Counter.InUseBytes, Counter.PeakInUseBytes, request);
        block->Info = Block.AllocatedInfo(request);
    }

    // ---- zones ----------------------------------------------------------------------

    /// <summary>Maps a zone of <paramref name="category"/> (TINY: serving <paramref name="tinyClass"/>) whose area is one free block.</summary>
    private static bool MapZone(Heap* heap, Category category, int tinyClass)
    {
        nuint bytes = Categories.ZoneBytes(category);
        Zone* zone = (Zone*)PageMemory.Map(bytes, bytes);
        if (zone == null) return false;
        zone->Owner = heap;
        zone->MappedBytes = bytes;
        zone->Category = category;
        zone->TinyClass = category == Category.Tiny ? tinyClass : 0;
        zone->AreaStart = (byte*)zone + Zone.AreaOffset(category);
        zone->AreaEnd = (byte*)zone + Zone.AreaEndOffset(category);
        zone->BlockGranules = Zone.AreaBytes(zone) >> Categories.GranuleShift;
        if (!ZoneMap.Register(zone, bytes, zone, ZoneTag.Of(heap, category)))
        {
            PageMemory.Unmap(zone, bytes);
            return false;
        }
        Block* block = (Block*)zone->AreaStart;
        block->SizeWord = (uint)Zone.AreaBytes(zone); // no block before it
        block->Info = Block.FlagFree;
        Zone.MarkStart(block);
        AdoptZone(heap, zone);
        ListsOf(heap, zone)->Insert(block);
        return true;
    }

    /// <summary>Links a freshly mapped zone into its list and counts it.</summary>
    private static void AdoptZone(Heap* heap, Zone* zone)
    {
        LinkZone(heap, zone);
        CountMapping(heap, zone);
    }

    private static void LinkZone(Heap* heap, Zone* zone)
    {
        ref Zone* list = ref ZoneListOf(heap, zone->Category);
        zone->Prev = null;
        zone->Next = list;
        if (list != null) list->Prev = zone;
        list = zone;
        if (zone->Category == Category.Tiny) heap->TinyZoneCount++;
    }

    private static void UnlinkZone(Heap* heap, Zone* zone)
    {
        ref Zone* list = ref ZoneListOf(heap, zone->Category);
        if (zone->Prev != null) zone->Prev->Next = zone->Next;
        else list = zone->Next;
        if (zone->Next != null) zone->Next->Prev = zone->Prev;
        if (heap->TinySpare == zone) heap->TinySpare = null;
        if (heap->SmallSpare == zone) heap->SmallSpare = null;
        if (zone->Category == Category.Tiny) heap->TinyZoneCount--;
    }

    private static void CountMapping(Heap* heap, Zone* zone)
    {
        heap->Counters.Add(Counter.TinyZonesMapped + (int)zone->Category, 1);
        heap->Counters.Add(Counter.MmapCalls, 1);
        heap->Counters.Add(Counter.MmapBytes, zone->MappedBytes);
        heap->Counters.AddWithPeak(Counter.MappedBytes, Counter.PeakMappedBytes, zone->MappedBytes);
    }

    /// <summary>Unlinks a zone, forgets it in the zone map, and gives its pages back.</summary>
    private static void ReturnZone(Heap* heap, Zone* zone)
    {
        UnlinkZone(heap, zone);
        if (zone->Category != Category.Large) ZoneMap.ClearStarts(zone, zone->MappedBytes);
        ZoneMap.Unregister(zone, Zone.RegisteredBytes(zone));
        UnmapZone(heap, zone);
    }

    /// <summary>Gives the pages of a zone that is in no list and not in the zone map back, and counts it.</summary>
    private static void UnmapZone(Heap* heap, Zone* zone)
    {
        nuint bytes = zone->MappedBytes;
        heap->Counters.Add(Counter.TinyZonesUnmapped + (int)zone->Category, 1);
        heap->Counters.Add(Counter.MunmapCalls, 1);
        heap->Counters.Add(Counter.MunmapBytes, bytes);
        heap->Counters.Subtract(Counter.MappedBytes, bytes);
        PageMemory.Unmap(zone, bytes);
    }

    public static ref Zone* ZoneListOf(Heap* heap, Category category)
    {
        if (category == Category.Tiny) return ref heap->TinyZones;
        if (category == Category.Small) return ref heap->SmallZones;
        return ref heap->LargeZones;
    }
}
