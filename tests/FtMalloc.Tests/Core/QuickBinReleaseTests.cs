// Releasing the quick bins (Heap.ReleaseQuickBins): every cached block of every bin is freed
// for real and merges with its neighbours, whatever order the bins are emptied in (they are
// emptied in turns, one block per bin a turn, so that one bin's cache misses overlap the
// others'), and the bins end empty at their base limit.
using System.Collections.Generic;
using System.Linq;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class QuickBinReleaseTests
{
    [Fact]
    public void Releasing_bins_of_many_sizes_and_lengths_merges_every_cached_block_back_into_the_zone()
    {
        using var heap = new NativeHeap();
        // Sizes over several bins, bins of different lengths (one size gets many blocks),
        // interleaved in the zone so that neighbours in memory sit in different bins.
        var blocks = new List<nint>();
        for (int i = 0; i < 600; i++)
        {
            nuint size = (nuint)(i % 3 == 0 ? 40 : 24 + 16 * (i % 11));
            blocks.Add((nint)heap.Allocate(size));
        }
        foreach (nint b in blocks) heap.Free((void*)b);
        Assert.Contains(heap.Walk().SelectMany(z => z.Blocks), b => b.IsCached);

        heap.ReleaseCachedBlocks();

        heap.Validate();
        var all = heap.Walk().SelectMany(z => z.Blocks).ToList();
        Assert.DoesNotContain(all, b => b.IsCached);
        Assert.DoesNotContain(all, b => !b.IsFree);
        // Merged: no two free blocks are neighbours, so each TINY zone is one free block.
        foreach (ZoneInfo zone in heap.Walk().Where(z => z.Category == ZoneCategory.Tiny))
            Assert.Single(zone.Blocks);
    }
}
