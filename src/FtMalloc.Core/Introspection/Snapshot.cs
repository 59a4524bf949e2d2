// The JSON snapshot: every zone and block of a heap (or of every heap of the process),
// with each zone's usage and the heap's counters, for tools and pictures. Written at exit
// when FT_MALLOC_SNAPSHOT names a path, whenever a program calls ft_malloc_snapshot(path),
// and by the managed API's NativeHeap.WriteSnapshot (the tests compare it with Walk()).
// Addresses are strings of hex ("0x7F3A5C2A0250"), sizes are numbers of bytes. A block's
// address is its payload's (what malloc returned); block_bytes is the block's size, its
// 8 bytes of overhead included (Memory/Block.cs; LARGE: the usable bytes of the mapping); state is allocated, free (on a free list) or
// cached (parked in a quick bin, or freed by another thread and waiting for its owner).
// Zone fields after "blocks" are ZoneUsage's, computed in the same pass. A TINY zone's
// size_class is the range of block sizes it serves (Memory/Heap.TinyClasses.cs: 32 to 528
// for a heap's first, mixed zone); a hole borrowed by another class may hold other sizes.
//
//   {"format": "ft_malloc snapshot 1", "pid": 4242, "page_size": 4096,
//    "counters": {"mallocs": 12, "frees": 3, ...},
//    "zones": [
//     {"address": "0x7F3A5C2A0000", "category": "TINY", "owner": "0x7F3A5C400000", "mapped_bytes": 65536,
//      "area_start": "0x7F3A5C2A0240", "area_end": "0x7F3A5C2B0000",
//      "size_class": {"min_block_bytes": 32, "max_block_bytes": 528}, "blocks": [
//       {"address": "0x7F3A5C2A0250", "block_bytes": 48, "requested_bytes": 24, "state": "allocated"},
//       {"address": "0x7F3A5C2A0280", "block_bytes": 64912, "requested_bytes": 0, "state": "free"}],
//      "allocated_blocks": 1, "used_bytes": 48, "requested_bytes": 24, "free_blocks": 1, "free_bytes": 64912,
//      "cached_blocks": 0, "cached_bytes": 0, "largest_free_bytes": 64912, "fragmentation": 0.0000}]}
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Introspection;

internal static unsafe class Snapshot
{
    /// <summary>
    /// Writes the snapshot to <paramref name="path"/> (created or truncated; "%p" in it
    /// becomes the process id). 0 on success; -1 with errno set if the file cannot be
    /// opened or written, or EINVAL for a null or too long path.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // zeroing the path buffer would call CoreLib's ZeroMemory
    public static int Write(Heap* owner, HeapCounters* counters, byte* path)
    {
        byte* expanded = stackalloc byte[Options.Settings.PathCapacity];
        if (path == null || !ExpandPath(path, expanded, Options.Settings.PathCapacity))
        {
            Libc.Errno = Libc.EINVAL;
            return -1;
        }
        int fd = Libc.open(expanded, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0) return -1;
        bool ok = WriteTo(owner, counters, fd);
        int savedErrno = Libc.Errno;
        Libc.close(fd);
        if (ok) return 0;
        Libc.Errno = savedErrno;
        return -1;
    }

    /// <summary>Copies <paramref name="pattern"/> with every "%p" replaced by the pid; false if it does not fit.</summary>
    public static bool ExpandPath(byte* pattern, byte* output, int capacity)
    {
        int n = 0;
        byte* pid = stackalloc byte[20];
        for (byte* c = pattern; *c != 0; c++)
        {
            if (c[0] == '%' && c[1] == 'p')
            {
                int digits = 0;
                for (ulong v = (ulong)Libc.getpid(); v != 0 || digits == 0; v /= 10) pid[digits++] = (byte)('0' + v % 10);
                while (digits > 0)
                {
                    if (n >= capacity - 1) return false;
                    output[n++] = pid[--digits];
                }
                c++;
                continue;
            }
            if (n >= capacity - 1) return false;
            output[n++] = *c;
        }
        output[n] = 0;
        return true;
    }

