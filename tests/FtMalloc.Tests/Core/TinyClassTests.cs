// TINY zones segregated by size class (Memory/Heap.TinyClasses.cs): which zone a block
// comes from, holes borrowed across classes, the spare zone taken over by another class.
using System.Collections.Generic;
using System.Linq;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class TinyClassTests
{
    private static ZoneInfo ZoneOf(IReadOnlyList<ZoneInfo> zones, void* p) =>
        zones.Single(z => z.Blocks.Any(b => b.Address == (nuint)p));

    [Fact]
    public void Sizes_of_different_classes_come_from_different_zones_and_one_class_shares_a_zone()
    {
        using var heap = new NativeHeap();
        void* small = heap.Allocate(24);   // 32-byte block
        void* big = heap.Allocate(300);    // 320-byte block
        void* a = heap.Allocate(70);       // 80-byte block
        void* b = heap.Allocate(88);       // 96-byte block: the class of 80-96
        var zones = heap.Walk();
        Assert.All(zones, z => Assert.Equal(ZoneCategory.Tiny, z.Category));
        Assert.NotEqual(ZoneOf(zones, small).Address, ZoneOf(zones, big).Address);
        Assert.NotEqual(ZoneOf(zones, small).Address, ZoneOf(zones, a).Address);
        Assert.Equal(ZoneOf(zones, a).Address, ZoneOf(zones, b).Address);
        heap.Validate();
    }

    [Fact]
    public void Blocks_of_one_size_allocated_among_other_sizes_stay_packed()
    {
        using var heap = new NativeHeap();
        var small = new List<nuint>();
        for (int i = 0; i < 200; i++)
        {
            small.Add((nuint)heap.Allocate(40));          // 48-byte blocks
            heap.Allocate((nuint)(100 + 37 * (i % 11)));  // other classes in between
        }
        // Packed: the 48-byte blocks span little more than their own bytes (one batch carve of slack).
        nuint span = small.Max() - small.Min() + 48;
        Assert.True(span <= 200 * 48 + 8 * 48, $"200 blocks of 48 bytes span {span} bytes");
        heap.Validate();
    }

    [Fact]
    public void A_class_with_no_free_block_borrows_a_hole_of_another_class_before_mapping_a_zone()
    {
        using var heap = new NativeHeap(quickBinLimit: 0); // frees go straight to the free lists
        var blocks = new List<nint>();
        for (int i = 0; i < 4000; i++) blocks.Add((nint)heap.Allocate(40)); // 48-byte blocks
        for (int i = 0; i < blocks.Count; i += 2) heap.Free((void*)blocks[i]); // 2,000 holes of 48 bytes
        int zonesBefore = heap.Walk().Count;

        void* p = heap.Allocate(24); // a 32-byte block: its class has no zone yet
        var zones = heap.Walk();
        Assert.Equal(zonesBefore, zones.Count);
        Assert.Equal(ZoneOf(zones, (void*)blocks[1]).Address, ZoneOf(zones, p).Address);
        Assert.Contains((nint)p, blocks.Where((_, i) => i % 2 == 0)); // it took a hole
        heap.Validate();
    }

    [Fact]
    public void A_class_does_not_borrow_while_little_of_the_zones_is_free()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        var blocks = new List<nint>();
        for (int i = 0; i < 5400; i++) blocks.Add((nint)heap.Allocate(40)); // the zone all but full
        heap.Free((void*)blocks[100]); // one hole: a fresh zone keeps the classes apart
        int zonesBefore = heap.Walk().Count;

        void* p = heap.Allocate(24);
        var zones = heap.Walk();
        Assert.Equal(zonesBefore + 1, zones.Count);
        Assert.NotEqual(ZoneOf(zones, (void*)blocks[0]).Address, ZoneOf(zones, p).Address);
        heap.Validate();
    }

    [Fact]
    public void The_empty_spare_zone_is_taken_over_by_the_next_class_that_needs_a_zone()
    {
        using var heap = new NativeHeap(quickBinLimit: 0);
        var blocks = new List<nint>();
        for (int i = 0; i < 100; i++) blocks.Add((nint)heap.Allocate(200)); // 208-byte blocks
        nuint zone = heap.Walk().Single().Address;
        foreach (nint b in blocks) heap.Free((void*)b); // the zone is empty: it stays as the spare
        Assert.Equal(zone, heap.Walk().Single().Address);

        void* p = heap.Allocate(24); // another class: no new zone, the spare serves it
        var zones = heap.Walk();
        Assert.Equal(zone, Assert.Single(zones).Address);
        Assert.Equal(zone, ZoneOf(zones, p).Address);
        heap.Validate();
    }
}
