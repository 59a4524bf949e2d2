// How busy the machine was: the 1-minute load average when the suite started and when it ended.
// The machine is shared, so every timing carries this caveat; the start figure is the cleaner one,
// because the end figure also counts the suite's own runs (a 16-thread workload alone raises it
// well above the number of CPUs).

using System;
using System.IO;

namespace FtMalloc.Bench;

/// <param name="Start">1-minute load average before the first run (NaN where /proc/loadavg is missing).</param>
/// <param name="End">1-minute load average after the last run.</param>
/// <param name="Cpus">Online CPUs.</param>
internal sealed record MachineLoad(double Start, double End, int Cpus)
{
    /// <summary>Above this load per CPU, timings are noisy and scaling figures understate.</summary>
    public const double BusyPerCpu = 0.5;

    public bool BusyAtStart => Start > BusyPerCpu * Cpus;
    public bool BusyAtEnd => End > BusyPerCpu * Cpus;
    public bool Busy => BusyAtStart || BusyAtEnd;

    public string Describe() =>
        Fmt.Inv($"load average {Start:0.00} at the start, {End:0.00} at the end, on {Cpus} CPUs") +
        (Busy ? " — **the machine was busy: timings are noisy**" : "");

    /// <summary>The 1-minute load average now, or NaN where /proc/loadavg is missing.</summary>
    public static double Now()
    {
        try
        {
            string text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }
}
