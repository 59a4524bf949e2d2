// TINY zones segregated by size class (Memory/Heap.TinyClasses.cs): the mixed first zone,
// which zone a block comes from once classes are on, holes borrowed across classes, the
// spare zone taken over by another class.
using System.Collections.Generic;
using System.Linq;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class TinyClassTests
{
    private static ZoneInfo ZoneOf(IReadOnlyList<ZoneInfo> zones, void* p) =>
        zones.Single(z => z.Blocks.Any(b => b.Address == (nuint)p));

    private static ulong Stat(NativeHeap heap, string name) => heap.Statistics()[name];

    /// <summary>Allocates 40-byte blocks until the mixed zone is full and a class zone is mapped: classes are then on.</summary>
    private static List<nint> FillMixedZone(NativeHeap heap)
    {
        var blocks = new List<nint>();
        while (Stat(heap, "zones_tiny") < 2) blocks.Add((nint)heap.Allocate(40));
        return blocks;
    }

    [Fact]
    public void A_heap_serves_every_TINY_size_from_its_first_zone_until_that_zone_is_full()
    {
        using var heap = new NativeHeap();
        void* a = heap.Allocate(24);
        void* b = heap.Allocate(300);
        void* c = heap.Allocate(70);
        var zone = Assert.Single(heap.Walk());
        Assert.Equal(ZoneCategory.Tiny, zone.Category);
        Assert.All(new[] { (nuint)a, (nuint)b, (nuint)c }, p => Assert.Contains(zone.Blocks, x => x.Address == p));

        var filler = FillMixedZone(heap);
        Assert.True(filler.Count > 5000, $"the mixed zone held {filler.Count} blocks of 48 bytes");
        Assert.Equal(2, heap.Walk().Count);
        heap.Validate();
    }

    [Fact]
    public void Once_classes_are_on_sizes_of_different_classes_come_from_different_zones()
    {
        using var heap = new NativeHeap();
        FillMixedZone(heap);
        void* small = heap.Allocate(24);   // 32-byte block
        void* big = heap.Allocate(300);    // 320-byte block
        void* a = heap.Allocate(70);       // 80-byte block
        void* b = heap.Allocate(88);       // 96-byte block: the class of 80-96
        var zones = heap.Walk();
        Assert.NotEqual(ZoneOf(zones, small).Address, ZoneOf(zones, big).Address);
        Assert.NotEqual(ZoneOf(zones, small).Address, ZoneOf(zones, a).Address);
        Assert.Equal(ZoneOf(zones, a).Address, ZoneOf(zones, b).Address);
        heap.Validate();
    }

    [Fact]
    public void The_snapshot_names_each_TINY_zones_size_class()
    {
        using var dir = new FtMalloc.Tests.Programs.TempDirectory("tinyclass");
        using var heap = new NativeHeap();
        var filler = FillMixedZone(heap);
        void* a = heap.Allocate(70); // an 80-byte block: the class of 80-96
        heap.WriteSnapshot(dir["heap.json"]);
        var snapshot = FtMalloc.Tests.Introspection.Snapshot.Parse(System.IO.File.ReadAllText(dir["heap.json"]));
        Assert.Empty(snapshot.Violations());
        var mixed = snapshot.Zones.Single(z => z.Blocks.Any(b => b.Address == (ulong)filler[0]));
        var eighty = snapshot.Zones.Single(z => z.Blocks.Any(b => b.Address == (ulong)a));
        Assert.Equal((32ul, 528ul), mixed.SizeClass);
        Assert.Equal((80ul, 96ul), eighty.SizeClass);
    }

    [Fact]
    public void Blocks_of_one_size_allocated_among_other_sizes_stay_packed()
    {
        using var heap = new NativeHeap();
        FillMixedZone(heap);
        var small = new List<nuint>();
        for (int i = 0; i < 200; i++)
        {
            small.Add((nuint)heap.Allocate(24));          // 32-byte blocks
            heap.Allocate((nuint)(100 + 37 * (i % 11)));  // other classes in between
        }
        // Packed: the 32-byte blocks span little more than their own bytes (one batch carve
        // of slack). The first one may take the mixed zone's last 32 bytes (a hole).
        small.RemoveAt(0);
        nuint span = small.Max() - small.Min() + 32;
        Assert.True(span <= 199 * 32 + FtMalloc.Core.Memory.Heap.BigHeapCarveBlocks * 32, $"199 blocks of 32 bytes span {span} bytes");
        heap.Validate();
    }

    [Fact]
    public void A_class_with_no_free_block_borrows_a_hole_of_another_class_before_mapping_a_zone()
    {
        using var heap = new NativeHeap(quickBinLimit: 0); // frees go straight to the free lists
        var blocks = FillMixedZone(heap);
        for (int i = 0; i < 5000; i += 2) heap.Free((void*)blocks[i]); // 2,500 holes of 48 bytes in the mixed zone
        int zonesBefore = heap.Walk().Count;

        void* p = heap.Allocate(24); // a 32-byte block: its class has no zone yet
        var zones = heap.Walk();
        Assert.Equal(zonesBefore, zones.Count);
        Assert.Equal(ZoneOf(zones, (void*)blocks[1]).Address, ZoneOf(zones, p).Address);
        Assert.Equal(1ul, Stat(heap, "tiny_holes_borrowed"));
        heap.Validate();
    }

    [Fact]
    public void A_borrowing_class_prefers_a_hole_it_can_carve_many_blocks_from_to_the_first_small_fit()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        var blocks = FillMixedZone(heap);
        for (int i = 0; i < 5000; i += 2) heap.Free((void*)blocks[i]); // 2,500 holes of 48 bytes
        const int runStart = 5001, runLength = 30;
        for (int i = runStart; i < runStart + runLength; i++) heap.Free((void*)blocks[i]); // one hole of 1,440 bytes

        void* p = heap.Allocate(24); // a 32-byte block: its class has no zone yet
        Assert.InRange((nint)p, blocks[runStart], blocks[runStart + runLength - 1]);
        Assert.Equal(1ul, Stat(heap, "tiny_holes_borrowed"));
        heap.Validate();
    }

    [Fact]
    public void A_class_does_not_borrow_while_the_TINY_zones_are_mostly_in_use()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        var blocks = FillMixedZone(heap);
        while (Stat(heap, "zones_tiny") < 9) blocks.Add((nint)heap.Allocate(40)); // eight zones of 48-byte blocks
        heap.Free((void*)blocks[100]); // one hole, in a sea of live blocks
        int zonesBefore = heap.Walk().Count;

        void* p = heap.Allocate(24);
        var zones = heap.Walk();
        Assert.Equal(zonesBefore + 1, zones.Count); // a zone of its own class
        Assert.NotEqual(blocks[100], (nint)p);
        Assert.Equal(0ul, Stat(heap, "tiny_holes_borrowed"));
        heap.Validate();
    }

    [Fact]
    public void The_empty_spare_zone_is_taken_over_by_the_next_class_that_needs_a_zone()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        FillMixedZone(heap);
        var blocks = new List<nint>();
        for (int i = 0; i < 100; i++) blocks.Add((nint)heap.Allocate(200)); // 208-byte blocks: a zone of their class
        nuint spare = ZoneOf(heap.Walk(), (void*)blocks[0]).Address;
        foreach (nint b in blocks) heap.Free((void*)b); // that zone is empty: it stays as the spare
        int zonesBefore = heap.Walk().Count;

        void* p = heap.Allocate(300); // another class: no new zone, the spare serves it
        var zones = heap.Walk();
        Assert.Equal(zonesBefore, zones.Count);
        Assert.Equal(spare, ZoneOf(zones, p).Address);
        Assert.Equal(1ul, Stat(heap, "tiny_spare_taken_over"));
        heap.Validate();
    }
}
