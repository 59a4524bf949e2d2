// chart.png: for each workload, each allocator's wall time and peak RSS as a ratio to glibc,
// drawn by gnuplot (Debian's gnuplot-nox) on a log2 axis so that 2× slower and 2× faster are
// bars of the same length, up and down from the 1× line.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace FtMalloc.Bench.Reporting;

internal static class Chart
{
    /// <summary>Writes chart.png into outDir and returns its path, or "" if gnuplot is missing or fails.</summary>
    public static string Write(string outDir, Results r, Action<string> log)
    {
        string? gnuplot = Shell.Which("gnuplot");
        var others = r.Measured.Where(a => a != r.Glibc).ToList();
        if (gnuplot == null)
        {
            log("no gnuplot: chart skipped (bench/run installs gnuplot-nox)");
            return "";
        }
        if (others.Count == 0)
            return "";

        var inv = CultureInfo.InvariantCulture;
        var ranges = new Dictionary<string, (int From, int To)>();
        foreach (var (metric, file) in new[] { (Metric.Wall, "chart-time.dat"), (Metric.Rss, "chart-rss.dat") })
        {
            double lo = 0, hi = 0;
            var sb = new StringBuilder();
            sb.Append("workload");
            foreach (var a in others)
                sb.Append(' ').Append(a.Name);
            sb.Append('\n');
            foreach (var w in r.Workloads)
            {
                sb.Append(w.Name);
                foreach (var a in others)
                {
                    double ratio = r.Ratio(w, a, r.Glibc, metric);
                    if (double.IsNaN(ratio) || ratio <= 0 || double.IsInfinity(ratio))
                    {
                        sb.Append(" ?");
                        continue;
                    }
                    double l2 = Math.Log2(ratio);
                    lo = Math.Min(lo, l2);
                    hi = Math.Max(hi, l2);
                    sb.Append(' ').Append(l2.ToString("0.0000", inv));
                }
                sb.Append('\n');
            }
            File.WriteAllText(Path.Combine(outDir, file), sb.ToString());
            // Each panel its own range: whole powers of two with room above and below the bars.
            int from = (int)Math.Floor(lo) - (lo == Math.Floor(lo) ? 1 : 0), to = (int)Math.Ceiling(hi) + (hi == Math.Ceiling(hi) ? 1 : 0);
            ranges[file] = (Math.Max(from, -8), Math.Min(to, 8));
        }
        string title = $"{r.Options.ModeName} run, {DateTime.Now:yyyy-MM-dd HH:mm}: ratio to glibc (log scale; below the line = faster / smaller; missing bar = failed or not run)";

        var gp = new StringBuilder();
        gp.AppendLine("set terminal pngcairo size 1600,1100 font 'DejaVu Sans,10'");
        gp.AppendLine("set output 'chart.png'");
        gp.AppendLine("set datafile missing '?'");
        gp.AppendLine($"set multiplot layout 2,1 title \"{title}\"");
        gp.AppendLine("set style data histogram");
        gp.AppendLine("set style histogram cluster gap 1");
        gp.AppendLine("set style fill solid 0.85 border -1");
        gp.AppendLine("set boxwidth 0.9");
        gp.AppendLine("set key outside right top vertical");
        gp.AppendLine("set grid ytics");
        gp.AppendLine("set xtics rotate by -30 left nomirror");
        gp.AppendLine("set xzeroaxis lt -1 lw 2");
        string colours = "'#d62728' '#1f77b4' '#2ca02c' '#9467bd' '#ff7f0e' '#8c564b'";
        gp.AppendLine($"colours = \"{colours.Replace("'", "")}\"");
        foreach (var (file, label) in new[] { ("chart-time.dat", "wall time ÷ glibc"), ("chart-rss.dat", "peak RSS ÷ glibc") })
        {
            var (from, to) = ranges[file];
            string tics = string.Join(", ", Enumerable.Range(from, to - from + 1).Select(k =>
                $"\"{(k >= 0 ? Math.Pow(2, k).ToString("0", inv) : "1/" + Math.Pow(2, -k).ToString("0", inv))}×\" {k}"));
            gp.AppendLine($"set yrange [{from}:{to}]");
            gp.AppendLine($"set ytics ({tics})");
            gp.AppendLine($"set ylabel '{label}'");
            var plots = others.Select((a, i) =>
                $"'{file}' using {i + 2}{(i == 0 ? ":xtic(1)" : "")} title columnheader({i + 2}) lc rgb word(colours, {i + 1})");
            gp.AppendLine("plot " + string.Join(", ", plots));
        }
        gp.AppendLine("unset multiplot");
        File.WriteAllText(Path.Combine(outDir, "chart.gp"), gp.ToString());

        var result = Shell.Run(gnuplot, new[] { "chart.gp" }, cwd: outDir, timeout: TimeSpan.FromMinutes(1));
        string png = Path.Combine(outDir, "chart.png");
        if (!result.Ok || !File.Exists(png))
        {
            log("gnuplot failed: " + result.Output);
            return "";
        }
        return png;
    }
}
