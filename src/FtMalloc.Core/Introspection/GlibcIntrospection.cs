// glibc's introspection entry points over FtMalloc's heaps: mallinfo2/mallinfo and
// malloc_info's XML. Programs that call them (to print memory use, or to decide when to
// trim) get FtMalloc's figures instead of those of glibc's idle heap. Both read the
// heaps with one walk over the zones (HeapSurvey) and the counters (Stats/Counter.cs).
//
// mallinfo2 fields (glibc's meaning -> ours):
//   arena     non-mmapped space             -> bytes mapped for TINY and SMALL zones
//   ordblks   free chunks                   -> blocks on the free lists
//   smblks    fastbin chunks                -> blocks parked in quick bins (our tcache/fastbins)
//   hblks     mmapped regions               -> LARGE zones (one block each)
//   hblkhd    bytes in mmapped regions      -> bytes mapped for LARGE zones
//   usmblks   (always 0 in glibc)           -> 0
//   fsmblks   bytes in fastbin chunks       -> bytes of the quick-bin blocks (headers included)
//   uordblks  bytes allocated (non-mmapped) -> bytes requested by the TINY and SMALL blocks in use
//   fordblks  free bytes (non-mmapped)      -> bytes of free and quick-bin blocks (headers included)
//   keepcost  top-most releasable space     -> bytes of the empty spare zones malloc_trim(0) unmaps
// So, as in glibc, memory in use is uordblks + the LARGE blocks (counted by hblkhd, whole
// pages). uordblks counts what the program asked for (glibc counts chunk sizes), so it
// moves by exactly n on malloc(n) and free. mallinfo is the same with int fields; a
// value above INT_MAX reads as INT_MAX (glibc wraps).
//
// malloc_info(0, stream) writes glibc's XML shape (one <heap> per heap, then the totals)
// plus a <counters> element with every counter of the table. It writes to the stream's
// descriptor, fileno(stream), with write(2): stdio would allocate the stream's buffer
// from the heap being described. It does not fflush the stream either: for a stream with
// a descriptor glibc's fflush only writes, but a FILE* may be a cookie stream (user code)
// or, on another C library, allocate, so what the program printed to the stream and not
// yet flushed comes out after the XML; call fflush(stream) first when that matters.
// Streams without a descriptor (fmemopen, open_memstream, fopencookie) get -1 and EBADF.
using System.Runtime.InteropServices;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Introspection;

/// <summary>glibc's struct mallinfo2: ten size_t.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MallInfo2
{
    public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
}

/// <summary>glibc's struct mallinfo: ten int.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MallInfo
{
    public int Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
}

