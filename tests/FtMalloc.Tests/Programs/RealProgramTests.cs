// Real programs under the library, each compared with the same run under glibc and each
// proving service (its own stats line, with a floor on the allocations it counted).
// Only deterministic output is compared: fixed inputs, LC_ALL=C, TZ=UTC, fixed dates
// and seeds; for programs that write files, the files (or their checksums).
// Three classes so that xunit runs them side by side on the two cores.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using FtMalloc.Cli.Stats;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Programs;

internal static class Compare
{
    /// <summary>Runs under glibc, then under the library; asserts service and the same
    /// exit code and stdout. Returns both runs.</summary>
    public static (RunResult Glibc, RunResult Served) Run(RunSpec spec, long minMallocs, ITestOutputHelper? output = null)
    {
        RunResult glibc = ChildProcess.Run(spec, Allocator.Glibc);
        RunResult served = ChildProcess.RunServed(spec, minMallocs);
        ChildProcess.AssertSameAs(glibc, served);
        output?.WriteLine($"{served.Command}: glibc {glibc.Elapsed.TotalSeconds:0.00} s, ft_malloc {served.Elapsed.TotalSeconds:0.00} s; " +
            Summary(served));
        return (glibc, served);
    }

    /// <summary>Runs the same command in two directories prepared alike: `glibcDir`
    /// without the library, `servedDir` with it.</summary>
    public static (RunResult Glibc, RunResult Served) RunIn(string glibcDir, string servedDir, RunSpec spec, long minMallocs, ITestOutputHelper? output = null)
    {
        RunResult glibc = ChildProcess.Run(spec with { WorkingDirectory = glibcDir }, Allocator.Glibc);
        RunResult served = ChildProcess.RunServed(spec with { WorkingDirectory = servedDir }, minMallocs);
        ChildProcess.AssertSameAs(glibc, served);
        output?.WriteLine($"{served.Command}: glibc {glibc.Elapsed.TotalSeconds:0.00} s, ft_malloc {served.Elapsed.TotalSeconds:0.00} s; " +
            Summary(served));
        return (glibc, served);
    }

    public static string Summary(RunResult run)
    {
        StatsSummary s = StatsSummary.Of(run.Stats);
        return $"{s.Processes} processes, {s.Mallocs} mallocs, {s.Frees} frees, {s.Reallocs} reallocs, peak {s.PeakBytes} bytes";
    }

    public static string Sha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>Every file below a directory, as relative path -> SHA-256.</summary>
    public static SortedDictionary<string, string> Tree(string root, Func<string, bool>? include = null)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file);
            if (include is null || include(relative))
                result[relative] = Sha256(file);
        }
        return result;
    }
}

/// <summary>Small everyday tools: ls, perl, vim, sqlite3, dotnet.</summary>
public sealed class SystemToolTests
{
    private readonly ITestOutputHelper _output;

