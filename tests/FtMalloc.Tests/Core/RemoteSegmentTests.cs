// Remote frees in segments (Heap.Remote.cs): a freeing thread chains another heap's blocks
// by quick bin, pushes them as one segment per bin, and the owner's drain splices each
// segment into its bin whole. Checked in process on two shared heaps (no threads needed:
// the owner's side and the freeing side are plain calls): what comes back, the counters,
// the validator, when a batch is pushed, and the segments that are freed block by block.
using System.Collections.Generic;
using System.Linq;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Stats;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class RemoteSegmentTests
{
    [Fact(DisplayName = "a segment header keeps its last block, up to 32 blocks and their requested bytes in one word")]
    public void Segment_header_round_trips()
    {
        Block* last = (Block*)((1UL << 47) - 16); // the highest user address a header must hold
        ulong header = RemoteSegment.Of(last, 1032);
        Assert.Equal(1, RemoteSegment.Count(header));
        Assert.False(RemoteSegment.IsFull(header));
        for (int i = 2; i <= Heap.SegmentBlocks; i++)
        {
            header += RemoteSegment.OneMore(1032);
            Assert.Equal(i, RemoteSegment.Count(header));
            Assert.Equal(i == Heap.SegmentBlocks, RemoteSegment.IsFull(header));
        }
        Assert.True(RemoteSegment.Last(header) == last);
        Assert.Equal((nuint)(32 * 1032), RemoteSegment.Requested(header));
        Block* low = (Block*)0x10000;
        Assert.True(RemoteSegment.Last(RemoteSegment.Of(low, 0) + RemoteSegment.OneMore(0)) == low);
    }

    private static List<nint> Allocate(Heap* heap, int count, System.Func<int, nuint> size)
    {
        var blocks = new List<nint>();
        for (int i = 0; i < count; i++) blocks.Add((nint)Heap.AllocateFast(heap, size(i)));
        return blocks;
    }

    /// <summary>What the exported free does for a block of another heap: the inlined chaining, or TryFreeRemote.</summary>
    private static void FreeFrom(Heap* caller, Heap* owner, nint payload) =>
        Assert.True(Heap.TryChainRemote(owner, Block.FromPayload((void*)payload), caller));

    [Fact(DisplayName = "blocks another heap frees come back whole: the owner's next mallocs of their sizes are those blocks, in-use bytes are exact, the heap validates")]
    public void Drained_segments_serve_the_owners_next_mallocs()
    {
        Heap* owner = Heap.Create(HeapKind.Shared);
        Heap* freer = Heap.Create(HeapKind.Shared);
        try
        {
            nint keep = (nint)Heap.AllocateFast(owner, 24);
            ulong inUseBefore = owner->Counters[Counter.InUseBytes];
            ulong freesBefore = owner->Counters[Counter.Frees];
            // Three bins, one block of each in turn: 3 chains of 20.
            List<nint> blocks = Allocate(owner, 60, i => (nuint)(40 + 16 * (i % 3)));
            ulong requested = (ulong)Enumerable.Range(0, 60).Sum(i => 40 + 16 * (i % 3));
            Assert.Equal(inUseBefore + requested, owner->Counters[Counter.InUseBytes]);
            foreach (nint b in blocks) FreeFrom(freer, owner, b);
            Assert.False(owner->Remote.IsPending); // batched: nothing is pushed yet
            Assert.Equal(60UL, freer->Counters[Counter.CallsFree]);

            Heap.FlushRemoteBatch(freer);
            Assert.True(owner->Remote.IsPending);
            Assert.Equal((nuint)60, Heap.DrainRemoteFrees(owner));
            Assert.Equal(inUseBefore, owner->Counters[Counter.InUseBytes]);
            Assert.Equal(freesBefore + 60, owner->Counters[Counter.Frees]);
            Assert.True(HeapValidator.Validate(owner).Ok);
            Assert.True(HeapValidator.Validate(freer).Ok);

            // The bins hold them (spliced, still marked Remote): the next 60 mallocs of those sizes get exactly these blocks.
            List<nint> again = Allocate(owner, 60, i => (nuint)(40 + 16 * (i % 3)));
            Assert.Equal(blocks.OrderBy(b => b), again.OrderBy(b => b));
            Assert.Equal(inUseBefore + requested, owner->Counters[Counter.InUseBytes]);
            Assert.True(HeapValidator.Validate(owner).Ok);
            Assert.True(Heap.Free(owner, (void*)keep) == PointerStatus.Valid);
        }
        finally
        {
            Heap.Destroy(owner);
            Heap.Destroy(freer);
        }
    }

    [Fact(DisplayName = "a batch is pushed when one of its chains holds 32 blocks, or it holds PendingBlocks blocks, or the next remote free is for another heap")]
    public void Batches_are_pushed_when_full_or_when_the_owner_changes()
    {
        Heap* owner = Heap.Create(HeapKind.Shared);
        Heap* other = Heap.Create(HeapKind.Shared);
        Heap* freer = Heap.Create(HeapKind.Shared);
        try
        {
            // One bin: the 32nd block fills its chain.
            List<nint> same = Allocate(owner, Heap.SegmentBlocks, _ => 100);
            for (int i = 0; i < Heap.SegmentBlocks - 1; i++) FreeFrom(freer, owner, same[i]);
            Assert.False(owner->Remote.IsPending);
            FreeFrom(freer, owner, same[^1]);
            Assert.True(owner->Remote.IsPending);
            Assert.Equal((nuint)Heap.SegmentBlocks, Heap.DrainRemoteFrees(owner));

            // Many bins, no chain full: the PendingBlocks-th block pushes the batch.
            List<nint> mixed = Allocate(owner, Heap.PendingBlocks, i => (nuint)(24 + 16 * (i % 60)));
            for (int i = 0; i < Heap.PendingBlocks - 1; i++) FreeFrom(freer, owner, mixed[i]);
            Assert.False(owner->Remote.IsPending);
            FreeFrom(freer, owner, mixed[^1]);
            Assert.True(owner->Remote.IsPending);
            Assert.Equal((nuint)Heap.PendingBlocks, Heap.DrainRemoteFrees(owner));

            // Another owner: the batch so far goes to its owner first.
            nint a = (nint)Heap.AllocateFast(owner, 200), b = (nint)Heap.AllocateFast(other, 200);
            FreeFrom(freer, owner, a);
            Assert.False(owner->Remote.IsPending);
            FreeFrom(freer, other, b);
            Assert.True(owner->Remote.IsPending);
            Assert.False(other->Remote.IsPending);
            Assert.Equal((nuint)1, Heap.DrainRemoteFrees(owner));
            Heap.FlushRemoteBatch(freer);
            Assert.Equal((nuint)1, Heap.DrainRemoteFrees(other));
            Assert.True(HeapValidator.Validate(owner).Ok);
            Assert.True(HeapValidator.Validate(other).Ok);
            Assert.True(HeapValidator.Validate(freer).Ok);
        }
        finally
        {
            Heap.Destroy(owner);
            Heap.Destroy(other);
            Heap.Destroy(freer);
        }
    }

    [Fact(DisplayName = "segments a bin cannot take (past its overfill bound) and blocks no bin takes are freed block by block, and merge")]
    public void Segments_past_the_overfill_bound_are_freed_for_real()
    {
        Heap* owner = Heap.Create(HeapKind.Shared);
        Heap* freer = Heap.Create(HeapKind.Shared);
        try
        {
            ulong inUseBefore = owner->Counters[Counter.InUseBytes];
            // 400 blocks of one size: 12 full segments and one of 16. The bin (capacity 32)
            // takes segments while it holds less than 8 times that: 256 blocks or a few more.
            List<nint> blocks = Allocate(owner, 400, _ => 64);
            // Two SMALL blocks above the quick bins: a segment each, never spliced.
            blocks.Add((nint)Heap.AllocateFast(owner, 2000));
            blocks.Add((nint)Heap.AllocateFast(owner, 5000));
            foreach (nint b in blocks)
                Assert.True(Heap.TryFreeRemote(owner, Block.FromPayload((void*)b), freer));
            Heap.FlushRemoteBatch(freer);
            Assert.Equal((nuint)402, Heap.DrainRemoteFrees(owner));
            Assert.Equal(inUseBefore, owner->Counters[Counter.InUseBytes]);
            Assert.True(HeapValidator.Validate(owner).Ok);
            nuint cached = owner->Bins.CountSlow(out bool consistent);
            Assert.True(consistent);
            // At least 8 segments' worth went to the bin (with what the carve had left there, and
            // at most one segment more than the bound); the rest merged.
            Assert.InRange(cached, (nuint)(8 * Heap.SegmentBlocks), (nuint)(9 * Heap.SegmentBlocks + 8));
        }
        finally
        {
            Heap.Destroy(owner);
            Heap.Destroy(freer);
        }
    }
}
