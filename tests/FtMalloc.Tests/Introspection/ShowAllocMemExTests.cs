// show_alloc_mem_ex, byte for byte. The C driver allocates blocks of known content (and
// frees one into a quick bin), writes a JSON snapshot of the heap, then prints
// show_alloc_mem_ex(); the test renders what the listing must be from the snapshot's
// zones and blocks and the known contents, and compares the whole text. A few lines are
// also checked literally, so a change of format cannot hide in the renderer.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FtMalloc.Cli.Introspection;
using FtMalloc.Tests.Programs;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Introspection;

public sealed class ShowAllocMemExTests
{
    private readonly ITestOutputHelper _output;

    public ShowAllocMemExTests(ITestOutputHelper output) => _output = output;

    /// <summary>What the driver wrote into each block, by requested size.</summary>
    private static byte[] ContentOf(ulong requested) => requested switch
    {
        12 => Encoding.ASCII.GetBytes("Hello, world"),
        42 => Enumerable.Range(0, 42).Select(i => (byte)i).ToArray(),
        1000 => Enumerable.Repeat((byte)'x', 1000).ToArray(),
        40000 => Encoding.ASCII.GetBytes("LARGE block").Concat(new byte[40000 - 11]).ToArray(),
        0 => Array.Empty<byte>(),
        _ => throw new InvalidOperationException($"a block of {requested} bytes that the driver did not allocate"),
    };

