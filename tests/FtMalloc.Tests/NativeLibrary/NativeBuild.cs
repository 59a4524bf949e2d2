// The native library under test, built at most once per test run. Every test that runs a
// program with LD_PRELOAD or inspects libft_malloc.so gets its path from here.
//
// The library is (re)built with `dotnet publish src/FtMalloc.Native -c Release` when the
// repository-root libft_malloc.so is missing, dangling, or older than any source it is made
// from (src/FtMalloc.Core, src/FtMalloc.Native, build/, the repository-wide MSBuild files).
// Many tests ask at once: the first one builds, the others wait for it (Lazy), and two test
// runs in the same tree take turns through a lock file (flock), re-checking after the wait.
// A failed build is remembered for the rest of the run and reported, with the build output,
// by every test that needs the library.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;

namespace FtMalloc.Tests.NativeLibrary;

public static class NativeBuild
{
    private const string LinkName = "libft_malloc.so";
    private static readonly TimeSpan s_buildTimeout = TimeSpan.FromMinutes(15);

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<string> s_library = new(EnsureBuilt, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The repository root: the nearest folder above the test assembly holding FtMalloc.slnx.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>
    /// The path of the up-to-date library (the repository-root symlink libft_malloc.so),
    /// built first if needed. Throws, with the build output, if the build fails.
    /// </summary>
    public static string LibraryPath => s_library.Value;

    /// <summary>src/FtMalloc.Native/exports.txt: the one list of exported names.</summary>
    public static string ExportListPath => Path.Combine(RepoRoot, "src", "FtMalloc.Native", "exports.txt");

    /// <summary>The names exports.txt lists, in order (comments and blank lines dropped).</summary>
    public static IReadOnlyList<string> ExportedNames() =>
        File.ReadAllLines(ExportListPath)
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FtMalloc.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no FtMalloc.slnx in any folder above {AppContext.BaseDirectory}");
    }

    private static string EnsureBuilt()
    {
        string root = RepoRoot;
        string link = Path.Combine(root, LinkName);
        if (IsUpToDate(root, link))
            return link;

        string lockDirectory = Path.Combine(root, "src", "FtMalloc.Native", "obj");
        Directory.CreateDirectory(lockDirectory);
        using (AcquireBuildLock(Path.Combine(lockDirectory, "native-build.lock")))
        {
            if (IsUpToDate(root, link)) // another test run built it while we waited
                return link;
            Publish(root);
            string? library = ResolveLibrary(link)
                ?? throw new InvalidOperationException(
                    $"`dotnet publish src/FtMalloc.Native` succeeded but {link} does not lead to a library");
            // MSBuild leaves an output alone when its inputs did not really change (an edit
            // that compiles to the same IL); mark it current so the next run does not rebuild.
            if (File.GetLastWriteTimeUtc(library) < NewestSourceTime(root))
                File.SetLastWriteTimeUtc(library, DateTime.UtcNow);
        }
        return link;
    }

    private static bool IsUpToDate(string root, string link)
    {
        string? library = ResolveLibrary(link);
        return library is not null && File.GetLastWriteTimeUtc(library) >= NewestSourceTime(root);
    }

    /// <summary>The file the symlink leads to, or null when it is missing or dangling.</summary>
    private static string? ResolveLibrary(string link)
    {
        var info = new FileInfo(link);
        if (info.LinkTarget is null)
            return info.Exists ? info.FullName : null;
        FileSystemInfo? target = info.ResolveLinkTarget(returnFinalTarget: true);
        return target is { Exists: true } ? target.FullName : null;
    }

    private static DateTime NewestSourceTime(string root)
    {
        var newest = DateTime.MinValue;
        foreach (string file in SourceFiles(root))
        {
            DateTime time = File.GetLastWriteTimeUtc(file);
            if (time > newest)
                newest = time;
        }
        return newest;
    }

    private static IEnumerable<string> SourceFiles(string root)
    {
        foreach (string name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "NuGet.config" })
        {
            string path = Path.Combine(root, name);
            if (File.Exists(path))
                yield return path;
        }
        foreach (string folder in new[] { Path.Combine("src", "FtMalloc.Core"), Path.Combine("src", "FtMalloc.Native"), "build" })
        {
            string path = Path.Combine(root, folder);
            if (!Directory.Exists(path))
                continue;
            foreach (string file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(path, file);
                string first = relative.Split(Path.DirectorySeparatorChar)[0];
                if (first is "bin" or "obj")
                    continue;
                yield return file;
            }
        }
    }

    /// <summary>An exclusive flock on the file, waited for; released when disposed.</summary>
    private static FileStream AcquireBuildLock(string path)
    {
        var deadline = DateTime.UtcNow + s_buildTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(250);
            }
        }
    }

    private static void Publish(string root)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "publish", Path.Combine("src", "FtMalloc.Native"), "-c", "Release", "-nodeReuse:false", "-nologo" })
            start.ArgumentList.Add(argument);
        // The test host runs inside `dotnet test`, whose MSBuild settings must not leak into
        // a separate build; nor may an allocator preloaded into the tests.
        foreach (string name in new[] { "LD_PRELOAD", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBuildLoadMicrosoftTargetsReadOnly", "MSBUILDNOINPROCNODE" })
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";

        using Process process = Process.Start(start)
            ?? throw new InvalidOperationException("could not start dotnet");
        var output = new List<string>();
        void Collect(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
                return;
            lock (output)
                output.Add(e.Data);
        }
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(s_buildTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"`dotnet publish src/FtMalloc.Native` did not finish in {s_buildTimeout.TotalMinutes} minutes");
        }
        process.WaitForExit(); // drain the output events
        if (process.ExitCode != 0)
        {
            string text;
            lock (output)
                text = string.Join('\n', output.TakeLast(150));
            throw new InvalidOperationException(
                $"`dotnet publish src/FtMalloc.Native -c Release` failed with exit code {process.ExitCode}:\n{text}");
        }
    }

    /// <summary>The dotnet that runs the tests (set by the SDK), else the one on PATH.</summary>
    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
