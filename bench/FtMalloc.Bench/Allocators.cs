// The allocators compared: glibc (no preload, the reference), FtMalloc (this repository's
// libft_malloc.so) and Debian's jemalloc, tcmalloc and mimalloc, each found with dpkg -L.
// An allocator that is not there is reported with its state, never silently dropped.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace FtMalloc.Bench;

internal enum AllocatorState { Ready, NotBuilt, NotInstalled, Broken }

internal sealed class Allocator
{
    public const string Reference = "glibc";
    public const string FtMallocName = "FtMalloc";

    public required string Name { get; init; }

    /// <summary>The library given in LD_PRELOAD; null for glibc.</summary>
    public string? Preload { get; set; }

    /// <summary>The Debian package it comes from, if any.</summary>
    public string? Package { get; init; }

    public AllocatorState State { get; set; } = AllocatorState.Ready;

    /// <summary>Why it is not ready, or where its malloc resolved.</summary>
    public string Note { get; set; } = "";

    public string Version { get; set; } = "";

    public bool Ready => State == AllocatorState.Ready;

    public string StateText => State switch
    {
        AllocatorState.Ready => "ready",
        AllocatorState.NotBuilt => "not built",
        AllocatorState.NotInstalled => "not installed",
        _ => "broken",
    };
}

internal static class AllocatorCatalog
{
    private static readonly (string Name, string Package, string Library)[] s_debian =
    {
        ("jemalloc", "libjemalloc2", "libjemalloc.so"),
        ("tcmalloc", "libtcmalloc-minimal4", "libtcmalloc_minimal.so"),
        ("mimalloc", "libmimalloc2.0", "libmimalloc.so"),
    };

    public static string FtMallocLibrary => Path.Combine(Paths.RepoRoot, "libft_malloc.so");

    /// <summary>Every allocator the options ask for, in report order, each with its state.</summary>
    public static List<Allocator> Discover(BenchOptions options, string outDir, Action<string> log)
    {
        var wanted = new HashSet<string>(options.Allocators, StringComparer.OrdinalIgnoreCase);
        bool Want(string name) => wanted.Count == 0 || wanted.Contains(name) || name == Allocator.Reference;

        var list = new List<Allocator>
        {
            new() { Name = Allocator.Reference, Package = "libc6", Version = DebianVersion("libc6") },
        };
        if (Want(Allocator.FtMallocName))
            list.Add(FindFtMalloc(options, outDir, log));
        foreach (var (name, package, library) in s_debian)
        {
            if (!Want(name))
                continue;
            var a = new Allocator { Name = name, Package = package, Version = DebianVersion(package) };
            a.Preload = FindInPackage(package, library);
            if (a.Preload == null)
            {
                a.State = AllocatorState.NotInstalled;
                a.Note = $"{package} is not installed (bench/run installs it with apt-get)";
            }
            list.Add(a);
        }
        return list;
    }

