// Releasing the quick bins (Heap.ReleaseQuickBins): every cached block of every bin is freed
// for real and merges with its neighbours, whatever order the bins are emptied in (they are
// emptied in turns, one block per bin a turn, so that one bin's cache misses overlap the
// others', and each block is merged a few pops after it was taken, once its zone's header
// and its neighbour have been fetched), and the bins end empty at their base limit. A full
// bin that may not grow gives a batch of its blocks back at once (Heap.ReleaseBinBatch),
// joined into runs of neighbours first, and keeps the rest.
using System;
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

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(17)]
    public void Releasing_as_many_cached_blocks_as_the_merge_lag_or_about_as_many_merges_each_of_them(int count)
    {
        // The release merges a block some pops after taking it (Heap.ReleaseLag): the last
        // ones are merged after the bins are empty, however few there were.
        using var heap = new NativeHeap();
        var blocks = new List<nint>();
        for (int i = 0; i < count; i++) blocks.Add((nint)heap.Allocate((nuint)(24 + 16 * (i % 5))));
        nint keep = (nint)heap.Allocate(24); // the zone stays mapped
        foreach (nint b in blocks) heap.Free((void*)b);
        Assert.Equal(count, heap.Walk().SelectMany(z => z.Blocks).Count(b => b.IsCached && blocks.Contains((nint)b.Address)));

        heap.ReleaseCachedBlocks();

        heap.Validate();
        var all = heap.Walk().SelectMany(z => z.Blocks).ToList();
        Assert.DoesNotContain(all, b => b.IsCached);
        Assert.Single(all, b => !b.IsFree);
        heap.Free((void*)keep);
    }

    [Theory]
    [InlineData("ascending", 40, 64)]
    [InlineData("descending", 40, 64)]
    [InlineData("shuffled", 40, 64)]
    [InlineData("shuffled", 700, 256)]
    public void A_full_bin_that_may_not_grow_merges_batches_of_its_blocks_joined_into_runs_and_keeps_the_rest(string order, int request, int quickBinLimit)
    {
        // Bins of 64 blocks (TINY: Limit; SMALL blocks over 256 bytes: Limit / 4), so a batch
        // is an eighth of a bin, 8 blocks; 600 blocks of one size with a 24-byte one after
        // every seventh, and a malloc of the size now and then while they are freed, so that
        // batches are taken from a bin that was just popped; at most about 420 KB in use, so
        // every growth is refused (GrowQuickBins: the bin would hold more than an eighth of it).
        using var heap = new NativeHeap(quickBinLimit);
        nuint blockBytes = ((nuint)request + 8 + 15) & ~(nuint)15;
        var blocks = new List<nint>();
        var others = new List<nint>();
        for (int i = 0; i < 600; i++)
        {
            blocks.Add((nint)heap.Allocate((nuint)request));
            if (i % 7 == 6) others.Add((nint)heap.Allocate(24));
        }
        var random = new Random(7);
        List<nint> freeing = order switch
        {
            "ascending" => blocks.OrderBy(b => b).ToList(),
            "descending" => blocks.OrderByDescending(b => b).ToList(),
            _ => blocks.OrderBy(_ => random.Next()).ToList(),
        };
        for (int i = 0; i < freeing.Count; i++)
        {
            heap.Free((void*)freeing[i]);
            if (i % 23 == 0) others.Add((nint)heap.Allocate((nuint)request));
            if (i % 101 == 0) heap.Validate();
        }

        heap.Validate();
        var all = heap.Walk().SelectMany(z => z.Blocks).ToList();
        Assert.InRange(all.Count(b => b.IsCached && b.BlockBytes == blockBytes), 64 - 8, 64); // the bin: full, or a batch short of it
        Assert.All(all.Where(b => b.BlockBytes == blockBytes && !b.IsCached && !others.Contains((nint)b.Address)), b => Assert.True(b.IsFree)); // the rest merged...
        Assert.True(all.Count(b => b.IsFree) < 150, $"{all.Count(b => b.IsFree)} free blocks"); // ...into few free blocks
        foreach (nint o in others) heap.Free((void*)o);
        heap.ReleaseCachedBlocks();
        heap.Validate();
        Assert.DoesNotContain(heap.Walk().SelectMany(z => z.Blocks), b => !b.IsFree);
    }
}
