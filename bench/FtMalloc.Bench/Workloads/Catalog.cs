// The fixed set of workloads, in report order, with their smoke and full sizes.
// Sizes are chosen so that a full run takes about a second under glibc on the 2-core machine the
// project uses, and a smoke run a few milliseconds. The programs and synthetic drivers have a third,
// counted size (ctx.Size(smoke, full, counted)) for instruction counts under callgrind
// (--instructions), which runs about 50 times slower: a few hundred million to two billion
// instructions, under a minute per run.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace FtMalloc.Bench.Workloads;

internal static class Catalog
{
    private static string S(long n) => n.ToString(CultureInfo.InvariantCulture);

    public static IReadOnlyList<Workload> All() => new List<Workload>
    {
        // ---- real programs ---------------------------------------------------------------
        new()
        {
            Name = "python", Group = Group.Program,
            Description = "python3 with PYTHONMALLOC=malloc: builds records (dicts, lists, strings), JSON round trip, word counts, deletes, sorts",
            Command = ctx => new CommandSpec(new[] { ctx.Tools.Python, Paths.Script("pyalloc.py"), S(ctx.Size(2000, 60000, 10000)) })
            {
                Env = new Dictionary<string, string> { ["PYTHONMALLOC"] = "malloc", ["PYTHONHASHSEED"] = "0", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            },
            Check = Checks.ChecksumLine(requireOk: true),
        },
        new()
        {
            Name = "gcc", Group = Group.Program,
            Description = "gcc -O2 -c on generated C files (random loops, switches, conditionals)",
            Prepare = ctx => Inputs.CSources(Path.Combine(ctx.InputDir, "src"), ctx.Size(2, 8, 2), ctx.Size(2, 5, 2)),
            Command = ctx => new CommandSpec(new[] { "gcc", "-O2", "-c" }
                .Concat(Directory.GetFiles(Path.Combine(ctx.InputDir, "src"), "*.c").OrderBy(f => f, StringComparer.Ordinal)).ToArray()),
            Check = (ctx, _) =>
            {
                int expected = Directory.GetFiles(Path.Combine(ctx.InputDir, "src"), "*.c").Length;
                var objects = Directory.GetFiles(ctx.RunDir, "*.o").OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (objects.Count != expected || objects.Any(o => new FileInfo(o).Length == 0))
                    return CheckResult.Fail($"expected {expected} object files, found {objects.Count}");
                var all = objects.SelectMany(o => System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(o)).Concat(File.ReadAllBytes(o))).ToArray();
                return CheckResult.Pass(Checks.Hash(all));
            },
        },
        new()
        {
            Name = "git", Group = Group.Program,
            Description = "git init/add/commit of a generated tree, change sets committed on top, then git gc and git fsck",
            Prepare = ctx => Inputs.GitTree(ctx.InputDir, ctx.Size(60, 1500, 300), ctx.Size(1, 4, 2)),
            Reset = ctx =>
            {
                ctx.FreshRunDir();
                Inputs.CopyTree(Path.Combine(ctx.InputDir, "tree"), ctx.RunDir);
            },
            Command = ctx => new CommandSpec(new[] { "sh", Paths.Script("git.sh"), Path.Combine(ctx.InputDir, "overlays"), S(ctx.Size(1, 4, 2)) })
            {
                Env = new Dictionary<string, string>
                {
                    ["GIT_AUTHOR_NAME"] = "bench", ["GIT_AUTHOR_EMAIL"] = "bench@example.invalid",
                    ["GIT_COMMITTER_NAME"] = "bench", ["GIT_COMMITTER_EMAIL"] = "bench@example.invalid",
                    ["GIT_AUTHOR_DATE"] = "1700000000 +0000", ["GIT_COMMITTER_DATE"] = "1700000000 +0000",
                    ["GIT_CONFIG_NOSYSTEM"] = "1", ["GIT_CONFIG_GLOBAL"] = "/dev/null", ["GIT_TERMINAL_PROMPT"] = "0",
                },
            },
            Check = Checks.WholeStdout("OK"),
        },
        new()
        {
            Name = "sqlite", Group = Group.Program,
            Description = "sqlite3 on an in-memory database: single-row inserts in a transaction, generated rows, indexes, aggregates, a join, update, delete",
            Prepare = ctx => Inputs.SqlScript(Path.Combine(ctx.InputDir, "script.sql"), ctx.Size(300, 40000, 5000), ctx.Size(2000, 250000, 30000)),
            Command = ctx => new CommandSpec(new[] { "sqlite3", "-batch", ":memory:" }) { Stdin = Path.Combine(ctx.InputDir, "script.sql") },
            Check = Checks.WholeStdout("OK"),
        },
        new()
        {
            Name = "sort", Group = Group.Program,
            Description = "GNU sort (LC_ALL=C) of a generated file of words and numbers into a file",
            Prepare = ctx => Inputs.SortInput(Path.Combine(ctx.InputDir, "lines.txt"), ctx.Size(20000, 1500000, 500000)),
            Command = ctx => new CommandSpec(new[] { "sort", "-o", Path.Combine(ctx.RunDir, "sorted.txt"), Path.Combine(ctx.InputDir, "lines.txt") })
            {
                Env = new Dictionary<string, string> { ["TMPDIR"] = ctx.RunDir },
            },
            Check = (ctx, _) =>
            {
                string output = Path.Combine(ctx.RunDir, "sorted.txt");
                if (!File.Exists(output))
                    return CheckResult.Fail("sort wrote no output file");
                long lines = CountNewlines(output), expected = CountNewlines(Path.Combine(ctx.InputDir, "lines.txt"));
                return lines == expected
                    ? CheckResult.Pass(Checks.HashFile(output))
                    : CheckResult.Fail($"sorted file has {lines} lines, input has {expected}");
            },
        },
        new()
        {
            Name = "perl", Group = Group.Program,
            Description = "perl: regex substitutions on generated lines, word counts in a hash, a hash of arrays, deletes and sorts",
            Command = ctx => new CommandSpec(new[] { "perl", Paths.Script("perlhash.pl"), S(ctx.Size(2000, 50000, 10000)) })
            {
                Env = new Dictionary<string, string> { ["PERL_HASH_SEED"] = "0", ["PERL_PERTURB_KEYS"] = "0" },
            },
            Check = Checks.ChecksumLine(requireOk: true),
        },

        // ---- synthetic C drivers -----------------------------------------------------------
        Driver("churn", Group.Synthetic, "mixed small-object churn, 8 B .. 16 KB, random lifetimes plus LIFO bursts (cfrac/espresso-like)",
            ctx => new[] { S(ctx.Size(200000, 8000000, 2000000)) }),
        Driver("realloc", Group.Synthetic, "realloc growth: 2000 vectors doubling at once, then exact-size string appends",
            ctx => ctx.Smoke ? new[] { "1", "200" } : ctx.Counted ? new[] { "1" } : new[] { "4" }),
        Driver("large", Group.Synthetic, "large-block churn, 64 KB .. 4 MB, every page written",
            ctx => new[] { S(ctx.Size(300, 8000, 8000)) }),
        Driver("million", Group.Synthetic, "1,000,000 live blocks of 8..256 B; half freed and reallocated twice; freed in random order (smoke: 100,000)",
            ctx => ctx.Smoke ? new[] { "100000", "1" } : new[] { "1000000", "2" }),

        // ---- microbenchmarks that time themselves ---------------------------------------------
        Driver("fastpath", Group.Micro, "ns per malloc/free pair, same size, one thread, best of 3 trials (headline: 32 B)",
            ctx => ctx.Smoke ? new[] { "200000", "1" } : new[] { "5000000", "3" }),
        Driver("livecost", Group.Micro, "ns per malloc/free pair of mixed sizes with 10 live blocks vs 1,000,000 live blocks (smoke: 100,000)",
            ctx => ctx.Smoke ? new[] { "100000", "100000", "1" } : new[] { "1000000", "1000000", "3" }),

        // ---- textbook page-fault programs ------------------------------------------------
        PageFault("test0", "no allocation: the baseline cost of starting a program"),
        PageFault("test1", "1024 x malloc(1024), one byte written in each, never freed"),
        PageFault("test2", "1024 x malloc(1024), one byte written, freed each time"),

        // ---- start-up ----------------------------------------------------------------------
        new()
        {
            Name = "startup", Group = Group.Startup,
            Description = "`ls` on a folder of 5 files, many executions per run; each run's figure is their median",
            ManyExecs = true,
            Prepare = ctx => Inputs.LsFolder(Path.Combine(ctx.InputDir, "folder")),
            Command = ctx => new CommandSpec(new[] { "ls", Path.Combine(ctx.InputDir, "folder") }),
            Check = Checks.ExactStdout(string.Join('\n', Inputs.LsFiles) + "\n"),
        },
    };

