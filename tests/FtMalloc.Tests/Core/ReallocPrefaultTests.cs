// A realloc that moves a block faults the pages its copy will write in one system call
// (Heap.CopyForMove, PageMemory.Prefault): exactly the whole pages of the copied range, no
// more (the resident memory must stay what the copy alone would make it), errno untouched,
// and the data moved intact.
using System;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class ReallocPrefaultTests
{
    private static bool[] Resident(byte* start, int pages)
    {
        nuint page = (nuint)Environment.SystemPageSize;
        byte* vector = stackalloc byte[pages];
        Assert.Equal(0, Libc.mincore(start, (nuint)pages * page, vector));
        var resident = new bool[pages];
        for (int i = 0; i < pages; i++) resident[i] = (vector[i] & 1) != 0;
        return resident;
    }

    [Fact]
    public void Prefault_makes_exactly_the_whole_pages_of_the_range_resident_and_keeps_errno()
    {
        nuint page = (nuint)Environment.SystemPageSize;
        const int pages = 16;
        byte* start = (byte*)PageMemory.Map(pages * page, page);
        Assert.True(start != null);
        try
        {
            Assert.DoesNotContain(true, Resident(start, pages)); // fresh: nothing faulted in yet
            Libc.Errno = 1234;
            PageMemory.Prefault(start + 100, 8 * page); // pages 1..7 whole; 0 and 8 only in part
            Assert.Equal(1234, Libc.Errno);
            bool[] resident = Resident(start, pages);
            for (int i = 0; i < pages; i++)
                Assert.True(resident[i] == (i >= 1 && i <= 7), $"page {i}: resident {resident[i]}");
            for (nuint i = 0; i < pages * page; i++) Assert.Equal(0, start[i]); // still reads as zero
        }
        finally
        {
            PageMemory.Unmap(start, pages * page);
        }
    }

    [Fact]
    public void A_moving_realloc_past_the_threshold_keeps_every_byte()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            const int size = 48 * 1024;
            byte* p = (byte*)CAllocator.Malloc(heap, size);
            byte* fence = (byte*)CAllocator.Malloc(heap, 4000); // SMALL, right after p: p cannot grow in place
            for (int i = 0; i < size; i++) p[i] = (byte)(i * 7 + 3);
            byte* q = (byte*)CAllocator.Realloc(heap, p, 120 * 1024);
            Assert.True(q != null && q != p);
            for (int i = 0; i < size; i++)
                if (q[i] != (byte)(i * 7 + 3)) Assert.Fail($"byte {i} changed in the move");
            CAllocator.Free(heap, q);
            CAllocator.Free(heap, fence);
            Assert.True(FtMalloc.Core.Introspection.HeapValidator.Validate(heap).Ok);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }
}
