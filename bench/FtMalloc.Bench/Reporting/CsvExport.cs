// runs.csv: every run of the invocation, warm-ups included, for analysis outside the report.

using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace FtMalloc.Bench.Reporting;

internal static class CsvExport
{
    public static void Write(string path, IReadOnlyList<RunRecord> records)
    {
        var sb = new StringBuilder();
        sb.AppendLine("workload,allocator,run,ok,wall_ms,user_ms,sys_ms,maxrss_kb,minflt,majflt,digest,metrics,failure");
        foreach (var r in records)
        {
            var s = r.Sample;
            string metrics = string.Join(";", r.Metrics.Select(kv => Fmt.Inv($"{kv.Key}={kv.Value}")));
            sb.AppendLine(string.Join(",",
                r.Workload.Name, r.Allocator.Name, r.Warmup ? "warmup" : (r.Rep + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                r.Ok ? "1" : "0",
                s == null ? "" : Fmt.Inv($"{s.WallMs:0.###}"), s == null ? "" : Fmt.Inv($"{s.UserMs:0.###}"), s == null ? "" : Fmt.Inv($"{s.SysMs:0.###}"),
                s == null ? "" : Fmt.Inv($"{s.MaxRssKb}"), s == null ? "" : Fmt.Inv($"{s.MinFlt}"), s == null ? "" : Fmt.Inv($"{s.MajFlt}"),
                r.Digest, metrics, Quote(r.Failure)));
        }
        File.WriteAllText(path, sb.ToString());
    }

    private static string Quote(string s) => s.Length == 0 ? "" : "\"" + s.Replace("\"", "\"\"") + "\"";
}
