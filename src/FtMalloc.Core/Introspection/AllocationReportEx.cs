// show_alloc_mem_ex: everything show_alloc_mem prints (zone lines, allocated blocks with
// their exclusive end and requested size, the Total line), plus, for each zone, a line of
// usage (ZoneUsage: used, free, largest free block, fragmentation = 1 - largest free /
// free bytes), every free block marked as free ("cached" when it is parked in a quick
// bin), a hex dump of the first bytes of each allocated block (16 a line: offset, hex,
// printable characters; FT_MALLOC_SHOW_DUMP bytes, 16 by default), and a last line for
// the free memory of the whole listing:
//
//   TINY : 0x7F3A5C2A0000
//     mapped 65536 bytes: used 96 bytes in 2 blocks (54 requested), free 64864 bytes in 1 block (largest 64864), fragmentation 0.00%
//   0x7F3A5C2A0250 - 0x7F3A5C2A025C : 12 bytes
//     0000  48 65 6C 6C 6F 2C 20 77 6F 72 6C 64              |Hello, world|
//   0x7F3A5C2A0270 - 0x7F3A5C2A0292 : 42 bytes
//     0000  00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F  |................|
//   0x7F3A5C2A02A0 - 0x7F3A5C2AFFF0 : 64848 bytes free
//   Total : 54 bytes
//   Free : 64864 bytes in 1 block (largest 64864), fragmentation 0.00%
//
// A free block's range is its usable bytes (payload to the end of the block). Like
// show_alloc_mem it reads the heaps as they are, without stopping other threads.
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Introspection;

// Locals are not zeroed: every one is written before it is read, and zeroing a stack
// buffer would call CoreLib (see runtime-free-csharp.md).
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe class AllocationReportEx
{
    public const int BytesPerLine = 16;

    /// <summary>Prints the zones of <paramref name="owner"/> (every heap when null) to <paramref name="fd"/>, dumping up to <paramref name="dumpBytes"/> of each allocated block.</summary>
    public static void Print(Heap* owner, int fd, int dumpBytes)
    {
        var sink = new OutputSink(fd);
        ulong total = 0;
        ZoneUsage all = default;
        for (var zones = new ZoneCursor(owner); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            ZoneUsage usage = ZoneUsage.Of(zone);
            if (zone->Category != Category.Large) all.Add(usage);
            sink.Append(AllocationReport.CategoryName(zone->Category));
            sink.Append(" : "u8);
            sink.AppendHex((nuint)zone);
            sink.Append("\n  mapped "u8);
            sink.AppendDecimal(zone->MappedBytes);
            sink.Append(" bytes: used "u8);
            AppendCount(ref sink, usage.AllocatedBytes, usage.AllocatedBlocks);
            sink.Append(" ("u8);
            sink.AppendDecimal(usage.RequestedBytes);
            sink.Append(" requested), free "u8);
            AppendFree(ref sink, in usage);
            sink.Append("\n"u8);
            if (zone->Category == Category.Large)
            {
                AllocationReport.PrintBlock(ref sink, zone->AreaStart, zone->LargeRequested);
                Dump(ref sink, zone->AreaStart, zone->LargeRequested, dumpBytes);
                total += zone->LargeRequested;
                continue;
            }
            for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
            {
                Block* b = blocks.Current;
                byte* payload = Block.PayloadOf(b);
                if (b->IsAllocated)
                {
                    AllocationReport.PrintBlock(ref sink, payload, b->Requested);
                    Dump(ref sink, payload, b->Requested, dumpBytes);
                    total += b->Requested;
                    continue;
                }
                nuint usable = b->Size - Categories.BlockOverheadBytes;
                sink.AppendHex((nuint)payload);
                sink.Append(" - "u8);
                sink.AppendHex((nuint)payload + usable);
                sink.Append(" : "u8);
                sink.AppendDecimal(usable);
                sink.Append(b->IsFree ? " bytes free\n"u8 : " bytes free (cached)\n"u8);
            }
        }
        sink.Append("Total : "u8);
        sink.AppendDecimal(total);
        sink.Append(" bytes\nFree : "u8);
        AppendFree(ref sink, in all);
        sink.Append("\n"u8);
        sink.Flush();
    }

    /// <summary>"64864 bytes in 1 block (largest 64864), fragmentation 0.00%"</summary>
    private static void AppendFree(ref OutputSink sink, in ZoneUsage usage)
    {
        nuint free = usage.AvailableBytes;
        AppendCount(ref sink, free, usage.FreeBlocks + usage.CachedBlocks);
        sink.Append(" (largest "u8);
        sink.AppendDecimal(usage.LargestFree);
        sink.Append("), fragmentation "u8);
        sink.AppendPercent(free - usage.LargestFree, free);
    }

    /// <summary>"96 bytes in 2 blocks"</summary>
    private static void AppendCount(ref OutputSink sink, nuint bytes, nuint blocks)
    {
        sink.AppendDecimal(bytes);
        sink.Append(" bytes in "u8);
        sink.AppendDecimal(blocks);
        sink.Append(blocks == 1 ? " block"u8 : " blocks"u8);
    }

    /// <summary>The first min(limit, length) bytes at <paramref name="data"/>, 16 a line: "  0010  41 42 ...  |AB..|".</summary>
    public static void Dump(ref OutputSink sink, byte* data, nuint length, int limit)
    {
        nuint n = length < (nuint)limit ? length : (nuint)limit;
        for (nuint line = 0; line < n; line += BytesPerLine)
        {
            nuint count = n - line < BytesPerLine ? n - line : BytesPerLine;
            sink.Append("  "u8);
            sink.AppendHexDigits(line, 4);
            sink.Append(" "u8);
            for (nuint i = 0; i < BytesPerLine; i++)
            {
                if (i < count)
                {
                    sink.Append(" "u8);
                    sink.AppendHexDigits(data[line + i], 2);
                }
                else
                {
                    sink.Append("   "u8);
                }
            }
            sink.Append("  |"u8);
            for (nuint i = 0; i < count; i++)
            {
                byte c = data[line + i];
                sink.AppendByte(c >= 0x20 && c < 0x7F ? c : (byte)'.');
            }
            sink.Append("|\n"u8);
        }
    }
}