    public SystemToolTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "ls -la /usr/lib prints the same listing under the library")]
    public void Ls()
    {
        Compare.Run(new RunSpec("ls", "-la", "/usr/lib"), minMallocs: 10, _output);
    }

    [Fact(DisplayName = "perl: a hash of 200,000 keys and regexes give the same results")]
    public void Perl()
    {
        const string script = """
            use strict; use warnings;
            my %h;
            for my $i (1 .. 200000) {
                my $k = sprintf("key%07d", ($i * 7919) % 1000003);
                $h{$k} .= "v$i,";
            }
            my ($n, $sum) = (0, 0);
            for my $k (sort keys %h) {
                if ($k =~ /^key(\d{3})(\d+)$/ && $1 % 7 == 0) { $n++; $sum += length($h{$k}); }
            }
            my $text = join(" ", map { "word$_" } 1 .. 100000);
            (my $t2 = $text) =~ s/word(\d*?)(\d)\b/W$2$1/g;
            my @m = ($text =~ /word(\d+5)\b/g);
            my %count; $count{length $_}++ for split / /, $t2;
            delete $h{$_} for grep { /3$/ } keys %h;
            print "keys ", scalar(keys %h), " n $n sum $sum\n";
            print "subst ", length($t2), " ", substr($t2, 0, 60), "\n";
            print "matches ", scalar(@m), " $m[0] $m[-1]\n";
            print join(",", map { "$_=$count{$_}" } sort { $a <=> $b } keys %count), "\n";
            """;
        using var dir = new TempDirectory("perl");
        File.WriteAllText(dir["script.pl"], script);
        var (_, served) = Compare.Run(new RunSpec("perl", dir["script.pl"]), minMallocs: 100_000, _output);
        Assert.StartsWith("keys ", served.Stdout);
    }

    [Fact(DisplayName = "vim -es edits a 20,000-line file into the same result")]
    public void Vim()
    {
        using var glibc = new TempDirectory("vim-glibc");
        using var served = new TempDirectory("vim-served");
        var text = new StringBuilder();
        for (int i = 0; i < 20_000; i++)
            text.Append("line ").Append(i * 7919 % 20_011).Append(" foo bar ").Append(i % 13).Append('\n');
        foreach (string d in new[] { glibc.Path, served.Path })
            File.WriteAllText(Path.Combine(d, "file.txt"), text.ToString());
        var spec = new RunSpec("vim",
            "-es", "-u", "NONE", "-i", "NONE", "-N", "-n",
            "-c", @"%s/\v(\d+) foo/<\1> FOO/g",
            "-c", @"g/ 7$/d",
            "-c", "sort u",
            "-c", "normal! ggOheader line",
            "-c", @"%s/bar/\=line('.')/",
            "-c", "wq",
            "file.txt")
        {
            Environment = { ["HOME"] = glibc.Path, ["TERM"] = "dumb" },
        };
        Compare.RunIn(glibc.Path, served.Path, spec, minMallocs: 1000, _output);
        string expected = File.ReadAllText(glibc["file.txt"]);
        Assert.StartsWith("header line\n", expected);
        Assert.NotEqual(text.ToString(), expected);
        Assert.Equal(expected, File.ReadAllText(served["file.txt"]));
    }

    [Fact(DisplayName = "sqlite3 inserts and queries 100,000 rows with the same results")]
    public void Sqlite()
    {
        const string script = """
            PRAGMA journal_mode=MEMORY;
            CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, blob BLOB);
            BEGIN;
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
            INSERT INTO t SELECT x, printf('name-%06d', (x * 7919) % 100003), x % 97, (x * 31 % 1000) / 7.0,
                                 zeroblob(x % 300) FROM c;
            COMMIT;
            CREATE INDEX t_name ON t(name);
            CREATE INDEX t_grp_val ON t(grp, val);
            SELECT count(*), sum(grp), printf('%.3f', sum(val)), sum(length(blob)) FROM t;
            SELECT grp, count(*), printf('%.3f', avg(val)) FROM t GROUP BY grp ORDER BY grp LIMIT 10;
            SELECT name FROM t WHERE name LIKE 'name-0999%' ORDER BY name;
            SELECT id FROM t ORDER BY val DESC, id LIMIT 5;
            SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name DESC LIMIT 20);
            UPDATE t SET name = upper(name) || '-' || grp WHERE id % 3 = 0;
            DELETE FROM t WHERE grp BETWEEN 10 AND 20;
            SELECT count(*), count(DISTINCT substr(name, 1, 8)), max(name) FROM t;
            PRAGMA integrity_check;
            """;
        using var glibc = new TempDirectory("sqlite-glibc");
        using var served = new TempDirectory("sqlite-served");
        var spec = new RunSpec("sqlite3", "-batch", "test.db") { Stdin = script };
        var (run, _) = Compare.RunIn(glibc.Path, served.Path, spec, minMallocs: 1000, _output);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("100000|", run.Stdout);
        Assert.EndsWith("ok\n", run.Stdout);
    }

    [Fact(DisplayName = "dotnet --info runs under the library and prints the SDK version")]
    public void DotnetInfo()
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        };
        RunResult version = ChildProcess.Run(new RunSpec("dotnet", "--version") { Environment = environment }, Allocator.Glibc);
        Assert.True(version.ExitCode == 0, version.Describe());
        string sdk = version.Stdout.Trim();
        RunResult served = ChildProcess.RunServed(new RunSpec("dotnet", "--info") { Environment = environment }, minMallocs: 1000);
        _output.WriteLine($"dotnet --info: {served.Elapsed.TotalSeconds:0.00} s; {Compare.Summary(served)}");
        Assert.True(served.ExitCode == 0, served.Describe());
        Assert.Contains(sdk, served.Stdout);
    }
}

/// <summary>Toolchains: git, gcc, make.</summary>
public sealed class BuildToolTests
{
    private readonly ITestOutputHelper _output;

