// The human statistics report: every counter of the table (Stats/Counter.cs), by section,
// one a line. malloc_stats() prints it on stderr; FT_MALLOC_STATS=2 writes it at exit
// (followed by the one-line record, StatsLine, that tools parse).
//
//   ft_malloc: statistics of pid 4242
//     calls
//       malloc                                  1024
//       free                                    1000
//       ...
//     bytes
//       requested                            1048576
//       ...
//     misuse
//       bad or double frees                        0
using FtMalloc.Core.Os;
using FtMalloc.Core.Stats;

namespace FtMalloc.Core.Introspection;

internal static unsafe class StatsReport
{
    public const int LabelWidth = 24;
    public const int ValueWidth = 20;

    public static void Write(HeapCounters* counters, int fd)
    {
        var sink = new OutputSink(fd);
        sink.Append("ft_malloc: statistics of pid "u8);
        sink.AppendDecimal((ulong)Libc.getpid());
        sink.Append("\n"u8);
        for (CounterGroup group = 0; group < CounterGroup.Count; group++)
        {
            sink.Append("  "u8);
            sink.Append(CounterNames.GroupName(group));
            sink.Append("\n"u8);
            for (Counter c = 0; c < Counter.Count; c++)
            {
                CounterInfo info = CounterNames.Describe(c);
                if (info.Group != group) continue;
                sink.Append("    "u8);
                sink.AppendPadded(info.Label, LabelWidth);
                sink.AppendDecimal((*counters)[c], ValueWidth);
                sink.Append("\n"u8);
            }
        }
        sink.Flush();
    }
}