    // The threaded families. Each splits a fixed total among its threads; the totals are below
    // (smoke, full), and each workload's TotalWork comes from the same numbers as its arguments, so
    // the threads targets compare work done, not just times (ThreadedShape.cs).
    private static readonly int[] s_threadLevels = { 1, 2, 4, 16 };
    private static readonly ThreadedFamily s_larson = new("larson", "t", "replacements");
    private static readonly ThreadedFamily s_prodcons = new("prodcons", "p", "blocks passed",
        NoScalingReason: "prodcons-1p already runs two threads (a producer and a consumer) on the two cores, so its 1 → 2 step is 2 → 4 threads");
    private static readonly ThreadedFamily s_cacheScratch = new("cachescratch", "t", "objects");
    private static readonly ThreadedFamily s_cacheThrash = new("cachethrash", "t", "objects");
    private static readonly ThreadedFamily s_threadChurn = new("threadchurn", "t", "threads");
    private static readonly ThreadedFamily s_stress = new("stress", "t", "operations");

    private static long LarsonGenerations(bool smoke) => smoke ? 3 : 10;
    private static long LarsonReplacementsPerGeneration(bool smoke) => smoke ? 20000 : 400000;
    private static long ProdconsBlocks(bool smoke) => smoke ? 50000 : 2000000;
    private static long FalseShareObjects(bool smoke) => smoke ? 20000 : 2000000;
    private static long ThreadChurnThreads(bool smoke) => smoke ? 200 : 10000;
    private static long StressOperationsPerRound(bool smoke) => smoke ? 20000 : 480000;
    private const int StressRounds = 2; // ROUNDS in tests/native/stress.c