    public BuildToolTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "git: init, add 1,000 files, commit, log, gc give the same history")]
    public void Git()
    {
        using var home = new TempDirectory("git-home");
        using var glibc = new TempDirectory("git-glibc");
        using var served = new TempDirectory("git-served");
        foreach (string root in new[] { glibc.Path, served.Path })
        {
            for (int i = 0; i < 1000; i++)
            {
                string dir = Path.Combine(root, $"dir{i / 100:D2}", $"sub{i % 7}");
                Directory.CreateDirectory(dir);
                var content = new StringBuilder();
                for (int line = 0; line < 5 + i % 40; line++)
                    content.Append("file ").Append(i).Append(" line ").Append(line).Append(' ').Append((i * 31 + line * 17) % 1009).Append('\n');
                File.WriteAllText(Path.Combine(dir, $"file{i:D4}.txt"), content.ToString());
            }
        }
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["GIT_CONFIG_NOSYSTEM"] = "1",
            ["GIT_AUTHOR_NAME"] = "Ft Malloc",
            ["GIT_AUTHOR_EMAIL"] = "ft@malloc.test",
            ["GIT_AUTHOR_DATE"] = "2024-01-02T03:04:05Z",
            ["GIT_COMMITTER_NAME"] = "Ft Malloc",
            ["GIT_COMMITTER_EMAIL"] = "ft@malloc.test",
            ["GIT_COMMITTER_DATE"] = "2024-01-02T03:04:05Z",
            ["GIT_PAGER"] = "cat",
        };
        string[][] steps =
        {
            new[] { "-c", "init.defaultBranch=main", "init", "-q" },
            new[] { "add", "." },
            new[] { "commit", "-q", "-m", "a thousand files" },
            new[] { "rm", "-q", "-r", "dir03" },
            new[] { "mv", "dir04", "moved" },
            new[] { "commit", "-q", "-m", "remove and move" },
            new[] { "log", "--stat", "--format=%H %an <%ae> %ad %s" },
            new[] { "-c", "gc.autoDetach=false", "gc", "-q", "--aggressive" },
            new[] { "fsck", "--full", "--no-progress" },
            new[] { "log", "--format=%H %T %s" },
            new[] { "ls-files", "-s" },
        };
        long mallocs = 0;
        foreach (string[] step in steps)
        {
            var spec = new RunSpec("git", step) { Environment = environment };
            var (_, run) = Compare.RunIn(glibc.Path, served.Path, spec, minMallocs: 1, _output);
            mallocs += run.Stats.Sum(s => s.Mallocs);
        }
        Assert.True(mallocs > 10_000, $"git under the library counted only {mallocs} allocations");
    }

    [Fact(DisplayName = "gcc -O2 builds a generated 12-file C program that prints the same results")]
    public void Gcc()
    {
        using var glibc = new TempDirectory("gcc-glibc");
        using var served = new TempDirectory("gcc-served");
        string[] sources = GeneratedProgram.Write(glibc.Path, 12);
        GeneratedProgram.Write(served.Path, 12);
        var compile = new RunSpec("gcc", new[] { "-O2", "-Wall", "-o", "prog" }.Concat(sources).ToArray());
        var (_, run) = Compare.RunIn(glibc.Path, served.Path, compile, minMallocs: 1000, _output);
        Assert.True(run.ExitCode == 0, run.Describe());
        // The driver and, below it, cc1 (for every file), as, collect2 and ld.
        Assert.True(run.Stats.Count >= 1 + 2 * sources.Length, $"expected the compiler's subprocesses to be served too\n{run.Describe()}");

        RunResult a = ChildProcess.Run(new RunSpec(glibc["prog"]), Allocator.Glibc);
        RunResult b = ChildProcess.Run(new RunSpec(served["prog"]), Allocator.Glibc);
        Assert.True(a.ExitCode == 0, a.Describe());
        ChildProcess.AssertSameAs(a, b);
        Assert.Contains("total ", b.Stdout);
    }

    [Fact(DisplayName = "make -j2 builds a generated project the same way")]
    public void Make()
    {
        using var glibc = new TempDirectory("make-glibc");
        using var served = new TempDirectory("make-served");
        foreach (string d in new[] { glibc.Path, served.Path })
        {
            string[] sources = GeneratedProgram.Write(d, 16);
            var makefile = new StringBuilder();
            string[] objects = sources.Select(s => Path.ChangeExtension(s, ".o")).ToArray();
            makefile.Append("CC = gcc\nCFLAGS = -O0\nOBJS = ").Append(string.Join(' ', objects)).Append('\n');
            makefile.Append("all: report.txt\n");
            makefile.Append("app: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n");
            makefile.Append("%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n");
            makefile.Append("words.txt: $(wildcard *.c)\n\tcat $^ | tr -cs 'A-Za-z_' '\\n' | sort | uniq -c | sort -k1,1nr -k2 | head -20 > $@\n");
            makefile.Append("report.txt: app words.txt\n\t./app > $@\n\tcat words.txt >> $@\n\t$(foreach o,$(OBJS),echo $(o) >> $@;)\n");
            makefile.Append(".PHONY: all\n");
            File.WriteAllText(Path.Combine(d, "Makefile"), makefile.ToString());
        }
        var build = new RunSpec("make", "-j2", "-s");
        var (_, run) = Compare.RunIn(glibc.Path, served.Path, build, minMallocs: 100, _output);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(run.Stats.Count >= 16, $"expected make's children to be served too\n{run.Describe()}");
        Assert.Equal(File.ReadAllText(glibc["report.txt"]), File.ReadAllText(served["report.txt"]));
        // make -q: everything is up to date (exit 0) under both.
        Compare.RunIn(glibc.Path, served.Path, new RunSpec("make", "-q"), minMallocs: 10, _output);
    }
}

