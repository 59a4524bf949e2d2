// In-process checks of the introspection core: the counter table, per-entry-point counts
// through CAllocator, malloc_trim's heap walk (Heap.Trim), mallinfo2's figures and the
// output sink's number formats, on heaps of the test's own.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Stats;
using FtMalloc.Tests.Core;

namespace FtMalloc.Tests.Introspection;

[Collection(InProcessCollection.Name)]
public sealed unsafe class InProcessIntrospectionTests
{
    [Fact(DisplayName = "the counter table: every counter has a distinct name and label, and a section")]
    public void CounterTable()
    {
        var names = new HashSet<string>();
        var labels = new HashSet<string>();
        for (Counter c = 0; c < Counter.Count; c++)
        {
            CounterInfo info = CounterNames.Describe(c);
            string name = Encoding.ASCII.GetString(info.Name);
            Assert.True(name != "unknown" && names.Add(name), $"{c}: name '{name}'");
            Assert.True(labels.Add(info.Group + "/" + Encoding.ASCII.GetString(info.Label)), $"{c}: label");
            Assert.InRange(info.Group, CounterGroup.Calls, CounterGroup.Misuse);
        }
    }

    [Fact(DisplayName = "CAllocator counts one call per entry point in the caller's heap; internal moves and frees are not calls")]
    public void CallsPerEntryPoint()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            void* a = CAllocator.Malloc(heap, 10);
            void* b = CAllocator.Calloc(heap, 3, 100);
            b = CAllocator.Realloc(heap, b, 5000);      // moves: one malloc and one free inside, one realloc call
            void* c = CAllocator.Realloc(heap, null, 7);  // realloc(NULL): a realloc call
            CAllocator.Realloc(heap, c, 0);                // realloc(p, 0): a realloc call
            void* d;
            Assert.Equal(0, CAllocator.PosixMemalign(heap, &d, 64, 10));
            CAllocator.Free(heap, null);
            CAllocator.Free(heap, a);
            CAllocator.FreeSized(heap, b, 5000);
            CAllocator.FreeAlignedSized(heap, d, 64, 10);
            var expected = new Dictionary<Counter, ulong>
            {
                [Counter.CallsMalloc] = 1, [Counter.CallsCalloc] = 1, [Counter.CallsRealloc] = 3, [Counter.CallsPosixMemalign] = 1,
                [Counter.CallsFree] = 2, [Counter.CallsFreeSized] = 1, [Counter.CallsFreeAlignedSized] = 1,
                [Counter.Mallocs] = 5, [Counter.Frees] = 5, [Counter.InUseBytes] = 0, [Counter.BytesRequested] = 10 + 300 + 5000 + 7 + 10,
            };
            foreach (var (counter, value) in expected)
                Assert.True(heap->Counters[counter] == value, $"{counter} = {heap->Counters[counter]}, expected {value}");
            Assert.True(heap->Counters[Counter.BytesServed] >= heap->Counters[Counter.BytesRequested]);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "Heap.Trim releases the resident pages of free blocks and the empty spares, once; live blocks keep their data")]
    public void TrimReleasesOnce()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            var blocks = new List<nint>();
            for (int i = 0; i < 600; i++)
            {
                byte* p = (byte*)CAllocator.Malloc(heap, 16000);
                new Span<byte>(p, 16000).Fill(0xAB);
                blocks.Add((nint)p);
            }
            for (int i = 0; i < blocks.Count; i++)
                if (i % 50 != 0) CAllocator.Free(heap, (void*)blocks[i]);
            MallInfo2 before;
            GlibcIntrospection.MallInfo2(heap, &before);
            Assert.True(Heap.Trim(heap, 0));
            Assert.True(heap->Counters[Counter.MadviseBytes] > 4 << 20, $"{heap->Counters[Counter.MadviseBytes]} bytes released");
            Assert.False(Heap.Trim(heap, 0));
            Assert.Equal(2ul, heap->Counters[Counter.TrimCalls]);
            for (int i = 0; i < blocks.Count; i += 50)
                Assert.True(new ReadOnlySpan<byte>((byte*)blocks[i], 16000).IndexOfAnyExcept((byte)0xAB) < 0, "a live block lost its data");
            Assert.True(HeapValidator.Validate(heap).Ok);
            MallInfo2 after;
            GlibcIntrospection.MallInfo2(heap, &after);
            Assert.Equal(before.Uordblks, after.Uordblks);
            Assert.Equal((nuint)0, after.Keepcost);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }

    [Fact(DisplayName = "Heap.Trim with a pad as big as the spare zone keeps it")]
    public void TrimPadKeepsSpares()
    {
        Heap* heap = Heap.Create(HeapKind.Standalone);
        try
        {
            Assert.True(Heap.MapSpareZones(heap));
            MallInfo2 info;
            GlibcIntrospection.MallInfo2(heap, &info);
            nuint spares = info.Keepcost;
            Assert.True(spares > 0);
            Heap.Trim(heap, spares);
            GlibcIntrospection.MallInfo2(heap, &info);
            Assert.Equal(spares, info.Keepcost);
            Assert.True(Heap.Trim(heap, 0));
            GlibcIntrospection.MallInfo2(heap, &info);
            Assert.Equal((nuint)0, info.Keepcost);
            Assert.Equal((nuint)0, info.Arena);
        }
        finally
        {
            Heap.Destroy(heap);
        }
    }
}
