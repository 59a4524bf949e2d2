// show_alloc_mem: every zone of a heap and every allocated block in it, by increasing
// address, then the total of the requested sizes. Zones come from the zone map walk
// (already in address order), blocks from the zone's physical order. The caller keeps
// the heap still: the managed API holds its heap's lock; the C library shows every
// thread's zones (owner null) while those threads may run, a best-effort picture.
//
//   TINY : 0xA0000
//   0xA0020 - 0xA004A : 42 bytes
//   LARGE : 0xB0000
//   0xB0020 - 0xBBEEF : 48847 bytes
//   Total : 48889 bytes
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Introspection;

internal static unsafe class AllocationReport
{
    public static void Print(Heap* heap, int fd)
    {
        var sink = new OutputSink(fd);
        ulong total = 0;
        for (var zones = new ZoneCursor(heap); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            sink.Append(CategoryName(zone->Category));
            sink.Append(" : "u8);
            sink.AppendHex((nuint)zone);
            sink.Append("\n"u8);
            if (zone->Category == Category.Large)
            {
                PrintBlock(ref sink, zone->AreaStart, zone->LargeRequested);
                total += zone->LargeRequested;
                continue;
            }
            for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
            {
                Block* b = blocks.Current;
                if (!b->IsAllocated) continue;
                PrintBlock(ref sink, Block.PayloadOf(b), b->Requested);
                total += b->Requested;
            }
        }
        sink.Append("Total : "u8);
        sink.AppendDecimal(total);
        sink.Append(" bytes\n"u8);
        sink.Flush();
    }

    public static System.ReadOnlySpan<byte> CategoryName(Category category) =>
        category == Category.Tiny ? "TINY"u8 : category == Category.Small ? "SMALL"u8 : "LARGE"u8;

    /// <summary>"0xA0020 - 0xA004A : 42 bytes"</summary>
    public static void PrintBlock(ref OutputSink sink, byte* payload, nuint requested)
    {
        sink.AppendHex((nuint)payload);
        sink.Append(" - "u8);
        sink.AppendHex((nuint)payload + requested);
        sink.Append(" : "u8);
        sink.AppendDecimal(requested);
        sink.Append(" bytes\n"u8);
    }
}
