// What happens when a program hands the allocator a pointer it never returned, or one
// it already took back. FT_MALLOC_CHECK chooses, as glibc's MALLOC_CHECK_ does:
//   3 (default) one line on stderr, then abort()
//   2           abort() without a word
//   1           one line on stderr, then carry on: the bad call changes nothing
//   0           carry on silently
// The line names the function, the pointer and the problem:
//   ft_malloc: free(): double free of 0x7F12A4C01020
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.CSemantics;

internal enum CFunction
{
    Free,
    Realloc,
    MallocUsableSize,
    FreeSized,
}

internal static unsafe class Misuse
{
    /// <summary>Reports a bad pointer; returns only if the check mode says to carry on.</summary>
    public static void Report(Heap* heap, CFunction function, void* pointer, PointerStatus status)
    {
        if (heap != null) heap->Counters.Add(Stats.Counter.MisuseDetected, 1);
        int mode = Settings.CheckMode;
        if (mode == 0) return;
        int savedErrno = Libc.Errno;
        if (mode != 2)
        {
            var sink = new OutputSink(2);
            sink.Append("ft_malloc: "u8);
            sink.Append(function switch
            {
                CFunction.Free => "free(): "u8,
                CFunction.Realloc => "realloc(): "u8,
                CFunction.MallocUsableSize => "malloc_usable_size(): "u8,
                _ => "free_sized(): "u8,
            });
            sink.Append(status switch
            {
                PointerStatus.DoubleFree => "double free of "u8,
                PointerStatus.NotBlockStart => "invalid pointer (inside a block, not its start) "u8,
                PointerStatus.Misaligned => "invalid pointer (not 16-byte aligned) "u8,
                PointerStatus.OtherHeap => "invalid pointer (belongs to another heap) "u8,
                _ => "invalid pointer (not allocated by ft_malloc, or already returned to the system) "u8,
            });
            sink.AppendHex((nuint)pointer);
            sink.Append("\n"u8);
            sink.Flush();
        }
        if (mode >= 2) Libc.abort();
        Libc.Errno = savedErrno;
    }
}
