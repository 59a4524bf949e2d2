// Heavily threaded real programs under the library (issue 4), each proving service through
// its stats lines and compared with the same run under glibc on what is deterministic:
//   dotnet build   this repository's src/FtMalloc.Core and src/FtMalloc plus a generated
//                  project, copied to a temporary folder and built with -m:2 (the .NET
//                  runtime, its GC and thread-pool threads, the MSBuild worker node and the
//                  compilers all on FtMalloc); the built assemblies must be byte-identical
//                  and no process of the build may outlive it
//   git gc         --aggressive with pack.threads=2 on a generated repository
//   xz -T2         compressing a generated 50 MB file: same bytes, xz -t passes, and
//                  decompressing (-T2 too) gives the input back
//   make -j4       of a generated 40-file C project
// Three classes so that xunit runs them side by side on the two cores.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Programs;

/// <summary>`dotnet build` under the library.</summary>
public sealed class DotnetBuildTests
{
    private readonly ITestOutputHelper _output;

    public DotnetBuildTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "dotnet build -m:2 of src/FtMalloc.Core, src/FtMalloc and a generated project gives the same assemblies")]
    public void Dotnet_build()
    {
        using var glibc = new TempDirectory("dotnet-glibc");
        using var served = new TempDirectory("dotnet-served");
        foreach (string root in new[] { glibc.Path, served.Path })
            PrepareBuildTree(root);

        // A marker in every process's environment finds anything the build leaves running.
        string marker = Guid.NewGuid().ToString("N");
        var spec = new RunSpec("dotnet", "build", "build.slnx", "-c", "Release", "-m:2", "-nodeReuse:false",
            "-nologo", "-v:m", "-clp:NoSummary",
            "-p:UseSharedCompilation=false", "-p:DebugType=none", "-p:Deterministic=true",
            "-p:PathMap=$(MSBuildProjectDirectory)=/_/")
        {
            Environment =
            {
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
                ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
                ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
                ["MSBUILDDISABLENODEREUSE"] = "1",
                ["UseSharedCompilation"] = "false",
                ["FTMALLOC_TEST_MARKER"] = marker,
            },
            Timeout = TimeSpan.FromMinutes(4),
        };
        RunResult baseline = ChildProcess.Run(spec with { WorkingDirectory = glibc.Path }, Allocator.Glibc);
        Assert.True(baseline.ExitCode == 0, $"the build fails under glibc too: the tree, not the allocator\n{baseline.Describe()}");
        RunResult run = ChildProcess.RunServed(spec with { WorkingDirectory = served.Path }, minMallocs: 100_000);
        _output.WriteLine($"{run.Command}: glibc {baseline.Elapsed.TotalSeconds:0.00} s, ft_malloc {run.Elapsed.TotalSeconds:0.00} s; {Compare.Summary(run)}");
        Assert.True(run.ExitCode == 0, run.Describe());
        // dotnet itself, the MSBuild worker node and a compiler per project, at least.
        Assert.True(run.Stats.Count >= 4, $"expected the build's processes to be served too\n{run.Describe()}");
        AssertNothingLeftRunning(marker);

        static bool Assembly(string relative) => relative.Contains("/bin/Release/") && relative.EndsWith(".dll", StringComparison.Ordinal);
        SortedDictionary<string, string> expected = Compare.Tree(glibc.Path, Assembly);
        foreach (string name in new[] { "FtMalloc.Core.dll", "FtMalloc.dll", "Gen.dll" })
            Assert.Contains(expected.Keys, k => Path.GetFileName(k) == name);
        Assert.Equal(expected, Compare.Tree(served.Path, Assembly));

        // The program it built, run by the .NET runtime on FtMalloc: threads and GC.
        var app = new RunSpec("dotnet", Path.Combine("gen", "bin", "Release", "net10.0", "Gen.dll"))
        {
            Environment = { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_gcServer"] = "1", ["DOTNET_GCHeapCount"] = "2" },
        };
        var (_, ran) = Compare.RunIn(glibc.Path, served.Path, app, minMallocs: 1000, _output);
        Assert.True(ran.ExitCode == 0, ran.Describe());
        Assert.Contains("total ", ran.Stdout);
    }

    /// <summary>Directory.Build.props, src/FtMalloc.Core and src/FtMalloc (sources only),
    /// a generated console project gen/Gen.csproj with no reference to them, and a solution
    /// of the three, so that -m:2 builds two projects at once.</summary>
    private static void PrepareBuildTree(string root)
    {
        File.Copy(Path.Combine(Repo.Root, "Directory.Build.props"), Path.Combine(root, "Directory.Build.props"));
        foreach (string project in new[] { "FtMalloc.Core", "FtMalloc" })
            CopySources(Path.Combine(Repo.Root, "src", project), Path.Combine(root, "src", project));

        string gen = Path.Combine(root, "gen");
        Directory.CreateDirectory(gen);
        File.WriteAllText(Path.Combine(gen, "Gen.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
            </Project>
            """);
        const int classes = 40;
        for (int k = 0; k < classes; k++)
        {
            var c = new StringBuilder();
            c.Append("namespace Gen;\n\n");
            c.Append($"public static class Part{k:D2}\n{{\n");
            c.Append($"    public record Item(int Id, string Name, List<int> Values);\n\n");
            c.Append($"    public static long Run(int seed)\n    {{\n");
            c.Append($"        var items = new List<Item>();\n");
            c.Append($"        for (int i = 0; i < {2000 + 50 * k}; i++)\n");
            c.Append($"            items.Add(new Item(i, $\"p{k}-{{i * 7919 % 10007}}\", Enumerable.Range(0, i % 17).Select(j => j * seed + {k}).ToList()));\n");
            c.Append("        var groups = items.GroupBy(x => x.Name.Length).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Sum(x => (long)x.Values.Sum()));\n");
            c.Append("        long h = 17;\n        foreach (var (key, value) in groups)\n            h = h * 31 + key * 1000003L + value;\n");
            for (int v = 0; v < 8; v++)
                c.Append($"        h ^= Mix{v}(h, seed);\n");
            c.Append("        return h;\n    }\n\n");
            for (int v = 0; v < 8; v++)
                c.Append($"    private static long Mix{v}(long h, int s) => (h << {v + 3}) ^ (h >> {13 + v}) ^ (s * {v + k + 1}L);\n");
            c.Append("}\n");
            File.WriteAllText(Path.Combine(gen, $"Part{k:D2}.cs"), c.ToString());
        }
        var main = new StringBuilder();
        main.Append("namespace Gen;\n\npublic static class Program\n{\n    public static int Main()\n    {\n");
        main.Append($"        var results = new long[{classes}];\n");
        main.Append($"        var parts = new Func<int, long>[] {{ {string.Join(", ", Enumerable.Range(0, classes).Select(k => $"Part{k:D2}.Run"))} }};\n");
        main.Append("        Parallel.For(0, parts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = parts[i](i + 1));\n");
        main.Append("        long total = 0;\n        for (int i = 0; i < results.Length; i++) { Console.WriteLine($\"part {i}: {results[i]:x16}\"); total ^= results[i]; }\n");
        main.Append("        GC.Collect();\n        Console.WriteLine($\"total {total:x16}\");\n        return 0;\n    }\n}\n");
        File.WriteAllText(Path.Combine(gen, "Program.cs"), main.ToString());

        File.WriteAllText(Path.Combine(root, "build.slnx"), """
            <Solution>
              <Project Path="src/FtMalloc.Core/FtMalloc.Core.csproj" />
              <Project Path="src/FtMalloc/FtMalloc.csproj" />
              <Project Path="gen/Gen.csproj" />
            </Solution>
            """);
    }

    private static void CopySources(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            string top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj")
                continue;
            string target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Fails if a process whose environment carries the marker is still alive
    /// a few seconds after the build returned (a build server, a reused node).</summary>
    private static void AssertNothingLeftRunning(string marker)
    {
        List<string> left = new();
        for (int attempt = 0; attempt < 20; attempt++)
        {
            left = ProcessesWithMarker(marker);
            if (left.Count == 0)
                return;
            Thread.Sleep(500);
        }
        Assert.Fail($"processes of the build still running after it returned:\n{string.Join('\n', left)}");
    }

    private static List<string> ProcessesWithMarker(string marker)
    {
        var found = new List<string>();
        byte[] needle = Encoding.ASCII.GetBytes("FTMALLOC_TEST_MARKER=" + marker);
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                byte[] environ = File.ReadAllBytes(Path.Combine(dir, "environ"));
                if (environ.AsSpan().IndexOf(needle) < 0)
                    continue;
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                string state = File.ReadAllText(Path.Combine(dir, "stat")).Split(' ').ElementAtOrDefault(2) ?? "?";
                if (state != "Z")
                    found.Add($"{pid}: {cmdline}");
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }
}

/// <summary>git gc with pack threads and xz -T2 under the library.</summary>
public sealed class ThreadedToolTests
{
    private readonly ITestOutputHelper _output;

    public ThreadedToolTests(ITestOutputHelper output) => _output = output;

    private static Dictionary<string, string?> GitEnvironment(string home) => new()
    {
        ["HOME"] = home,
        ["GIT_CONFIG_NOSYSTEM"] = "1",
        ["GIT_AUTHOR_NAME"] = "Ft Malloc",
        ["GIT_AUTHOR_EMAIL"] = "ft@malloc.test",
        ["GIT_AUTHOR_DATE"] = "2024-01-02T03:04:05Z",
        ["GIT_COMMITTER_NAME"] = "Ft Malloc",
        ["GIT_COMMITTER_EMAIL"] = "ft@malloc.test",
        ["GIT_COMMITTER_DATE"] = "2024-01-02T03:04:05Z",
        ["GIT_PAGER"] = "cat",
    };

    [Fact(DisplayName = "git gc --aggressive with pack.threads=2 on a generated repository keeps every object")]
    public void Git_gc_with_pack_threads()
    {
        using var home = new TempDirectory("gitgc-home");
        using var glibc = new TempDirectory("gitgc-glibc");
        using var served = new TempDirectory("gitgc-served");
        Dictionary<string, string?> environment = GitEnvironment(home.Path);

        // The same history in both folders, made under glibc: 1,200 files, then 6 commits
        // that each rewrite a fifth of them a little (so the pack has long delta chains).
        foreach (string root in new[] { glibc.Path, served.Path })
        {
            void Git(params string[] args)
            {
                RunResult r = ChildProcess.Run(new RunSpec("git", args) { Environment = environment, WorkingDirectory = root }, Allocator.Glibc);
                Assert.True(r.ExitCode == 0, r.Describe());
            }
            Git("-c", "init.defaultBranch=main", "init", "-q");
            Git("config", "gc.auto", "0");
            for (int commit = 0; commit < 7; commit++)
            {
                for (int i = 0; i < 1200; i++)
                {
                    if (commit > 0 && (i * 7 + commit) % 5 != 0)
                        continue;
                    string dir = Path.Combine(root, $"d{i / 100:D2}");
                    Directory.CreateDirectory(dir);
                    var content = new StringBuilder();
                    for (int line = 0; line < 40 + i % 60; line++)
                    {
                        int version = line % 9 == commit % 9 ? commit : 0;
                        content.Append("file ").Append(i).Append(" line ").Append(line).Append(" v").Append(version)
                               .Append(' ').Append((i * 31 + line * 17 + version * 101) % 100_003).Append('\n');
                    }
                    File.WriteAllText(Path.Combine(dir, $"f{i:D4}.txt"), content.ToString());
                }
                Git("add", "-A");
                Git("commit", "-q", "-m", $"commit {commit}");
            }
        }

        var gc = new RunSpec("git", "-c", "pack.threads=2", "-c", "gc.autoDetach=false", "gc", "-q", "--aggressive")
        {
            Environment = environment,
            Timeout = TimeSpan.FromMinutes(4),
        };
        var (_, run) = Compare.RunIn(glibc.Path, served.Path, gc, minMallocs: 1, _output);
        Assert.True(run.ExitCode == 0, run.Describe());
        long mallocs = run.Stats.Sum(s => s.Mallocs);
        Assert.True(run.Stats.Count >= 2 && mallocs > 10_000,
            $"git gc and its pack-objects should be served: {run.Stats.Count} processes, {mallocs} allocations\n{run.Describe()}");

        // Every object is still there, and the repository checks out as fully consistent;
        // the same answers under the library (the pack itself may differ: thread split).
        foreach (string[] step in new[]
        {
            new[] { "fsck", "--full", "--strict", "--no-progress" },
            new[] { "cat-file", "--batch-all-objects", "--batch-check" },
            new[] { "log", "--format=%H %T %s" },
        })
        {
            var spec = new RunSpec("git", step) { Environment = environment };
            var (check, _) = Compare.RunIn(glibc.Path, served.Path, spec, minMallocs: 1, _output);
            Assert.True(check.ExitCode == 0, check.Describe());
        }
        // gc packed everything: no loose object left.
        RunResult count = ChildProcess.RunServed(new RunSpec("git", "count-objects", "-v") { Environment = environment, WorkingDirectory = served.Path });
        Assert.Contains("count: 0\n", count.Stdout);
        Assert.Contains("packs: 1\n", count.Stdout);
    }

    [Fact(DisplayName = "xz -T2 compresses a generated 50 MB file to the same bytes; xz -t and -d -T2 agree")]
    public void Xz_two_threads()
    {
        using var dir = new TempDirectory("xz");
        string input = dir["input.txt"];
        GenerateText(input, 50L * 1000 * 1000);
        string glibcOut = dir["glibc.xz"], servedOut = dir["served.xz"];

        // -1: 3 MiB blocks, so the two threads take 17 blocks in turn (about 10 s each way).
        RunResult glibc = ChildProcess.Run(new RunSpec("sh", "-c", $"xz -T2 -1 -c '{input}' > '{glibcOut}'"), Allocator.Glibc);
        Assert.True(glibc.ExitCode == 0, glibc.Describe());
        var compress = new RunSpec("xz", "-T2", "-1", "-k", "-c", input) { Timeout = TimeSpan.FromMinutes(3) };
        RunResult served = RunToFile(compress, servedOut);
        _output.WriteLine($"xz -T2 -1: glibc {glibc.Elapsed.TotalSeconds:0.00} s, ft_malloc {served.Elapsed.TotalSeconds:0.00} s; {Compare.Summary(served)}");
        Assert.True(served.ExitCode == 0, served.Describe());
        Assert.True(served.OwnStats!.PeakBytes >= 10_000_000, $"xz's buffers should come from the library\n{served.Describe()}");
        Assert.Equal(new FileInfo(glibcOut).Length, new FileInfo(servedOut).Length);
        Assert.Equal(Compare.Sha256(glibcOut), Compare.Sha256(servedOut));

        RunResult test = ChildProcess.RunServed(new RunSpec("xz", "-t", "-T2", servedOut), minMallocs: 1);
        Assert.True(test.ExitCode == 0, test.Describe());
        string back = dir["back.txt"];
        RunResult decompress = RunToFile(new RunSpec("xz", "-d", "-T2", "-c", servedOut), back);
        Assert.True(decompress.ExitCode == 0, decompress.Describe());
        Assert.Equal(new FileInfo(input).Length, new FileInfo(back).Length);
        Assert.Equal(Compare.Sha256(input), Compare.Sha256(back));
    }

    /// <summary>Runs under the library with stdout into a file (through sh, which is served too).</summary>
    private static RunResult RunToFile(RunSpec spec, string output)
    {
        string command = string.Join(' ', new[] { spec.Program }.Concat(spec.Arguments).Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        RunResult run = ChildProcess.Run(spec with { Program = "sh", Arguments = new[] { "-c", $"exec {command} > '{output}'" } }, Allocator.FtMalloc);
        ChildProcess.AssertServed(run, minMallocs: 1);
        return run;
    }

    /// <summary>About `bytes` of text: lines of words from a fixed vocabulary and numbers, from a fixed seed.</summary>
    private static void GenerateText(string path, long bytes)
    {
        var random = new Random(20240102);
        var words = new string[5000];
        for (int i = 0; i < words.Length; i++)
        {
            var w = new StringBuilder();
            int length = 2 + random.Next(9);
            for (int j = 0; j < length; j++)
                w.Append((char)('a' + random.Next(26)));
            words[i] = w.ToString();
        }
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        long written = 0;
        var line = new StringBuilder();
        while (written < bytes)
        {
            line.Clear();
            int count = 3 + random.Next(13);
            for (int i = 0; i < count; i++)
                line.Append(words[random.Next(words.Length)]).Append(' ');
            line.Append(random.Next(1_000_000)).Append('\n');
            writer.Write(line);
            written += line.Length;
        }
    }
}

/// <summary>make -j4 under the library.</summary>
public sealed class ParallelMakeTests
{
    private readonly ITestOutputHelper _output;

    public ParallelMakeTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "make -j4 builds a generated 40-file C project into the same objects and output")]
    public void Make_j4()
    {
        using var glibc = new TempDirectory("make4-glibc");
        using var served = new TempDirectory("make4-served");
        foreach (string d in new[] { glibc.Path, served.Path })
        {
            string[] sources = GeneratedProgram.Write(d, 40);
            string[] objects = sources.Select(s => Path.ChangeExtension(s, ".o")).ToArray();
            var makefile = new StringBuilder();
            makefile.Append("CC = gcc\nCFLAGS = -O1\nOBJS = ").Append(string.Join(' ', objects)).Append('\n');
            makefile.Append("all: report.txt\n");
            makefile.Append("app: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n");
            makefile.Append("%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n");
            makefile.Append("%.sym: %.o\n\tnm $< | sort > $@\n");
            makefile.Append("symbols.txt: $(OBJS:.o=.sym)\n\tcat $^ > $@\n");
            makefile.Append("report.txt: app symbols.txt\n\t./app > $@\n\twc -l < symbols.txt >> $@\n");
            makefile.Append(".PHONY: all\n");
            File.WriteAllText(Path.Combine(d, "Makefile"), makefile.ToString());
        }
        var build = new RunSpec("make", "-j4", "-s") { Timeout = TimeSpan.FromMinutes(4) };
        var (_, run) = Compare.RunIn(glibc.Path, served.Path, build, minMallocs: 100, _output);
        Assert.True(run.ExitCode == 0, run.Describe());
        // make, and below it sh, gcc, cc1, as, ld, nm, sort for 41 files.
        Assert.True(run.Stats.Count >= 4 * 41, $"expected make's children to be served too\n{run.Describe()}");
        Assert.Contains("total ", File.ReadAllText(served["report.txt"]));
        Assert.Equal(Compare.Tree(glibc.Path), Compare.Tree(served.Path));
        // make -q: everything is up to date (exit 0) under both.
        Compare.RunIn(glibc.Path, served.Path, new RunSpec("make", "-q"), minMallocs: 10, _output);
    }
}