/// <summary>Data crunching: python3 and sort.</summary>
public sealed class DataToolTests
{
    private readonly ITestOutputHelper _output;

    public DataToolTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "python3 (PYTHONMALLOC=malloc): JSON round trip, sorting a million strings, regexes")]
    public void Python()
    {
        const string script = """
            import hashlib, json, random, re
            random.seed(42)
            data = {"items": [{"id": i, "name": f"item-{i}", "tags": [f"t{j}" for j in range(i % 7)],
                               "value": random.random(), "nested": {"a": [i, i * 2, {"b": str(i) * (i % 5)}]}}
                              for i in range(150000)]}
            text = json.dumps(data, sort_keys=True)
            back = json.loads(text)
            assert back == data
            print("json", len(text), hashlib.sha256(text.encode()).hexdigest())
            del data, back
            words = [f"{random.getrandbits(64):016x}-{i}" for i in range(1000000)]
            words.sort()
            print("sort", words[0], words[-1], hashlib.sha256("\n".join(words).encode()).hexdigest())
            joined = " ".join(words[:200000])
            pattern = re.compile(r"\b([0-9a-f]{4})([0-9a-f]{12})-(\d*7)\b")
            found = pattern.findall(joined)
            print("findall", len(found), hashlib.sha256(repr(found).encode()).hexdigest())
            swapped = re.sub(r"([a-f]+)([0-9]+)", lambda m: m.group(2) + m.group(1).upper(), joined)
            print("sub", len(swapped), hashlib.sha256(swapped.encode()).hexdigest())
            counts = {}
            for w in re.split(r"[-\s]+", joined):
                counts[w[:2]] = counts.get(w[:2], 0) + 1
            print("split", len(counts), sorted(counts.items())[:3])
            """;
        using var dir = new TempDirectory("python");
        File.WriteAllText(dir["script.py"], script);
        var spec = new RunSpec("/usr/bin/python3", dir["script.py"])
        {
            Environment = { ["PYTHONMALLOC"] = "malloc", ["PYTHONHASHSEED"] = "0", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            Timeout = TimeSpan.FromMinutes(4),
        };
        var (_, served) = Compare.Run(spec, minMallocs: 1_000_000, _output);
        Assert.True(served.ExitCode == 0, served.Describe());
        Assert.StartsWith("json ", served.Stdout);
    }

    [Fact(DisplayName = "sort of a generated 50 MB file gives the same bytes, in memory and with temporary files")]
    public void Sort()
    {
        using var dir = new TempDirectory("sort");
        string input = dir["input.txt"];
        GenerateLines(input, 50L * 1000 * 1000);
        foreach (string[] options in new[] { Array.Empty<string>(), new[] { "-S", "8M", "-T", dir.Path, "-k2,2", "-k1,1r" } })
        {
            string glibcOut = dir["glibc.txt"], servedOut = dir["served.txt"];
            RunResult glibc = ChildProcess.Run(new RunSpec("sort", options.Concat(new[] { "-o", glibcOut, input }).ToArray()), Allocator.Glibc);
            RunResult served = ChildProcess.RunServed(new RunSpec("sort", options.Concat(new[] { "-o", servedOut, input }).ToArray()), minMallocs: 1);
            _output.WriteLine($"{served.Command}: glibc {glibc.Elapsed.TotalSeconds:0.00} s, ft_malloc {served.Elapsed.TotalSeconds:0.00} s; {Compare.Summary(served)}");
            Assert.True(glibc.ExitCode == 0, glibc.Describe());
            Assert.True(served.ExitCode == 0, served.Describe());
            Assert.True(served.OwnStats!.PeakBytes >= 1_000_000, $"sort's buffer should come from the library\n{served.Describe()}");
            Assert.Equal(new FileInfo(glibcOut).Length, new FileInfo(servedOut).Length);
            Assert.Equal(Compare.Sha256(glibcOut), Compare.Sha256(servedOut));
            File.Delete(glibcOut);
            File.Delete(servedOut);
        }
    }

    /// <summary>About `bytes` of lines "word number word", from a fixed seed.</summary>
    private static void GenerateLines(string path, long bytes)
    {
        var random = new Random(20240102);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        long written = 0;
        var line = new StringBuilder();
        const string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        while (written < bytes)
        {
            line.Clear();
            int length = 3 + random.Next(20);
            for (int i = 0; i < length; i++)
                line.Append(letters[random.Next(letters.Length)]);
            line.Append(' ').Append(random.Next(1_000_000)).Append(' ');
            length = random.Next(12);
            for (int i = 0; i < length; i++)
                line.Append(letters[random.Next(26)]);
            line.Append('\n');
            writer.Write(line);
            written += line.Length;
        }
    }
}

