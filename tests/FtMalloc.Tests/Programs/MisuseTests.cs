// Bad frees through the exported C ABI (tests/native/misuse.c): each pointer is built to
// pass some of free's fast-path tests (a known zone, 16-byte alignment, a block's
// interior, a zone header, an address wrapped above 2^47, a LARGE block's first chunk, a
// block already cached or already unmapped) and must still be reported, exactly once,
// without damage to the live blocks. The diagnostic lines, which only the library
// prints, prove that it served the program.
using System;
using System.Linq;
using System.Text.RegularExpressions;

namespace FtMalloc.Tests.Programs;

public sealed class MisuseTests
{
    [Fact(DisplayName = "misuse: every bad free is reported once (FT_MALLOC_CHECK=1), live blocks keep their bytes, the heap still serves")]
    public void Every_bad_free_is_reported_and_changes_nothing()
    {
        var spec = new RunSpec(NativePrograms.Path("misuse"))
        {
            Environment = { ["FT_MALLOC_CHECK"] = "1" },
            Timeout = TimeSpan.FromMinutes(1),
        };
        RunResult run = ChildProcess.Run(spec, Allocator.FtMalloc);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("live blocks intact: yes\n", run.Stdout);
        Assert.EndsWith("heap ok\n", run.Stdout);

        var bad = Regex.Matches(run.Stdout, @"^bad (\S+) 0x([0-9a-f]+)$", RegexOptions.Multiline)
            .Select(m => (What: m.Groups[1].Value, Hex: m.Groups[2].Value)).ToList();
        Assert.Equal(14, bad.Count);
        Assert.Contains($"bad calls: {bad.Count}\n", run.Stdout);

        string[] diagnostics = run.Stderr.Split('\n').Where(l => l.StartsWith("ft_malloc: free(): ", StringComparison.Ordinal)).ToArray();
        Assert.True(diagnostics.Length == bad.Count, $"{bad.Count} bad frees, {diagnostics.Length} diagnostics\n{run.Describe()}");
        for (int i = 0; i < bad.Count; i++)
        {
            Assert.True(diagnostics[i].EndsWith("0x" + bad[i].Hex, StringComparison.OrdinalIgnoreCase),
                $"bad free #{i} ({bad[i].What}, 0x{bad[i].Hex}) got: {diagnostics[i]}\n{run.Describe()}");
        }
        Assert.Contains("double free", diagnostics[0]);
    }
}
