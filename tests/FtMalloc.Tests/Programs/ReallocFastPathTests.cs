// The exported realloc's fast path (a TINY/SMALL block of the caller's own heap, resized or
// moved without a second lookup), run through tests/native/reallocs.c: every usable byte
// checked across in-place growth, moves, shrinks, a block of another thread, and the
// edges; every call counted once, whichever way it went.
using System.Text.RegularExpressions;
using FtMalloc.Tests.Introspection;

namespace FtMalloc.Tests.Programs;

public sealed class ReallocFastPathTests
{
    [Fact(DisplayName = "realloc: thousands of calls grow, move and shrink blocks without losing a usable byte, each counted once (most in place)")]
    public void Every_realloc_keeps_the_bytes_and_is_counted_once()
    {
        RunResult plain = ChildProcess.Run(LibraryRun.Native("reallocs"), Allocator.Glibc);
        Assert.True(plain.ExitCode == 0 && plain.Stdout.EndsWith("OK\n"), plain.Describe()); // the program itself is right

        ServedRun run = LibraryRun.Served(LibraryRun.Native("reallocs"));
        Assert.True(run.Run.ExitCode == 0 && run.Run.Stdout.EndsWith("OK\n"), run.Run.Describe());
        long calls = long.Parse(Regex.Match(run.Run.Stdout, @"reallocs (\d+)").Groups[1].Value);
        var f = run.Stats.Fields;
        Assert.Equal(calls, f["calls_realloc"]);
        Assert.Equal(calls - 3, f["reallocs"]); // realloc(NULL, 1), realloc(p, 0) and realloc(NULL, 24) reallocate nothing
        Assert.True(f["reallocs_in_place"] > calls / 2, run.Output);
        Assert.Equal(0, f["misuse_detected"]);
    }
}
