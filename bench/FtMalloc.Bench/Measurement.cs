// One measured execution and how it is obtained.
//
// Glossary
//   execution  one fork/exec/wait4 of a command by the measure program
//   run        what the harness times as one data point: one execution, or (start-up) the median
//              of several executions of the same command
//   sample     the figures of one run: wall, user and system CPU, peak RSS, page faults
//
// The four compared metrics are a table (Metrics.All): every report and ratio comes from it.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace FtMalloc.Bench;

internal sealed record Sample(
    double WallMs,   // CLOCK_MONOTONIC around fork..wait4, milliseconds
    double UserMs,   // ru_utime of the child and its waited-for descendants, milliseconds
    double SysMs,    // ru_stime, milliseconds
    long MaxRssKb,   // ru_maxrss: the largest resident set of any one process, kilobytes
    long MinFlt,     // ru_minflt: minor page faults, summed over the processes
    long MajFlt)     // ru_majflt: major page faults (disk reads), summed
{
    public double CpuMs => UserMs + SysMs;

    /// <summary>The median of each figure separately (for start-up runs made of many executions).</summary>
    public static Sample Median(IReadOnlyList<Sample> xs) => new(
        Stats.Median(xs.Select(x => x.WallMs)),
        Stats.Median(xs.Select(x => x.UserMs)),
        Stats.Median(xs.Select(x => x.SysMs)),
        (long)Stats.Median(xs.Select(x => (double)x.MaxRssKb)),
        (long)Stats.Median(xs.Select(x => (double)x.MinFlt)),
        (long)Stats.Median(xs.Select(x => (double)x.MajFlt)));
}

/// <summary>A compared figure: its name, unit, how to read it from a sample and how to print it.</summary>
internal sealed record Metric(string Key, string Title, Func<Sample, double> Get, Func<double, string> Format)
{
    public static readonly Metric Wall = new("wall", "Wall time", s => s.WallMs, Fmt.Ms);
    public static readonly Metric Cpu = new("cpu", "User+system CPU", s => s.CpuMs, Fmt.Ms);
    public static readonly Metric Rss = new("rss", "Peak RSS", s => s.MaxRssKb, Fmt.Kb);
    public static readonly Metric Faults = new("minflt", "Minor page faults", s => s.MinFlt, Fmt.Count);

    public static readonly IReadOnlyList<Metric> All = new[] { Wall, Cpu, Rss, Faults };
}

/// <summary>What a command to measure looks like.</summary>
internal sealed record CommandSpec(IReadOnlyList<string> Argv)
{
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    public string? Stdin { get; init; }
}

/// <summary>How one execution ended and what it cost.</summary>
internal sealed record Execution(Sample Sample, string Status)
{
    public bool Succeeded => Status == "exit:0";

    public string Describe() => Status switch
    {
        "timeout" => "timed out",
        var s when s.StartsWith("signal:", StringComparison.Ordinal) => "killed by signal " + SignalName(int.Parse(s[7..], CultureInfo.InvariantCulture)),
        var s when s.StartsWith("exit:", StringComparison.Ordinal) => "exit code " + s[5..],
        var s => s,
    };

    private static string SignalName(int n) => n switch
    {
        4 => "4 (SIGILL)", 6 => "6 (SIGABRT)", 7 => "7 (SIGBUS)", 8 => "8 (SIGFPE)",
        9 => "9 (SIGKILL)", 11 => "11 (SIGSEGV)", 13 => "13 (SIGPIPE)", 15 => "15 (SIGTERM)",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>Runs commands through the measure program (harness/measure.c) and parses its lines.</summary>
internal sealed class Measurer(string measurePath, IReadOnlyDictionary<string, string> baseEnv)
{
    public IReadOnlyList<Execution> Run(CommandSpec cmd, string? preload, string cwd, string stdoutPath,
        string stderrPath, int repeat, int timeoutSeconds)
    {
        var args = new List<string>
        {
            "--preload", preload ?? "",
            "--cwd", cwd,
            "--stdout", stdoutPath,
            "--stderr", stderrPath,
            "--repeat", repeat.ToString(CultureInfo.InvariantCulture),
            "--timeout", timeoutSeconds.ToString(CultureInfo.InvariantCulture),
        };
        if (cmd.Stdin != null)
            args.AddRange(new[] { "--stdin", cmd.Stdin });
        args.Add("--");
        args.AddRange(cmd.Argv);

        var env = new Dictionary<string, string>(baseEnv);
        foreach (var kv in cmd.Env)
            env[kv.Key] = kv.Value;

        var r = Shell.Run(measurePath, args, env: env, timeout: TimeSpan.FromSeconds((timeoutSeconds + 30) * (double)repeat));
        var result = new List<Execution>();
        foreach (string line in r.Stdout.Split('\n'))
        {
            if (line.StartsWith("run ", StringComparison.Ordinal))
                result.Add(Parse(line));
        }
        if (result.Count == 0)
            throw new InvalidOperationException($"measure printed no result (exit {r.ExitCode}): {r.Output}");
        return result;
    }

    private static Execution Parse(string line)
    {
        var f = new Dictionary<string, string>();
        foreach (string part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq > 0)
                f[part[..eq]] = part[(eq + 1)..];
        }
        long L(string k) => long.Parse(f[k], CultureInfo.InvariantCulture);
        var sample = new Sample(L("wall_ns") / 1e6, L("user_us") / 1e3, L("sys_us") / 1e3, L("maxrss_kb"), L("minflt"), L("majflt"));
        return new Execution(sample, f["status"]);
    }
}

internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var xs = values.Where(v => !double.IsNaN(v)).OrderBy(v => v).ToArray();
        if (xs.Length == 0)
            return double.NaN;
        int m = xs.Length / 2;
        return xs.Length % 2 == 1 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
    }

    /// <summary>Geometric mean of positive values; NaN if there are none.</summary>
    public static double GeoMean(IEnumerable<double> values)
    {
        var xs = values.Where(v => v > 0 && !double.IsNaN(v) && !double.IsInfinity(v)).ToArray();
        return xs.Length == 0 ? double.NaN : Math.Exp(xs.Average(Math.Log));
    }
}

/// <summary>Number formats shared by the console and the Markdown report.</summary>
internal static class Fmt
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static string Ms(double ms) => double.IsNaN(ms) ? "–"
        : ms >= 1000 ? (ms / 1000).ToString("0.000", s_inv) + " s"
        : ms >= 10 ? ms.ToString("0.0", s_inv) + " ms"
        : ms.ToString("0.000", s_inv) + " ms";

    public static string Kb(double kb) => double.IsNaN(kb) ? "–" : (kb / 1024).ToString("0.0", s_inv) + " MiB";

    /// <summary>Instructions in millions, two decimals ("642.52M"): callgrind repeats to a few thousand.</summary>
    public static string Instructions(double n) => double.IsNaN(n) ? "–" : (n / 1e6).ToString("#,0.00", s_inv) + "M";

    public static string Count(double n) => double.IsNaN(n) ? "–" : n.ToString("#,0", s_inv);

    public static string Ratio(double r) => double.IsNaN(r) ? "–" : r.ToString(r >= 100 ? "0" : r >= 10 ? "0.0" : "0.00", s_inv) + "×";

    public static string Num(double v, string format = "0.00") => double.IsNaN(v) ? "–" : v.ToString(format, s_inv);

    public static string Inv(FormattableString s) => s.ToString(s_inv);
}
