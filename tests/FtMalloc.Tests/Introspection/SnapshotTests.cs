// The JSON snapshot: the managed API writes one of its own heap and it matches the heap
// walk block for block; the C library writes one at exit (FT_MALLOC_SNAPSHOT, "%p" for
// the pid) and on request (ft_malloc_snapshot), and both parse and keep their rules.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FtMalloc.Tests.Core;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

[Collection(InProcessCollection.Name)]
public sealed unsafe class SnapshotTests
{
    [Fact(DisplayName = "NativeHeap.WriteSnapshot: the JSON parses and matches Walk(): zones, blocks, states and counters")]
    public void ManagedSnapshotMatchesWalk()
    {
        using var dir = new TempDirectory("snapshot");
        using var heap = new NativeHeap();
        var live = new List<nint>();
        var random = new Random(42);
        foreach (int size in new[] { 0, 1, 24, 100, 512, 513, 1000, 4000, 32768, 32769, 100000, 1 << 20 })
            live.Add((nint)heap.Allocate((nuint)size));
        for (int i = 0; i < 300; i++)
            live.Add((nint)heap.Allocate((nuint)random.Next(1, 3000)));
        for (int i = 0; i < live.Count; i += 3)
            heap.Free((void*)live[i]);
        live.Add((nint)heap.AllocateAligned(200, 256));
        heap.WriteSnapshot(dir["heap.json"]);

        Snapshot snapshot = Snapshot.Parse(File.ReadAllText(dir["heap.json"]));
        Assert.Empty(snapshot.Violations());
        var walk = heap.Walk();
        Assert.Equal(walk.Count, snapshot.Zones.Count);
        for (int z = 0; z < walk.Count; z++)
        {
            ZoneInfo expected = walk[z];
            SnapshotZone actual = snapshot.Zones[z];
            Assert.Equal((ulong)expected.Address, actual.Address);
            Assert.Equal(expected.Category.ToString().ToUpperInvariant(), actual.Category);
            Assert.Equal((ulong)expected.MappedBytes, actual.MappedBytes);
            Assert.Equal(expected.Blocks.Count, actual.Blocks.Count);
            for (int b = 0; b < expected.Blocks.Count; b++)
            {
                BlockInfo e = expected.Blocks[b];
                SnapshotBlock a = actual.Blocks[b];
                Assert.Equal((ulong)e.Address, a.Address);
                Assert.Equal((ulong)e.BlockBytes, a.BlockBytes);
                Assert.Equal((ulong)e.RequestedBytes, a.RequestedBytes);
                // Walk's IsFree is "on a free list"; a block parked in a quick bin is neither free nor requested.
                string state = e.IsFree ? "free" : e.RequestedBytes == 0 && a.State == "cached" ? "cached" : "allocated";
                Assert.Equal(state, a.State);
            }
        }
        var statistics = heap.Statistics();
        foreach (var (name, value) in statistics)
            Assert.True(snapshot.Counters[name] == value, $"counter {name}: snapshot {snapshot.Counters[name]}, Statistics() {value}");
        Assert.Equal(statistics.Count, snapshot.Counters.Count);
        Assert.Equal(Environment.ProcessId, snapshot.Pid);
    }

    [Fact(DisplayName = "NativeHeap.WriteSnapshot to a path that cannot be created throws IOException")]
    public void ManagedSnapshotError()
    {
        using var heap = new NativeHeap();
        heap.Allocate(10);
        Assert.Throws<IOException>(() => heap.WriteSnapshot("/nonexistent-dir-ftmalloc/heap.json"));
    }

    [Fact(DisplayName = "FT_MALLOC_SNAPSHOT=path-%p.json writes the process's snapshot at exit: it parses, holds the leaked blocks, and its counters are the stats line's")]
    public void SnapshotAtExit()
    {
        using var dir = new TempDirectory("snapexit");
        ServedRun run = LibraryRun.Served(LibraryRun.Native("leaks").With(("FT_MALLOC_SNAPSHOT", dir["snap-%p.json"])), minMallocs: 9);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        string path = dir[$"snap-{run.Run.Pid}.json"];
        Assert.True(File.Exists(path), $"no {path}: " + string.Join(", ", Directory.GetFiles(dir.Path)));
        Snapshot snapshot = Snapshot.Parse(File.ReadAllText(path));
        Assert.Empty(snapshot.Violations());
        Assert.Equal(run.Run.Pid, snapshot.Pid);
        var allocated = snapshot.Blocks.Where(b => b.State == "allocated").Select(b => (b.Address, b.RequestedBytes)).ToHashSet();
        foreach (var (address, size) in LeakReportTests.PrintedLeaks(run.Run))
            Assert.Contains((address, size), allocated);
        Assert.Equal(6, allocated.Count);
        foreach (var (name, value) in run.Stats.Fields.Where(f => f.Key != "pid"))
            Assert.True(snapshot.Counters[name] == (ulong)value, $"counter {name}: snapshot {snapshot.Counters[name]}, stats line {value}");
    }
}
