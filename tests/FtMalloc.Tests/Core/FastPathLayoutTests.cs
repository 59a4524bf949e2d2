// What the fast paths (Heap.FastPath.cs, FtMalloc.Native/Exports.cs) take for granted about
// the layout, and the counters they keep per bin, checked in process.
using System.Runtime.InteropServices;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Stats;

namespace FtMalloc.Tests.Core;

public unsafe class FastPathLayoutTests
{
    [Fact(DisplayName = "Heap: Bins sits at BinsOffset and Counters right after it (BinsOf and CountersOf add constants); OwnerThread is near the start")]
    public void Bins_and_counters_sit_where_the_fast_paths_cast_to()
    {
        Assert.Equal(Heap.BinsOffset, (int)Marshal.OffsetOf<Heap>(nameof(Heap.Bins)));
        Assert.Equal(QuickBins.Bytes, sizeof(QuickBins));
        Assert.Equal(Heap.BinsOffset + QuickBins.Bytes, (int)Marshal.OffsetOf<Heap>(nameof(Heap.Counters)));
        Assert.True((int)Marshal.OffsetOf<Heap>(nameof(Heap.OwnerThread)) < 64);
        Heap heap = default;
        Assert.True(Heap.BinsOf(&heap) == &heap.Bins);
        Assert.True(Heap.CountersOf(&heap) == &heap.Counters);
    }

    [Fact(DisplayName = "Heap: Outgoing sits at OutgoingOffset, right after the counters (free's remote branch adds a constant); OwnerThread at 8 (the thread-heap table's empty-slot stand-in has it there)")]
    public void Outgoing_and_owner_sit_where_the_threaded_paths_read_them()
    {
        Assert.Equal(HeapCounters.Bytes, sizeof(HeapCounters));
        Assert.Equal(Heap.OutgoingOffset, (int)Marshal.OffsetOf<Heap>(nameof(Heap.Outgoing)));
        Assert.Equal(8, (int)Marshal.OffsetOf<Heap>(nameof(Heap.OwnerThread)));
        Heap heap = default;
        Assert.True(Heap.OutgoingOf(&heap) == &heap.Outgoing);
    }

    [Fact(DisplayName = "HeapCounters: per-bin fast-path counts read back as mallocs, calls, bytes served, frees")]
    public void Per_bin_counts_fold_into_the_counters_they_stand_for()
    {
        Heap heap = default; // the fast paths' updates take the heap the counters are in
        HeapCounters* counters = Heap.CountersOf(&heap);
        HeapCounters.Add(counters, Counter.CallsMalloc, 5);      // the full path's own
        HeapCounters.CountAllocation(counters, 100, 112);
        HeapCounters.CountCachedMalloc((byte*)&heap, 3, 20);     // a 48-byte block: 40 usable
        HeapCounters.CountCachedMalloc((byte*)&heap, 3, 30);
        HeapCounters.CountCachedMalloc((byte*)&heap, 10, 140);   // a 160-byte block: 152 usable
        HeapCounters.CountCachedFree((byte*)&heap, 3, 20);

        Assert.Equal(4UL, heap.Counters[Counter.Mallocs]);
        Assert.Equal(8UL, heap.Counters[Counter.CallsMalloc]);
        Assert.Equal(112UL + 40 + 40 + 152, heap.Counters[Counter.BytesServed]);
        Assert.Equal(100UL + 20 + 30 + 140, heap.Counters[Counter.BytesRequested]);
        Assert.Equal(100UL + 30 + 140, heap.Counters[Counter.InUseBytes]);
        Assert.Equal(100UL + 20 + 30 + 140, heap.Counters[Counter.PeakInUseBytes]);
        Assert.Equal(1UL, heap.Counters[Counter.Frees]);
        Assert.Equal(1UL, heap.Counters[Counter.CallsFree]);

        HeapCounters.CountFrees(counters, 2, 30 + 140);          // the remote-free drain counts a batch at once
        Assert.Equal(3UL, heap.Counters[Counter.Frees]);
        Assert.Equal(100UL, heap.Counters[Counter.InUseBytes]);

        HeapCounters total = default;
        total.AddAll(ref heap.Counters);
        total.AddAll(ref heap.Counters);
        Assert.Equal(8UL, total[Counter.Mallocs]);
        Assert.Equal(2 * (112UL + 40 + 40 + 152), total[Counter.BytesServed]);
        Assert.Equal(6UL, total[Counter.Frees]);
        total.Clear();
        Assert.Equal(0UL, total[Counter.Mallocs]);
        Assert.Equal(0UL, total[Counter.Frees]);
    }

    [Fact(DisplayName = "QuickBins: changing the limit of non-empty bins keeps length + room == capacity")]
    public void Limit_changes_keep_each_bins_room_consistent()
    {
        QuickBins bins = default;
        bins.SetLimit(4);
        byte* memory = stackalloc byte[48 * 8 + 16];
        Block* first = (Block*)(((nuint)memory + 15) & ~(nuint)15);
        for (int i = 0; i < 4; i++)
        {
            Block* b = (Block*)((byte*)first + 48 * i);
            *b = default;
            b->SizeWord = 48;
            Assert.True(bins.TryPush(b));
        }
        Assert.False(bins.HasRoom(48));                  // 4 of 4
        bins.SetLimit(8);
        Assert.True(bins.HasRoom(48));                   // 4 of 8
        Assert.Equal(4u, (uint)bins.CountSlow(out bool consistent));
        Assert.True(consistent);
        bins.SetLimit(2);                                // over capacity: no room until two leave
        Assert.False(bins.HasRoom(48));
        Assert.True(bins.Pop(48) != null);
        Assert.True(bins.Pop(48) != null);
        Assert.False(bins.HasRoom(48));
        Assert.True(bins.Pop(48) != null);
        Assert.True(bins.HasRoom(48));
        Assert.Equal(1u, (uint)bins.CountSlow(out consistent));
        Assert.True(consistent);
    }
}
