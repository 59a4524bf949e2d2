// Runs a program under the library for the introspection tests, keeping what the library
// wrote to FT_MALLOC_OUTPUT (ChildProcess.RunServed reads only the stats lines from it and
// deletes it). Same environment rules as ChildProcess: the host's FT_MALLOC_* and
// LD_PRELOAD are dropped, the spec's variables are applied, then LD_PRELOAD, a private
// FT_MALLOC_OUTPUT and FT_MALLOC_STATS (1 unless the spec sets it). Every run must show
// that the library served it: its own stats line, with at least minMallocs allocations.
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FtMalloc.Cli.Running;
using FtMalloc.Cli.Stats;
using FtMalloc.Tests.NativeLibrary;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

/// <summary>A run under the library and the text of its report file.</summary>
internal sealed record ServedRun(RunResult Run, string Output)
{
    /// <summary>The process's own stats line (present: the run was checked to be served).</summary>
    public StatsLine Stats => Run.OwnStats!;

    /// <summary>Lines of the report file that are not stats lines.</summary>
    public List<string> ReportLines => Output.Split('\n').Where(l => l.Length > 0 && !l.StartsWith(StatsLine.Prefix)).ToList();
}

internal static class LibraryRun
{
    public static RunSpec Native(string program, params string[] arguments) =>
        new(NativePrograms.Path(program), arguments) { Timeout = System.TimeSpan.FromMinutes(2) };

    public static RunSpec With(this RunSpec spec, params (string Key, string? Value)[] variables)
    {
        var environment = new Dictionary<string, string?>(spec.Environment);
        foreach (var (key, value) in variables)
            environment[key] = value;
        return spec with { Environment = environment };
    }

    public static ServedRun Served(RunSpec spec, long minMallocs = 1) => Run(spec, minMallocs, requireStatsLine: true);

    /// <summary>As Served, for the one kind of run that has no stats line (FT_MALLOC_STATS itself under test): the caller proves service another way.</summary>
    public static ServedRun Run(RunSpec spec, long minMallocs, bool requireStatsLine)
    {
        string output = PreloadSession.CreateStatsFile();
        try
        {
            var environment = new Dictionary<string, string?>(spec.Environment);
            environment.TryGetValue("LD_PRELOAD", out string? existing);
            environment["LD_PRELOAD"] = string.IsNullOrEmpty(existing) ? NativeBuild.LibraryPath : NativeBuild.LibraryPath + ":" + existing;
            environment["FT_MALLOC_OUTPUT"] = output;
            if (!environment.ContainsKey("FT_MALLOC_STATS"))
                environment["FT_MALLOC_STATS"] = "1";
            RunResult raw = ChildProcess.Run(spec with { Environment = environment }, Allocator.Glibc);
            string text = File.ReadAllText(output);
            RunResult run = raw with { Allocator = Allocator.FtMalloc, Stats = StatsLine.ParseAll(text) };
            if (requireStatsLine)
                ChildProcess.AssertServed(run, minMallocs);
            return new ServedRun(run, text);
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Runs a program with the library preloaded, nothing else set: for checks that need no report.</summary>
    public static ServedRun Served(string program, params string[] arguments) => Served(Native(program, arguments));
}