    /// <summary>Threaded workloads (run with --threads, or by name or group "threads" with -w):
    /// larson, prodcons, cache-scratch, cache-thrash, thread churn and stress, at 1, 2, 4 and 16.</summary>
    public static IReadOnlyList<Workload> Threaded()
    {
        var list = new List<Workload>();
        foreach (int t in s_threadLevels)
        {
            int threads = t;
            list.Add(Driver(s_larson.WorkloadName(t), Group.Threads, $"Larson-style: {t} thread(s) replace random blocks; each generation's threads take over another thread's blocks",
                ctx => new[] { S(threads), S(LarsonGenerations(ctx.Smoke)), S(LarsonReplacementsPerGeneration(ctx.Smoke) / threads) },
                new ThreadedShape(s_larson, t, t, smoke => LarsonGenerations(smoke) * threads * (LarsonReplacementsPerGeneration(smoke) / threads))));
        }
        foreach (int p in s_threadLevels)
        {
            int pairs = p;
            list.Add(Driver(s_prodcons.WorkloadName(p), Group.Threads, $"{p} producer/consumer pair(s): blocks allocated on one thread, freed on another",
                ctx => new[] { S(pairs), S(ProdconsBlocks(ctx.Smoke) / pairs) },
                new ThreadedShape(s_prodcons, p, 2 * p, smoke => pairs * (ProdconsBlocks(smoke) / pairs))));
        }
        // False sharing (Hoard's cache-scratch and cache-thrash, written anew): a fixed number of
        // small objects, each written 100 times, split among the threads; the driver also reports
        // how many cache lines objects of different threads shared (metric shared_lines).
        foreach (var (family, what) in new[]
        {
            (s_cacheScratch, "each thread first frees an object the main thread allocated next to the others', then allocates, writes and frees its own"),
            (s_cacheThrash, "each thread allocates, writes and frees small objects of its own"),
        })
        {
            foreach (int t in s_threadLevels)
            {
                int threads = t;
                string m = family.Name["cache".Length..];
                list.Add(new Workload
                {
                    Name = family.WorkloadName(t), Group = Group.Threads,
                    Description = $"false sharing, cache-{m} style: {t} thread(s); {what}",
                    Command = ctx => new CommandSpec(new[] { ctx.Tools.Driver("falseshare"), m, S(threads), S(FalseShareObjects(ctx.Smoke)), "100", "8" }),
                    Check = Checks.ChecksumLine(),
                    // The driver gives the remainder of the division to the first threads: the total is exact.
                    Threading = new ThreadedShape(family, t, t, FalseShareObjects),
                });
            }
        }
        foreach (int t in s_threadLevels)
        {
            int concurrent = t;
            list.Add(new Workload
            {
                Name = s_threadChurn.WorkloadName(t), Group = Group.Threads,
                Description = $"thread churn: 10,000 short-lived threads, {t} at a time, each frees the blocks its predecessor left and leaves half of its 64 for its successor (metric rss_growth_kb after warm-up)",
                Command = ctx => new CommandSpec(new[] { ctx.Tools.Driver("threadchurn"), S(concurrent), S(ThreadChurnThreads(ctx.Smoke)), "64" }),
                Check = Checks.ChecksumLine(),
                // The driver runs whole waves of CONCURRENT threads: TOTAL / CONCURRENT of them.
                Threading = new ThreadedShape(s_threadChurn, t, t, smoke => ThreadChurnThreads(smoke) / concurrent * concurrent),
            });
        }
        foreach (int t in s_threadLevels)
        {
            int threads = t;
            list.Add(new Workload
            {
                Name = s_stress.WorkloadName(t), Group = Group.Threads,
                Description = $"tests/native/stress.c: {t} thread(s) sharing 8 x 60,000 verified operations per round (all entry points, TINY/SMALL/LARGE, cross-thread and lock-free hand-offs), 2 rounds, a fork per round",
                Command = ctx => new CommandSpec(new[] { ctx.Tools.Driver("stress"), S(threads), S(StressOperationsPerRound(ctx.Smoke) / threads), "1" }),
                Check = StressOk,
                Threading = new ThreadedShape(s_stress, t, t, smoke => StressRounds * threads * (StressOperationsPerRound(smoke) / threads)),
            });
        }
        return list;
    }