/// <summary>A generated multi-file C program: file k defines f_k, whose result depends
/// on the others', and main.c prints them all and a total.</summary>
internal static class GeneratedProgram
{
    public static string[] Write(string directory, int files)
    {
        var names = new List<string>();
        for (int k = 0; k < files; k++)
        {
            var c = new StringBuilder();
            c.Append("#include <stdint.h>\n#include <string.h>\n");
            if (k > 0)
                c.Append("uint64_t f_").Append(k - 1).Append("(uint64_t);\n");
            c.Append("static uint64_t table_").Append(k).Append("[256];\n");
            c.Append("static void fill_").Append(k).Append("(void) {\n")
             .Append("    for (int i = 0; i < 256; i++) table_").Append(k).Append("[i] = (uint64_t)i * ").Append(2654435761u + (uint)k).Append("u ^ ").Append(k * 977).Append(";\n}\n");
            c.Append("uint64_t f_").Append(k).Append("(uint64_t x) {\n")
             .Append("    static int ready;\n    if (!ready) { fill_").Append(k).Append("(); ready = 1; }\n")
             .Append("    uint64_t h = x + ").Append(k).Append(";\n")
             .Append("    for (int r = 0; r < ").Append(1000 + 100 * k).Append("; r++) {\n")
             .Append("        h ^= table_").Append(k).Append("[(h >> 7) & 255];\n")
             .Append("        h = (h << 13) | (h >> 51);\n        h *= 0x9E3779B97F4A7C15ull;\n    }\n");
            c.Append(k > 0 ? $"    return h ^ f_{k - 1}(x / 3);\n" : "    return h;\n").Append("}\n");
            string name = $"unit{k:D2}.c";
            File.WriteAllText(Path.Combine(directory, name), c.ToString());
            names.Add(name);
        }
        var main = new StringBuilder();
        main.Append("#include <stdio.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n");
        for (int k = 0; k < files; k++)
            main.Append("uint64_t f_").Append(k).Append("(uint64_t);\n");
        main.Append("int main(void) {\n    uint64_t total = 0;\n");
        for (int k = 0; k < files; k++)
            main.Append("    { uint64_t v = f_").Append(k).Append("(").Append(k * 1000 + 7).Append("); printf(\"f_").Append(k).Append(" = %016llx\\n\", (unsigned long long)v); total += v; }\n");
        main.Append("    char *s = malloc(64); snprintf(s, 64, \"%llu\", (unsigned long long)total);\n");
        main.Append("    printf(\"total %s (%zu digits)\\n\", s, strlen(s));\n    free(s);\n    return 0;\n}\n");
        File.WriteAllText(Path.Combine(directory, "main.c"), main.ToString());
        names.Add("main.c");
        return names.ToArray();
    }
}
