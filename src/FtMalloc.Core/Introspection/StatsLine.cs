// The one-line statistics record written at exit when FT_MALLOC_STATS=1: every counter
// (summed over the process's heaps) as name=value, prefixed by the process id. Tools (the ftmalloc launcher,
// the tests) parse it to prove that the library served a program.
//
//   ft_malloc: stats pid=4242 mallocs=1024 frees=1000 ... misuse_detected=0
using FtMalloc.Core.Os;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Introspection;

internal static unsafe class StatsLine
{
    public static void Write(HeapCounters* counters, int fd)
    {
        var sink = new OutputSink(fd);
        sink.Append("ft_malloc: stats pid="u8);
        sink.AppendDecimal((ulong)Libc.getpid());
        for (Counter c = 0; c < Counter.Count; c++)
        {
            sink.Append(" "u8);
            sink.Append(CounterNames.Of(c));
            sink.Append("="u8);
            sink.AppendDecimal((*counters)[c]);
        }
        sink.Append("\n"u8);
        sink.Flush();
    }
}