    /// <summary>Writes the JSON to <paramref name="fd"/>; false if a write failed.</summary>
    public static bool WriteTo(Heap* owner, HeapCounters* counters, int fd)
    {
        var sink = new OutputSink(fd);
        sink.Append("{\"format\": \"ft_malloc snapshot 1\", \"pid\": "u8);
        sink.AppendDecimal((ulong)Libc.getpid());
        PageMemory.Initialize();
        sink.Append(", \"page_size\": "u8);
        sink.AppendDecimal(PageMemory.PageSize);
        sink.Append(",\n \"counters\": {"u8);
        for (Counter c = 0; c < Counter.Count; c++)
        {
            if (c != 0) sink.Append(", "u8);
            sink.AppendJsonString(CounterNames.Of(c));
            sink.Append(": "u8);
            sink.AppendDecimal((*counters)[c]);
        }
        sink.Append("},\n \"zones\": ["u8);
        bool firstZone = true;
        for (var zones = new ZoneCursor(owner); zones.MoveNext();)
        {
            Zone* zone = zones.Current;
            sink.Append(firstZone ? "\n  {\"address\": "u8 : ",\n  {\"address\": "u8);
            firstZone = false;
            sink.AppendJsonHex((nuint)zone);
            sink.Append(", \"category\": "u8);
            sink.AppendJsonString(AllocationReport.CategoryName(zone->Category));
            sink.Append(", \"owner\": "u8);
            sink.AppendJsonHex((nuint)zone->Owner);
            sink.Append(", \"mapped_bytes\": "u8);
            sink.AppendDecimal(zone->MappedBytes);
            sink.Append(", \"area_start\": "u8);
            sink.AppendJsonHex((nuint)zone->AreaStart);
            sink.Append(", \"area_end\": "u8);
            sink.AppendJsonHex((nuint)zone->AreaEnd);
            if (zone->Category == Category.Tiny)
            {
                Heap.TinyClassBlockBytes(zone->TinyClass, out nuint smallest, out nuint largest);
                sink.Append(", \"size_class\": {\"min_block_bytes\": "u8);
                sink.AppendDecimal(smallest);
                sink.Append(", \"max_block_bytes\": "u8);
                sink.AppendDecimal(largest);
                sink.Append("}"u8);
            }
            sink.Append(", \"blocks\": ["u8);
            ZoneUsage usage = default;
            if (zone->Category == Category.Large)
            {
                usage = ZoneUsage.Of(zone);
                BlockJson(ref sink, true, zone->AreaStart, (nuint)(zone->AreaEnd - zone->AreaStart), zone->LargeRequested, "allocated"u8);
            }
            else
            {
                bool first = true;
                for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
                {
                    Block* b = blocks.Current;
                    usage.Count(b);
                    BlockJson(ref sink, first, Block.PayloadOf(b), b->Size, b->IsAllocated ? b->Requested : 0,
                              b->IsAllocated ? "allocated"u8 : b->IsFree ? "free"u8 : "cached"u8);
                    first = false;
                }
            }
            sink.Append("],\n   \"allocated_blocks\": "u8);
            sink.AppendDecimal(usage.AllocatedBlocks);
            sink.Append(", \"used_bytes\": "u8);
            sink.AppendDecimal(usage.AllocatedBytes);
            sink.Append(", \"requested_bytes\": "u8);
            sink.AppendDecimal(usage.RequestedBytes);
            sink.Append(", \"free_blocks\": "u8);
            sink.AppendDecimal(usage.FreeBlocks);
            sink.Append(", \"free_bytes\": "u8);
            sink.AppendDecimal(usage.FreeBytes);
            sink.Append(", \"cached_blocks\": "u8);
            sink.AppendDecimal(usage.CachedBlocks);
            sink.Append(", \"cached_bytes\": "u8);
            sink.AppendDecimal(usage.CachedBytes);
            sink.Append(", \"largest_free_bytes\": "u8);
            sink.AppendDecimal(usage.LargestFree);
            sink.Append(", \"fragmentation\": "u8);
            sink.AppendFraction(usage.AvailableBytes - usage.LargestFree, usage.AvailableBytes);
            sink.Append("}"u8);
        }
        sink.Append("]}\n"u8);
        sink.Flush();
        return !sink.Failed;
    }

    private static void BlockJson(ref OutputSink sink, bool first, byte* address, nuint blockBytes, nuint requested, System.ReadOnlySpan<byte> state)
    {
        sink.Append(first ? "\n    {\"address\": "u8 : ",\n    {\"address\": "u8);
        sink.AppendJsonHex((nuint)address);
        sink.Append(", \"block_bytes\": "u8);
        sink.AppendDecimal(blockBytes);
        sink.Append(", \"requested_bytes\": "u8);
        sink.AppendDecimal(requested);
        sink.Append(", \"state\": "u8);
        sink.AppendJsonString(state);
        sink.Append("}"u8);
    }
}