    [Fact(DisplayName = "show_alloc_mem_ex: zones with usage and fragmentation, free and cached blocks, hex dumps (FT_MALLOC_SHOW_DUMP=32), exactly")]
    public void ExactFormat()
    {
        using var dir = new TempDirectory("showex");
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "show-ex", dir["snapshot.json"]).With(("FT_MALLOC_SHOW_DUMP", "32")), minMallocs: 6);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        _output.WriteLine(run.Run.Stdout);
        Snapshot snapshot = Snapshot.Parse(System.IO.File.ReadAllText(dir["snapshot.json"]));
        Assert.Empty(snapshot.Violations());

        string expected = Render(snapshot, dumpBytes: 32);
        ChildProcess.AssertSameText("show_alloc_mem_ex output", expected, run.Run.Stdout, run.Run);

        // The same facts, spelled out.
        string stdout = run.Run.Stdout;
        Assert.Contains("\n  0000  48 65 6C 6C 6F 2C 20 77 6F 72 6C 64              |Hello, world|\n", stdout);
        Assert.Contains("\n  0000  00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F  |................|\n" +
                        "  0010  10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F  |................|\n", stdout);
        Assert.Contains(" : 104 bytes free (cached)\n", stdout); // malloc(100): a 112-byte block (100 + 8, rounded up to 16), parked in a quick bin
        Assert.Contains(" : 40000 bytes\n  0000  4C 41 52 47 45 20 62 6C 6F 63 6B 00 00 00 00 00  |LARGE block.....|\n", stdout);
        Assert.Matches(@"\nTotal : 41054 bytes\nFree : \d+ bytes in \d+ blocks \(largest \d+\), fragmentation \d+\.\d\d%\n$", stdout);
        Assert.Matches(@"(?m)^TINY : 0x[0-9A-F]+\n  mapped 262144 bytes: used 128 bytes in 3 blocks \(54 requested\), free \d+ bytes in \d+ blocks \(largest \d+\), fragmentation \d+\.\d\d%$", stdout);
    }

    [Fact(DisplayName = "show_alloc_mem_ex with FT_MALLOC_SHOW_DUMP=0 prints no dump lines")]
    public void NoDump()
    {
        using var dir = new TempDirectory("showex0");
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "show-ex", dir["snapshot.json"]).With(("FT_MALLOC_SHOW_DUMP", "0")), minMallocs: 6);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Snapshot snapshot = Snapshot.Parse(System.IO.File.ReadAllText(dir["snapshot.json"]));
        ChildProcess.AssertSameText("show_alloc_mem_ex output", Render(snapshot, dumpBytes: 0), run.Run.Stdout, run.Run);
        Assert.DoesNotContain("  0000  ", run.Run.Stdout);
    }

    [Fact(DisplayName = "FT_MALLOC_SHOW=1 writes show_alloc_mem at exit to FT_MALLOC_OUTPUT; FT_MALLOC_SHOW=ex writes show_alloc_mem_ex")]
    public void AtExit()
    {
        ServedRun plain = LibraryRun.Served(LibraryRun.Native("leaks").With(("FT_MALLOC_SHOW", "1")), minMallocs: 6);
        Assert.True(plain.Run.ExitCode == 0, plain.Run.Describe());
        AllocMemDump dump = AllocMemDump.Parse(string.Join('\n', plain.ReportLines));
        Assert.True(dump.Violations().Count == 0, string.Join('\n', dump.Violations()) + "\n" + plain.Output);
        var leaked = LeakReportTests.PrintedLeaks(plain.Run);
        foreach (var (address, size) in leaked)
            Assert.Contains(dump.Blocks, b => b.Start == address && b.Size == size);

        ServedRun ex = LibraryRun.Served(LibraryRun.Native("leaks").With(("FT_MALLOC_SHOW", "ex")), minMallocs: 6);
        Assert.True(ex.Run.ExitCode == 0, ex.Run.Describe());
        Assert.Contains("\nFree : ", ex.Output);
        Assert.Matches(@"(?m)^  mapped \d+ bytes: used ", ex.Output);
        foreach (var (address, size) in LeakReportTests.PrintedLeaks(ex.Run))
            Assert.Contains($"0x{address:X} - 0x{address + size:X} : {size} bytes\n", ex.Output);
    }

    /// <summary>The listing show_alloc_mem_ex must print for this heap (see AllocationReportEx.cs).</summary>
    internal static string Render(Snapshot snapshot, int dumpBytes)
    {
        var text = new StringBuilder();
        ulong total = 0, availAll = 0, blocksAll = 0, largestAll = 0;
        foreach (SnapshotZone zone in snapshot.Zones)
        {
            ulong avail = zone.FreeBytes + zone.CachedBytes;
            ulong freeBlocks = zone.FreeBlocks + zone.CachedBlocks;
            if (zone.Category != "LARGE")
            {
                availAll += avail;
                blocksAll += freeBlocks;
                largestAll = Math.Max(largestAll, zone.LargestFreeBytes);
            }
            text.Append($"{zone.Category} : 0x{zone.Address:X}\n");
            text.Append($"  mapped {zone.MappedBytes} bytes: used {Count(zone.UsedBytes, zone.AllocatedBlocks)} ({zone.RequestedBytes} requested), ");
            text.Append($"free {Count(avail, freeBlocks)} (largest {zone.LargestFreeBytes}), fragmentation {Percent(avail - zone.LargestFreeBytes, avail)}\n");
            foreach (SnapshotBlock b in zone.Blocks)
            {
                if (b.State == "allocated")
                {
                    text.Append($"0x{b.Address:X} - 0x{b.Address + b.RequestedBytes:X} : {b.RequestedBytes} bytes\n");
                    Dump(text, ContentOf(b.RequestedBytes), dumpBytes);
                    total += b.RequestedBytes;
                }
                else
                {
                    ulong usable = b.BlockBytes - 8;
                    text.Append($"0x{b.Address:X} - 0x{b.Address + usable:X} : {usable} bytes free{(b.State == "cached" ? " (cached)" : "")}\n");
                }
            }
        }
        text.Append($"Total : {total} bytes\n");
        text.Append($"Free : {Count(availAll, blocksAll)} (largest {largestAll}), fragmentation {Percent(availAll - largestAll, availAll)}\n");
        return text.ToString();
    }

    private static string Count(ulong bytes, ulong blocks) => $"{bytes} bytes in {blocks} block{(blocks == 1 ? "" : "s")}";

    private static string Percent(ulong part, ulong whole)
    {
        ulong hundredths = whole == 0 ? 0 : part * 10000 / whole;
        return $"{hundredths / 100}.{hundredths % 100:00}%";
    }

    private static void Dump(StringBuilder text, byte[] content, int limit)
    {
        int n = Math.Min(limit, content.Length);
        for (int line = 0; line < n; line += 16)
        {
            int count = Math.Min(16, n - line);
            text.Append($"  {line:X4} ");
            for (int i = 0; i < 16; i++)
                text.Append(i < count ? $" {content[line + i]:X2}" : "   ");
            text.Append("  |");
            for (int i = 0; i < count; i++)
            {
                byte c = content[line + i];
                text.Append(c >= 0x20 && c < 0x7F ? (char)c : '.');
            }
            text.Append("|\n");
        }
    }
}