    /// <summary>stress prints "stress: ok threads=T rounds=R ops=N ..." when every check passed; what
    /// follows ops= depends on scheduling, so the digest is taken over the part before it.</summary>
    private static CheckResult StressOk(WorkContext ctx, RunOutput output)
    {
        foreach (string raw in output.Stdout.Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(raw, @"^stress: ok (threads=\d+ rounds=\d+ ops=\d+) ");
            if (m.Success)
                return CheckResult.Pass(Checks.Hash(m.Groups[1].Value));
        }
        return CheckResult.Fail("no \"stress: ok\" line in the output");
    }

    private static Workload Driver(string name, string group, string description, Func<WorkContext, string[]> args,
        ThreadedShape? threading = null) => new()
    {
        Name = name,
        Group = group,
        Description = description,
        Command = ctx => new CommandSpec(new[] { ctx.Tools.Driver(name.Split('-')[0]) }.Concat(args(ctx)).ToArray()),
        Check = Checks.ChecksumLine(),
        Threading = threading,
    };

    private static Workload PageFault(string name, string description) => new()
    {
        Name = name,
        Group = Group.PageFault,
        Description = description,
        Command = ctx => new CommandSpec(new[] { ctx.Tools.Driver(name) }),
        Check = Checks.ExitCodeOnly(),
    };

    private static long CountNewlines(string path)
    {
        long n = 0;
        var buffer = new byte[1 << 20];
        using var s = File.OpenRead(path);
        int read;
        while ((read = s.Read(buffer, 0, buffer.Length)) > 0)
            n += buffer.AsSpan(0, read).Count((byte)'\n');
        return n;
    }
}
