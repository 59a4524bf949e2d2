// LARGE blocks carved from regions (Memory/Heap.Large.cs, LargeExtents.cs): freed ranges
// are reused without system calls or page faults, what stays resident is bounded, misuse is
// still caught, and realloc works in place. Each test uses a private standalone heap.
using System;
using System.Collections.Generic;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class LargeExtentTests
{
    private const int KiB = 1024, MiB = 1024 * 1024;

    private static Heap* NewHeap() => Heap.Create(HeapKind.Standalone);

    private static byte* Touched(Heap* heap, nuint bytes, byte value)
    {
        byte* p = (byte*)CAllocator.Malloc(heap, bytes);
        Assert.True(p != null);
        for (nuint off = 0; off < bytes; off += 4096) p[off] = value;
        p[bytes - 1] = value;
        return p;
    }

    private static void AssertValid(Heap* heap)
    {
        HeapCheck check = HeapValidator.Validate(heap);
        Assert.True(check.Ok, check.ToString());
    }

    /// <summary>Resident bytes of the heap's free LARGE extents (mincore).</summary>
    private static nuint ResidentFreeBytes(Heap* heap)
    {
        nuint page = (nuint)Environment.SystemPageSize, resident = 0;
        byte* vector = stackalloc byte[256];
        for (int i = 0; i < heap->Large.Count; i++)
        {
            for (nuint a = heap->Large.Start(i); a < heap->Large.End(i); a += 256 * page)
            {
                nuint bytes = heap->Large.End(i) - a < 256 * page ? heap->Large.End(i) - a : 256 * page;
                Assert.Equal(0, Libc.mincore((void*)a, bytes, vector));
                for (nuint k = 0; k < bytes / page; k++) if ((vector[k] & 1) != 0) resident += page;
            }
        }
        return resident;
    }

    [Fact(DisplayName = "large-block churn reuses freed ranges: no new mapping after warm-up, contents intact")]
    public void ChurnReusesWithoutMapping()
    {
        Heap* heap = NewHeap();
        try
        {
            var rng = new Random(5);
            var slots = new (nint P, nuint N, byte V)[8];
            ulong mmapsAfterWarmUp = 0;
            for (int op = 0; op < 3000; op++)
            {
                if (op == 500) mmapsAfterWarmUp = heap->Counters[Counter.MmapCalls];
                int s = rng.Next(slots.Length);
                if (slots[s].P != 0)
                {
                    byte* old = (byte*)slots[s].P;
                    Assert.Equal(slots[s].V, old[0]);
                    Assert.Equal(slots[s].V, old[slots[s].N - 1]);
                    CAllocator.Free(heap, old);
                }
                nuint n = (nuint)(64 * KiB) << rng.Next(6);
                n += (nuint)rng.NextInt64((long)n);
                byte v = (byte)(op | 1);
                slots[s] = ((nint)Touched(heap, n, v), n, v);
                if (op % 500 == 0) AssertValid(heap);
            }
            // Address space given up by mremap moves is mapped again now and then, a region at a time.
            ulong mmaps = heap->Counters[Counter.MmapCalls] - mmapsAfterWarmUp, moves = heap->Counters[Counter.MremapCalls];
            Assert.True(mmaps <= 25 && moves <= 300, $"{mmaps} mmap and {moves} mremap calls for 2,500 blocks");
            foreach (var slot in slots) CAllocator.Free(heap, (void*)slot.P);
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "a request bigger than the address below the free LARGE extents gets NULL and ENOMEM, not a window that wraps around")]
    public void HugeRequestAfterLargeFreeFails()
    {
        // python3's _decimal at maximum precision asks for ~2^59 bytes after freeing LARGE
        // blocks: the backward window End(i) - bytes wrapped below address 0 and was "covered".
        Heap* heap = NewHeap();
        try
        {
            byte* kept = Touched(heap, 300 * KiB, 0x11);
            CAllocator.Free(heap, Touched(heap, 200 * KiB, 0x22));
            foreach (nuint n in new nuint[] { (nuint)1 << 47, (nuint)1 << 56, (nuint)842105263157894744UL, Categories.MaxRequest })
            {
                Libc.Errno = 0;
                Assert.True(CAllocator.Malloc(heap, n) == null, $"malloc({n})");
                Assert.Equal(Libc.ENOMEM, Libc.Errno);
                Libc.Errno = 0;
                Assert.True(CAllocator.Realloc(heap, kept, n) == null, $"realloc(p, {n})");
                Assert.Equal(Libc.ENOMEM, Libc.Errno);
            }
            Assert.Equal((byte)0x11, kept[300 * KiB - 1]);
            AssertValid(heap);
            CAllocator.Free(heap, kept);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "a freed block's pages serve the next block: no fault, and calloc still reads zero")]
    public void FreedPagesAreReusedAndCallocClears()
    {
        Heap* heap = NewHeap();
        try
        {
            byte* a = Touched(heap, 3 * MiB, 0xEE);
            CAllocator.Free(heap, a);
            byte* b = (byte*)CAllocator.Calloc(heap, 1, 2 * MiB);
            Assert.True(b == a); // the smallest dirty extent that holds it: the same range
            Assert.True(new ReadOnlySpan<byte>(b, 2 * MiB).IndexOfAnyExcept((byte)0) < 0);
            // A bigger block than any freed one: clean address space, filled with freed pages moved by mremap.
            byte* c = Touched(heap, 600 * KiB, 0x11);
            CAllocator.Free(heap, b);
            ulong mremaps = heap->Counters[Counter.MremapCalls];
            byte* d = (byte*)CAllocator.Calloc(heap, 1, 3 * MiB);
            Assert.True(heap->Counters[Counter.MremapCalls] >= mremaps);
            Assert.True(new ReadOnlySpan<byte>(d, 3 * MiB).IndexOfAnyExcept((byte)0) < 0);
            Assert.Equal(0x11, c[0]);
            Assert.Equal(1ul, heap->Counters[Counter.LargeZonesMapped]);
            CAllocator.Free(heap, c);
            CAllocator.Free(heap, d);
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "after every LARGE block is freed, at most 16 MiB stays resident; malloc_trim gives back all of it")]
    public void FreeingEverythingGivesMemoryBack()
    {
        Heap* heap = NewHeap();
        try
        {
            var blocks = new List<nint>();
            for (int i = 0; i < 48; i++) blocks.Add((nint)Touched(heap, MiB, 0x5A));
            Assert.True(ResidentFreeBytes(heap) == 0);
            foreach (nint p in blocks) CAllocator.Free(heap, (void*)p);
            AssertValid(heap);
            Assert.True(heap->Large.DirtyBytes <= LargeExtents.FloorBytes, $"{heap->Large.DirtyBytes} dirty bytes kept");
            nuint resident = ResidentFreeBytes(heap);
            Assert.True(resident <= LargeExtents.FloorBytes, $"{resident} bytes still resident");
            Assert.True(heap->Counters[Counter.MadviseBytes] >= 32 * MiB);
            Assert.True(Heap.Trim(heap, 0));
            Assert.Equal(0, heap->Large.Count);
            Assert.Equal(0ul, heap->Counters[Counter.MappedBytes]);
            Assert.Equal(heap->Counters[Counter.LargeZonesMapped], heap->Counters[Counter.LargeZonesUnmapped]);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "live + free resident LARGE memory never passes the peak of the live LARGE bytes by more than a chunk per block")]
    public void ResidentStaysUnderThePeak()
    {
        Heap* heap = NewHeap();
        try
        {
            var rng = new Random(9);
            var slots = new (nint P, nuint N)[8];
            nuint peakLive = 0, live = 0;
            for (int op = 0; op < 1500; op++)
            {
                int s = rng.Next(slots.Length);
                if (slots[s].P != 0)
                {
                    CAllocator.Free(heap, (void*)slots[s].P);
                    live -= slots[s].N;
                }
                nuint n = (nuint)(64 * KiB) << rng.Next(6);
                n += (nuint)rng.NextInt64((long)n);
                slots[s] = ((nint)Touched(heap, n, 1), n);
                live += n;
                if (live > peakLive) peakLive = live;
                Assert.True(heap->Large.LiveBytes + heap->Large.DirtyBytes <= peakLive + 8 * 64 * KiB + 8 * 4096,
                    $"op {op}: live {heap->Large.LiveBytes} + dirty {heap->Large.DirtyBytes} > peak {peakLive}");
            }
            foreach (var slot in slots) CAllocator.Free(heap, (void*)slot.P);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "a second free of a LARGE block is reported, whether its range is free or carries a new block")]
    public void DoubleFreeIsReported()
    {
        Heap* heap = NewHeap();
        try
        {
            byte* p = Touched(heap, MiB, 1);
            Assert.Equal(PointerStatus.Valid, Heap.Free(heap, p));
            Assert.NotEqual(PointerStatus.Valid, Heap.Free(heap, p));
            Assert.NotEqual(PointerStatus.Valid, Heap.Free(heap, p + 256 * KiB)); // inside the freed range
            byte* q = Touched(heap, 200 * KiB, 2); // takes the front of the freed range: same start
            Assert.True(q == p);
            Assert.NotEqual(PointerStatus.Valid, Heap.Free(heap, q + 64 * KiB));
            Assert.Equal(PointerStatus.Valid, Heap.Free(heap, q));
            Assert.NotEqual(PointerStatus.Valid, Heap.Free(heap, q));
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "realloc of a LARGE block shrinks in place and grows in place over the free range after it")]
    public void ReallocInPlace()
    {
        Heap* heap = NewHeap();
        try
        {
            byte* p = Touched(heap, MiB, 7);
            byte* next = Touched(heap, 2 * MiB, 8);
            Assert.True(next == p + MiB + 64 * KiB || next > p); // carved after it
            CAllocator.Free(heap, next);
            byte* grown = (byte*)CAllocator.Realloc(heap, p, 2 * MiB + 512 * KiB);
            Assert.True(grown == p);
            Assert.Equal(7, grown[MiB - 1]);
            Assert.Equal(7, grown[0]);
            byte* shrunk = (byte*)CAllocator.Realloc(heap, grown, 300 * KiB);
            Assert.True(shrunk == p);
            Assert.Equal(7, shrunk[0]);
            Assert.True(heap->Counters[Counter.ReallocsInPlace] == 2);
            Heap.UsableSize(heap, shrunk, out nuint usable);
            Assert.True(usable < 400 * KiB, $"{usable} usable bytes after the shrink");
            AssertValid(heap);
            CAllocator.Free(heap, shrunk);
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "realloc of a LARGE block that cannot grow in place moves its pages (mremap), keeping the data and the zone map right")]
    public void ReallocMovesPages()
    {
        Heap* heap = NewHeap();
        try
        {
            byte* p = Touched(heap, 2 * MiB, 3);
            for (int i = 0; i < 2 * MiB; i += 4096) p[i] = (byte)(i >> 12);
            byte* wall = Touched(heap, 300 * KiB, 4); // right after p: p cannot grow in place
            ulong mremaps = heap->Counters[Counter.MremapCalls];
            byte* q = (byte*)CAllocator.Realloc(heap, p, 5 * MiB);
            Assert.True(q != null && q != p);
            Assert.True(heap->Counters[Counter.MremapCalls] > mremaps, "the pages were copied, not moved");
            for (int i = 0; i < 2 * MiB; i += 4096) Assert.Equal((byte)(i >> 12), q[i]);
            Assert.Equal(3, q[2 * MiB - 1]);
            for (int i = 2 * MiB; i < 5 * MiB; i += 4096) q[i] = 9;
            Assert.NotEqual(PointerStatus.Valid, Heap.Free(heap, p)); // the old pointer is gone
            AssertValid(heap);
            Assert.Equal(4, wall[0]);
            byte* r = (byte*)CAllocator.Realloc(heap, q, 9 * MiB);
            Assert.Equal(9, r[5 * MiB - 4096]);
            Assert.Equal(0, r[0]);
            AssertValid(heap);
            CAllocator.Free(heap, r);
            CAllocator.Free(heap, wall);
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    /// <summary>How many of the process's mappings (/proc/self/maps) overlap [start, start + bytes).</summary>
    private static int MappingsOver(byte* start, nuint bytes)
    {
        ulong lo = (ulong)start, hi = lo + bytes;
        int count = 0;
        foreach (string line in System.IO.File.ReadLines("/proc/self/maps"))
        {
            string[] range = line.Split(' ')[0].Split('-');
            ulong a = Convert.ToUInt64(range[0], 16), b = Convert.ToUInt64(range[1], 16);
            if (a < hi && b > lo) count++;
        }
        return count;
    }

    [Fact(DisplayName = "realloc keeps a moved LARGE block one mapping; one that spans two still grows in place over clean extents and is copied when it must move")]
    public void ReallocAcrossMappings()
    {
        Heap* heap = NewHeap();
        try
        {
            byte* p = Touched(heap, 300 * KiB, 3);
            byte* wall = Touched(heap, 300 * KiB, 4); // right after p: p cannot grow in place
            byte* q = (byte*)CAllocator.Realloc(heap, p, 400 * KiB); // moved and resized by one mremap
            Assert.True(q != null && q != p);
            Assert.Equal(1, MappingsOver(q, 400 * KiB));
            Assert.Equal(3, q[300 * KiB - 1]);
            byte* r = (byte*)CAllocator.Realloc(heap, q, 600 * KiB); // in place over the clean rest of the window's extent: the mapping is extended
            Assert.True(r == q, "expected growth in place over the clean extent after the block");
            Assert.Equal(1, MappingsOver(r, 600 * KiB));
            for (int i = 400 * KiB; i < 600 * KiB; i += 4096) r[i] = 5;

            // A dirty extent right after the block: growing over it takes its resident pages, so the block spans two mappings.
            byte* d = Touched(heap, 200 * KiB, 6);
            Assert.True(d >= r + 600 * KiB && d < r + 700 * KiB, "expected the next block right after r");
            CAllocator.Free(heap, d);
            nuint spanning = (nuint)(d - r) + 192 * KiB;
            byte* s = (byte*)CAllocator.Realloc(heap, r, spanning);
            Assert.True(s == r);
            Assert.Equal(2, MappingsOver(s, spanning));
            // Growing again over clean extents: the mapping cannot be extended (it is two), the bytes are mapped again.
            byte* t = (byte*)CAllocator.Realloc(heap, s, spanning + 512 * KiB);
            Assert.True(t == s);
            nuint cleanFrom = LargeExtents.RoundToChunks(spanning + Zone.HeaderBytes) - Zone.HeaderBytes; // past d's last chunk
            for (nuint i = cleanFrom; i < spanning + 512 * KiB; i += 4096) Assert.Equal(0, t[i]);
            t[spanning + 512 * KiB - 1] = 7;
            AssertValid(heap);
            // It must move now (a block right after it): the kernel will not resize two mappings, so it is copied.
            byte* wall2 = Touched(heap, 300 * KiB, 8);
            Assert.True(wall2 == t + LargeExtents.RoundToChunks(spanning + 512 * KiB + Zone.HeaderBytes), "expected the wall right after t");
            byte* u = (byte*)CAllocator.Realloc(heap, t, 4 * MiB);
            Assert.True(u != null && u != t);
            Assert.Equal(3, u[0]);
            Assert.Equal(3, u[300 * KiB - 1]);
            Assert.Equal(5, u[500 * KiB]);
            Assert.Equal(7, u[spanning + 512 * KiB - 1]);
            Assert.Equal(4, wall[0]);
            Assert.Equal(8, wall2[0]);
            AssertValid(heap);
            CAllocator.Free(heap, u);
            CAllocator.Free(heap, wall);
            CAllocator.Free(heap, wall2);
            AssertValid(heap);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }
}
