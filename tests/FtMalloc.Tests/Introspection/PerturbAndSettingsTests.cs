// FT_MALLOC_PERTURB / MALLOC_PERTURB_, and the settings table: every variable is read
// from one table, a malformed value warns with one line and keeps the default, and the
// README documents exactly that table.
using System;
using System.IO;
using System.Linq;
using System.Text;
using FtMalloc.Core.Options;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

public sealed class PerturbAndSettingsTests
{
    private static string PerturbExpectation(byte n)
    {
        string fresh = $"0x{(byte)(n ^ 0xFF):X2}";
        return $"malloc first={fresh} uniform=1\n" +
               "calloc zero=1\n" +
               $"freed byte=0x{n:X2} uniform=1\n" +
               $"realloc kept=1 tail={fresh} uniform=1\n" +
               $"memalign first={fresh} uniform=1\n" +
               $"large first={fresh} uniform=1\n" +
               "large calloc zero=1\n";
    }

    [Theory(DisplayName = "perturb: new blocks hold ~N, freed blocks N, calloc's stay zero")]
    [InlineData("FT_MALLOC_PERTURB", "90", 90)]
    [InlineData("MALLOC_PERTURB_", "165", 165)]
    public void Perturb(string variable, string value, byte n)
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "perturb").With((variable, value)), minMallocs: 7);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Assert.Equal(PerturbExpectation(n), run.Run.Stdout);
    }

    [Fact(DisplayName = "FT_MALLOC_PERTURB wins over MALLOC_PERTURB_; without either, fresh memory is zero and a freed block keeps its bytes")]
    public void PerturbPrecedenceAndOff()
    {
        ServedRun both = LibraryRun.Served(LibraryRun.Native("introspect", "perturb").With(("FT_MALLOC_PERTURB", "90"), ("MALLOC_PERTURB_", "165")), minMallocs: 7);
        Assert.Equal(PerturbExpectation(90), both.Run.Stdout);
        ServedRun off = LibraryRun.Served(LibraryRun.Native("introspect", "perturb"), minMallocs: 7);
        Assert.StartsWith("malloc first=0x00 uniform=1\ncalloc zero=1\nfreed byte=0x11 uniform=1\n", off.Run.Stdout);
    }

    [Fact(DisplayName = "settings are read when another library's initializer allocates before the library's own (set-up from environ)")]
    public void SettingsReadByEarlySetUp()
    {
        // tests/native/earlymalloc.c's constructor runs before ft_malloc_on_load and prints a
        // byte of its first block: with FT_MALLOC_PERTURB=90, ~90 = 0xa5 if that early set-up
        // read the settings (from libc's environ: ThreadHeap.ProcessEnvironment), 0 if not.
        RunSpec spec = LibraryRun.Native("test0").With(("LD_PRELOAD", NativePrograms.Path("earlymalloc.so")), ("FT_MALLOC_PERTURB", "90"));
        ServedRun run = LibraryRun.Served(spec);
        Assert.Contains("earlymalloc: first block byte 0xa5\n", run.Run.Stderr);
    }

    [Fact(DisplayName = "malformed settings each print one warning line naming the value and the default, and keep the default")]
    public void MalformedSettingsWarn()
    {
        using var dir = new TempDirectory("settings");
        RunSpec spec = LibraryRun.Native("introspect", "perturb").With(
            ("FT_MALLOC_CHECK", "x"), ("FT_MALLOC_SHOW", "maybe"), ("FT_MALLOC_SHOW_DUMP", "-1"), ("FT_MALLOC_LEAKS", "2"),
            ("FT_MALLOC_PERTURB", "300"), ("MALLOC_PERTURB_", "12abc"), ("FT_MALLOC_TRACE", dir["no/such/dir/trace"]),
            ("FT_MALLOC_SNAPSHOT", ""));
        ServedRun run = LibraryRun.Served(spec, minMallocs: 7);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Assert.Equal(
            "ft_malloc: ignoring FT_MALLOC_CHECK='x' (expected 0, 1, 2 or 3), keeping the default 3\n" +
            "ft_malloc: ignoring FT_MALLOC_SHOW='maybe' (expected 0, 1 or ex), keeping the default 0\n" +
            "ft_malloc: ignoring FT_MALLOC_SHOW_DUMP='-1' (expected 0 to 65536), keeping the default 16\n" +
            "ft_malloc: ignoring FT_MALLOC_LEAKS='2' (expected 0 or 1), keeping the default 0\n" +
            "ft_malloc: ignoring FT_MALLOC_PERTURB='300' (expected 0 to 255), keeping the default 0\n" +
            "ft_malloc: ignoring MALLOC_PERTURB_='12abc' (expected 0 to 255), keeping the default 0\n" +
            $"ft_malloc: ignoring FT_MALLOC_TRACE='{dir["no/such/dir/trace"]}' (expected a writable file path), keeping the default none\n",
            run.Run.Stderr);
        // Defaults kept: no perturbing, no exit reports but the stats line, no trace.
        Assert.StartsWith("malloc first=0x00 uniform=1\n", run.Run.Stdout);
        Assert.Empty(run.ReportLines);

        // FT_MALLOC_STATS itself: the default (0) means no stats line, so the leak report
        // (only the library writes it, with the process id) proves the library served it.
        ServedRun quiet = LibraryRun.Run(LibraryRun.Native("leaks").With(("FT_MALLOC_STATS", "yes"), ("FT_MALLOC_LEAKS", "1")), 0, requireStatsLine: false);
        Assert.True(quiet.Run.ExitCode == 0, quiet.Run.Describe());
        Assert.Equal("ft_malloc: ignoring FT_MALLOC_STATS='yes' (expected 0, 1 or 2), keeping the default 0\n", quiet.Run.Stderr);
        Assert.Empty(quiet.Run.Stats);
        Assert.StartsWith($"ft_malloc: leaks of pid {quiet.Run.Pid}: blocks still allocated at exit\n", quiet.Output);
    }

    [Fact(DisplayName = "the settings table: every row parses its documented values and rejects the rest")]
    public unsafe void TableParsing()
    {
        (Setting Setting, string Text, int? Value)[] cases =
        {
            (Setting.Check, "0", 0), (Setting.Check, "3", 3), (Setting.Check, "4", null), (Setting.Check, "", null), (Setting.Check, " 1", null),
            (Setting.Stats, "2", 2), (Setting.Stats, "02", 2), (Setting.Stats, "3", null),
            (Setting.Show, "ex", 2), (Setting.Show, "1", 1), (Setting.Show, "EX", null), (Setting.Show, "exx", null),
            (Setting.ShowDump, "65536", 65536), (Setting.ShowDump, "65537", null), (Setting.ShowDump, "99999999999999999999", null),
            (Setting.Leaks, "1", 1), (Setting.Perturb, "255", 255), (Setting.Perturb, "256", null), (Setting.GlibcPerturb, "165", 165),
        };
        foreach (var (setting, text, value) in cases)
        {
            byte[] z = Encoding.ASCII.GetBytes(text + "\0");
            fixed (byte* p = z)
            {
                bool ok = Settings.TryParse(Settings.Describe(setting), p, out int parsed);
                Assert.True(ok == value.HasValue, $"{setting} '{text}': parsed {ok}");
                if (ok) Assert.Equal(value!.Value, parsed);
            }
        }
    }

    [Fact(DisplayName = "every setting's name starts with a prefix that the start-up scan of the environment looks for")]
    public unsafe void StartupScanFindsEverySetting()
    {
        for (Setting s = 0; s < Setting.Count; s++)
        {
            byte[] entry = Settings.Describe(s).Name.ToArray().Concat("=1\0"u8.ToArray()).ToArray();
            fixed (byte* e = entry)
            {
                byte** environment = stackalloc byte*[] { e, null };
                Assert.True(Settings.MayHoldSetting(environment), $"the scan misses {Encoding.ASCII.GetString(Settings.Describe(s).Name)}");
            }
        }
        foreach (string other in new[] { "PATH=/bin", "FT_MALL=1", "MALLOC_ARENA_MAX=2", "M", "" })
        {
            byte[] entry = Encoding.ASCII.GetBytes(other + "\0");
            fixed (byte* e = entry)
            {
                byte** environment = stackalloc byte*[] { e, null };
                Assert.False(Settings.MayHoldSetting(environment), $"the scan takes '{other}' for a setting");
            }
        }
    }

    [Fact(DisplayName = "the README's settings table lists every setting of the code's table, with its default")]
    public void ReadmeDocumentsTheTable()
    {
        string readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var rows = readme.Split('\n').Where(l => l.StartsWith("| `")).ToList();
        for (Setting s = 0; s < Setting.Count; s++)
        {
            SettingInfo info = Settings.Describe(s);
            string name = Encoding.ASCII.GetString(info.Name);
            string defaultText = Encoding.ASCII.GetString(info.DefaultText);
            string? row = rows.FirstOrDefault(r => r.StartsWith($"| `{name}` |", StringComparison.Ordinal));
            Assert.True(row is not null, $"README.md has no settings row for {name}");
            string cell = row!.Split('|')[2].Trim().Trim('`');
            Assert.True(cell == defaultText, $"README.md gives {name} the default '{cell}', the code '{defaultText}'");
        }
    }
}
