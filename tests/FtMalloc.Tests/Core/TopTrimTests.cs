// The top of a SMALL zone given back (Memory/Heap.cs, TrimTop): a free that leaves more than
// 128 KiB of possibly resident pages past the top block's first 64 KiB gives them back with
// madvise, at most once per 512 mallocs of the heap; a heap that has had a SMALL zone's worth
// of bytes in use keeps its tops.
using System;
using System.Collections.Generic;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class TopTrimTests
{
    private const int BlockBytes = 32 * 1024; // SMALL, above the small cache: a free merges it
    private const int Blocks = 12;

    private static ulong Stat(NativeHeap heap, string name) => heap.Statistics()[name];

    /// <summary>
    /// Writes 12 blocks of 32 KiB at the top of the heap's SMALL zone, then frees them newest
    /// first, so that each merges into the zone's free top; returns the madvise calls and bytes
    /// those frees made.
    /// </summary>
    private static (ulong Calls, ulong Bytes) TrimsOfAFreedTop(NativeHeap heap)
    {
        for (int i = 0; i < 600; i++) heap.Free(heap.Allocate(24)); // past the trims' interval of 512 mallocs
        var blocks = new List<nint>();
        for (int i = 0; i < Blocks; i++)
        {
            byte* p = (byte*)heap.Allocate(BlockBytes);
            new Span<byte>(p, BlockBytes).Fill(0x5a);
            blocks.Add((nint)p);
        }
        ulong calls = Stat(heap, "madvise_calls"), bytes = Stat(heap, "madvise_bytes");
        for (int i = blocks.Count - 1; i >= 0; i--) heap.Free((void*)blocks[i]);
        heap.Validate();
        return (Stat(heap, "madvise_calls") - calls, Stat(heap, "madvise_bytes") - bytes);
    }

    [Fact]
    public void A_small_heap_gives_back_the_pages_past_its_freed_top_once()
    {
        using var heap = new NativeHeap();
        var (calls, bytes) = TrimsOfAFreedTop(heap);
        Assert.Equal(1ul, calls); // then the interval holds the next ones back
        Assert.InRange(bytes, 128ul * 1024, (ulong)(Blocks * BlockBytes));
    }

    [Fact]
    public void A_heap_that_had_a_SMALL_zones_worth_in_use_keeps_its_tops()
    {
        using var heap = new NativeHeap();
        void* big = heap.Allocate(17 * 1024 * 1024); // LARGE: the peak in use passes 16 MiB
        heap.Free(big);
        Assert.True(Stat(heap, "peak_bytes") >= 16ul * 1024 * 1024);
        var (calls, _) = TrimsOfAFreedTop(heap);
        Assert.Equal(0ul, calls);
    }
}