    private static Allocator FindFtMalloc(BenchOptions options, string outDir, Action<string> log)
    {
        var a = new Allocator { Name = Allocator.FtMallocName, Preload = FtMallocLibrary };
        string project = Path.Combine(Paths.RepoRoot, "src", "FtMalloc.Native");
        bool exists = File.Exists(FtMallocLibrary);
        bool hasProject = Directory.Exists(project) && Directory.EnumerateFiles(project, "*.csproj").Any();

        if ((!exists || options.RebuildFtMalloc) && !options.NoBuild && hasProject)
        {
            log("publishing libft_malloc.so (dotnet publish src/FtMalloc.Native -c Release -r linux-x64)");
            // Under the lock that ./ftmalloc and the tests take, so concurrent builds do not collide.
            var publish = new List<string> { "dotnet", "publish", "src/FtMalloc.Native", "-c", "Release", "-r", "linux-x64", "-nologo" };
            string objDir = Path.Combine(project, "obj");
            if (Shell.Which("flock") != null)
            {
                Directory.CreateDirectory(objDir);
                publish.InsertRange(0, new[] { "flock", Path.Combine(objDir, "native-build.lock") });
            }
            var r = Shell.Run(publish[0], publish.Skip(1), cwd: Paths.RepoRoot, timeout: TimeSpan.FromMinutes(20));
            string logFile = Path.Combine(outDir, "ftmalloc-build.log");
            File.WriteAllText(logFile, r.Stdout + r.Stderr);
            if (!r.Ok)
                a.Note = $"dotnet publish failed (exit {r.ExitCode}); see {Path.GetFileName(logFile)}";
            exists = File.Exists(FtMallocLibrary);
        }
        if (!exists)
        {
            a.State = AllocatorState.NotBuilt;
            if (a.Note.Length == 0)
                a.Note = hasProject
                    ? (options.NoBuild ? "libft_malloc.so is missing (--no-build)" : "publish produced no libft_malloc.so")
                    : "libft_malloc.so is missing and src/FtMalloc.Native has no project yet";
            return a;
        }
        var info = new FileInfo(FtMallocLibrary);
        if (info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
            info = target;
        string commit = Shell.Run("git", new[] { "rev-parse", "--short", "HEAD" }, cwd: Paths.RepoRoot).Stdout.Trim();
        a.Version = Fmt.Inv($"repo {(commit.Length > 0 ? commit : "(no commit)")}, {info.Name} built {info.LastWriteTime:yyyy-MM-dd HH:mm}, {info.Length / 1024} KiB");
        return a;
    }

    private static string DebianVersion(string package)
    {
        var r = Shell.Run("dpkg-query", new[] { "-W", "-f=${Version}", package });
        return r.Ok ? r.Stdout.Trim() : "";
    }

    /// <summary>The shortest path in the package's file list that names the library (not a debug variant).</summary>
    private static string? FindInPackage(string package, string library)
    {
        var r = Shell.Run("dpkg", new[] { "-L", package });
        if (!r.Ok)
            return null;
        var pattern = new Regex("/" + Regex.Escape(library) + @"\.\d+(\.\d+)*$");
        return r.Stdout.Split('\n')
            .Select(l => l.Trim())
            .Where(l => pattern.IsMatch(l) && File.Exists(l))
            .OrderBy(l => l.Length)
            .FirstOrDefault();
    }

    /// <summary>
    /// Runs the whichmalloc driver under each ready allocator and checks that malloc and free come
    /// from the library we meant (ld.so only prints a warning when a preload fails, and then the
    /// program would silently run on glibc). An allocator that fails is marked broken.
    /// </summary>
    public static void Probe(IEnumerable<Allocator> allocators, Measurer measurer, string whichmalloc, string dir)
    {
        foreach (var a in allocators.Where(a => a.Ready))
        {
            var (ok, note) = ProbeOne(a, measurer, whichmalloc, dir, cmd => cmd);
            if (!ok)
                a.State = AllocatorState.Broken;
            a.Note = note;
        }
    }

    /// <summary>
    /// Runs the probe under one allocator, the command passed through wrap first (valgrind, for
    /// the instruction counts): true and "malloc from LIB" if malloc and free come from the
    /// allocator's library, else false and what went wrong. Changes nothing.
    /// </summary>
    public static (bool Ok, string Note) ProbeOne(Allocator a, Measurer measurer, string whichmalloc, string dir,
        Func<CommandSpec, CommandSpec> wrap)
    {
        string stdout = Path.Combine(dir, $"probe-{a.Name}.out"), stderr = Path.Combine(dir, $"probe-{a.Name}.err");
        var ex = measurer.Run(wrap(new CommandSpec(new[] { whichmalloc })), a.Preload, dir, stdout, stderr, 1, 60)[0];
        string text = File.Exists(stdout) ? File.ReadAllText(stdout) : "";
        string err = File.Exists(stderr) ? File.ReadAllText(stderr).Trim() : "";
        string? owner = text.Split('\n').Where(l => l.StartsWith("malloc ", StringComparison.Ordinal)).Select(l => l[7..].Trim()).FirstOrDefault();
        string? freeOwner = text.Split('\n').Where(l => l.StartsWith("free ", StringComparison.Ordinal)).Select(l => l[5..].Trim()).FirstOrDefault();
        if (!ex.Succeeded)
            return (false, $"a trivial program under it ended with {ex.Describe()}" + (err.Length > 0 ? ": " + FirstLine(err) : ""));
        if (owner == null || !IsFrom(owner, a) || freeOwner == null || !IsFrom(freeOwner, a))
            return (false, $"preload not effective: malloc resolves to {owner ?? "?"}, free to {freeOwner ?? "?"}" + (err.Length > 0 ? " (" + FirstLine(err) + ")" : ""));
        return (true, "malloc from " + owner);
    }

    private static bool IsFrom(string owner, Allocator a) => a.Preload == null
        ? Path.GetFileName(owner).StartsWith("libc.so", StringComparison.Ordinal)
        : owner == a.Preload || Path.GetFileName(owner) == Path.GetFileName(a.Preload);

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n');
        return nl >= 0 ? s[..nl] : s;
    }
}