// Locals are not zeroed: every one is written before it is read, and zeroing a stack
// buffer would call CoreLib (see runtime-free-csharp.md).
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe class GlibcIntrospection
{
    /// <summary>Fills <paramref name="info"/> for <paramref name="owner"/>'s zones (every heap when null).</summary>
    public static void MallInfo2(Heap* owner, MallInfo2* info)
    {
        HeapSurvey survey;
        HeapSurvey.Take(owner, &survey);
        info->Arena = (nuint)(survey.MappedBytes[0] + survey.MappedBytes[1]);
        info->Ordblks = survey.Tiny.FreeBlocks + survey.Small.FreeBlocks;
        info->Smblks = survey.Tiny.CachedBlocks + survey.Small.CachedBlocks;
        info->Hblks = (nuint)survey.Zones[2];
        info->Hblkhd = (nuint)survey.MappedBytes[2];
        info->Usmblks = 0;
        info->Fsmblks = survey.Tiny.CachedBytes + survey.Small.CachedBytes;
        info->Uordblks = survey.Tiny.RequestedBytes + survey.Small.RequestedBytes;
        info->Fordblks = survey.Tiny.AvailableBytes + survey.Small.AvailableBytes;
        info->Keepcost = (nuint)survey.EmptyZoneBytes;
    }

    public static void MallInfo(Heap* owner, MallInfo* info)
    {
        MallInfo2 wide;
        MallInfo2(owner, &wide);
        info->Arena = Clamp(wide.Arena);
        info->Ordblks = Clamp(wide.Ordblks);
        info->Smblks = Clamp(wide.Smblks);
        info->Hblks = Clamp(wide.Hblks);
        info->Hblkhd = Clamp(wide.Hblkhd);
        info->Usmblks = Clamp(wide.Usmblks);
        info->Fsmblks = Clamp(wide.Fsmblks);
        info->Uordblks = Clamp(wide.Uordblks);
        info->Fordblks = Clamp(wide.Fordblks);
        info->Keepcost = Clamp(wide.Keepcost);
    }

    private static int Clamp(nuint value) => value > int.MaxValue ? int.MaxValue : (int)value;

    /// <summary>malloc_info: 0, or -1 with errno EINVAL (options != 0, null stream) or EBADF (no descriptor).</summary>
    public static int MallocInfo(int options, void* stream, HeapCounters* counters)
    {
        if (options != 0 || stream == null)
        {
            Libc.Errno = Libc.EINVAL;
            return -1;
        }
        int fd = Libc.fileno(stream);
        if (fd < 0)
        {
            Libc.Errno = Libc.EBADF;
            return -1;
        }
        int savedErrno = Libc.Errno;
        bool ok = WriteXml(fd, counters);
        if (ok) Libc.Errno = savedErrno;
        return ok ? 0 : -1;
    }

    private const int Buckets = 24; // free block sizes 2^5 .. 2^28 and up

    /// <summary>The XML on <paramref name="fd"/>: one heap element per heap that has zones, then the totals and the counters.</summary>
    public static bool WriteXml(int fd, HeapCounters* counters)
    {
        var sink = new OutputSink(fd);
        sink.Append("<malloc version=\"1\">\n"u8);
        ulong* count = stackalloc ulong[Buckets];
        ulong* total = stackalloc ulong[Buckets];
        ulong fastCount = 0, fastBytes = 0, restCount = 0, restBytes = 0, current = 0, max = 0;
        int nr = 0;
        for (Heap* heap = NextOwnerAbove(null); heap != null; heap = NextOwnerAbove(heap), nr++)
        {
            for (int i = 0; i < Buckets; i++) count[i] = total[i] = 0;
            ZoneUsage usage = default;
            ulong mapped = 0;
            for (var zones = new ZoneCursor(heap); zones.MoveNext();)
            {
                Zone* zone = zones.Current;
                if (zone->Category == Category.Large) continue;
                mapped += zone->MappedBytes;
                for (var blocks = new BlockCursor(zone); blocks.MoveNext();)
                {
                    Block* b = blocks.Current;
                    usage.Count(b);
                    if (b->IsAllocated) continue;
                    int bucket = System.Numerics.BitOperations.Log2(b->Size) - 5;
                    if (bucket < 0) bucket = 0;
                    if (bucket >= Buckets) bucket = Buckets - 1;
                    count[bucket]++;
                    total[bucket] += b->Size;
                }
            }
            ulong peak = heap->Counters[Counter.PeakMappedBytes];
            sink.Append("<heap nr=\""u8);
            sink.AppendDecimal((ulong)nr);
            sink.Append("\">\n<sizes>\n"u8);
            for (int i = 0; i < Buckets; i++)
            {
                if (count[i] == 0) continue;
                sink.Append("  <size from=\""u8);
                sink.AppendDecimal(1UL << (i + 5));
                sink.Append("\" to=\""u8);
                sink.AppendDecimal((1UL << (i + 6)) - 1);
                Attribute(ref sink, "total"u8, total[i]);
                Attribute(ref sink, "count"u8, count[i]);
                sink.Append("\"/>\n"u8);
            }
            sink.Append("</sizes>\n"u8);
            Totals(ref sink, "fast"u8, usage.CachedBlocks, usage.CachedBytes);
            Totals(ref sink, "rest"u8, usage.FreeBlocks, usage.FreeBytes);
            Sizes(ref sink, mapped, peak > mapped ? peak : mapped);
            sink.Append("</heap>\n"u8);
            fastCount += usage.CachedBlocks;
            fastBytes += usage.CachedBytes;
            restCount += usage.FreeBlocks;
            restBytes += usage.FreeBytes;
            current += mapped;
        }
        HeapSurvey survey;
        HeapSurvey.Take(null, &survey);
        current += survey.MappedBytes[2];
        max = (*counters)[Counter.PeakMappedBytes];
        Totals(ref sink, "fast"u8, fastCount, fastBytes);
        Totals(ref sink, "rest"u8, restCount, restBytes);
        Totals(ref sink, "mmap"u8, survey.Zones[2], survey.MappedBytes[2]);
        Sizes(ref sink, current, max > current ? max : current);
        sink.Append("<counters>\n"u8);
        for (Counter c = 0; c < Counter.Count; c++)
        {
            sink.Append("  <counter name=\""u8);
            sink.Append(CounterNames.Of(c));
            Attribute(ref sink, "value"u8, (*counters)[c]);
            sink.Append("\"/>\n"u8);
        }
        sink.Append("</counters>\n</malloc>\n"u8);
        sink.Flush();
        return !sink.Failed;
    }

    /// <summary>The owner with the lowest address above <paramref name="after"/> among the heaps that have zones, or null.</summary>
    private static Heap* NextOwnerAbove(Heap* after)
    {
        Heap* best = null;
        for (var zones = new ZoneCursor(null); zones.MoveNext();)
        {
            Heap* owner = zones.Current->Owner;
            if (owner > after && (best == null || owner < best)) best = owner;
        }
        return best;
    }

    private static void Attribute(ref OutputSink sink, System.ReadOnlySpan<byte> name, ulong value)
    {
        sink.Append("\" "u8);
        sink.Append(name);
        sink.Append("=\""u8);
        sink.AppendDecimal(value);
    }

    private static void Totals(ref OutputSink sink, System.ReadOnlySpan<byte> type, ulong count, ulong size)
    {
        sink.Append("<total type=\""u8);
        sink.Append(type);
        Attribute(ref sink, "count"u8, count);
        Attribute(ref sink, "size"u8, size);
        sink.Append("\"/>\n"u8);
    }

    private static void Sizes(ref OutputSink sink, ulong current, ulong max)
    {
        sink.Append("<system type=\"current\" size=\""u8);
        sink.AppendDecimal(current);
        sink.Append("\"/>\n<system type=\"max\" size=\""u8);
        sink.AppendDecimal(max);
        sink.Append("\"/>\n<aspace type=\"total\" size=\""u8);
        sink.AppendDecimal(current);
        sink.Append("\"/>\n<aspace type=\"mprotect\" size=\""u8);
        sink.AppendDecimal(current);
        sink.Append("\"/>\n"u8);
    }
}
