// The leak report (FT_MALLOC_LEAKS=1): at exit, every block still allocated, by address
// (address, requested size, category), then the totals; nothing else. "Still allocated
// at exit" is the whole definition: a block a global still points to is listed too, and
// a block freed by an atexit handler the program registered is not (those run first).
//
//   ft_malloc: leaks of pid 4242: blocks still allocated at exit
//   0x7F3A5C2A0250 : 42 bytes, TINY
//   0x7F3A5BC08050 : 1024 bytes, SMALL
//   ft_malloc: leaks of pid 4242: 2 blocks, 1066 bytes (TINY 1 block 42 bytes, SMALL 1 block 1024 bytes, LARGE 0 blocks 0 bytes)
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Introspection;

// Locals are not zeroed: every one is written before it is read, and zeroing a stack
// buffer would call CoreLib (see runtime-free-csharp.md).
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe class LeakReport
{
    public static void Write(Heap* owner, int fd)
    {
        var sink = new OutputSink(fd);
        ulong pid = (ulong)Libc.getpid();
        sink.Append("ft_malloc: leaks of pid "u8);
        sink.AppendDecimal(pid);
        sink.Append(": blocks still allocated at exit\n"u8);
        ulong* blocks = stackalloc ulong[3];
        ulong* bytes = stackalloc ulong[3];
        for (int i = 0; i < 3; i++) blocks[i] = bytes[i] = 0;
        for (var zones = new ZoneCursor(owner); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            if (zone->Category == Category.Large)
            {
                Line(ref sink, zone->AreaStart, zone->LargeRequested, Category.Large, blocks, bytes);
                continue;
            }
            for (var cursor = new BlockCursor(zone); cursor.MoveNext();)
            {
                Block* b = cursor.Current;
                if (b->IsAllocated) Line(ref sink, Block.PayloadOf(b), b->Requested, zone->Category, blocks, bytes);
            }
        }
        sink.Append("ft_malloc: leaks of pid "u8);
        sink.AppendDecimal(pid);
        sink.Append(": "u8);
        Count(ref sink, blocks[0] + blocks[1] + blocks[2], bytes[0] + bytes[1] + bytes[2], false);
        sink.Append(" ("u8);
        for (Category c = Category.Tiny; c <= Category.Large; c++)
        {
            if (c != Category.Tiny) sink.Append(", "u8);
            sink.Append(AllocationReport.CategoryName(c));
            sink.Append(" "u8);
            Count(ref sink, blocks[(int)c], bytes[(int)c], true);
        }
        sink.Append(")\n"u8);
        sink.Flush();
    }

    private static void Line(ref OutputSink sink, byte* payload, nuint requested, Category category, ulong* blocks, ulong* bytes)
    {
        sink.AppendHex((nuint)payload);
        sink.Append(" : "u8);
        sink.AppendDecimal(requested);
        sink.Append(" bytes, "u8);
        sink.Append(AllocationReport.CategoryName(category));
        sink.Append("\n"u8);
        blocks[(int)category]++;
        bytes[(int)category] += requested;
    }

    /// <summary>"2 blocks, 1066 bytes", or without the comma: "2 blocks 1066 bytes".</summary>
    private static void Count(ref OutputSink sink, ulong blocks, ulong bytes, bool compact)
    {
        sink.AppendDecimal(blocks);
        sink.Append(blocks == 1 ? " block"u8 : " blocks"u8);
        sink.Append(compact ? " "u8 : ", "u8);
        sink.AppendDecimal(bytes);
        sink.Append(" bytes"u8);
    }
}
