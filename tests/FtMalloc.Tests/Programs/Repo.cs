// Where the repository and the C test programs are, seen from the test assembly, and the
// one-time build of tests/native (make, into tests/native/build/, which git ignores).
using System;
using System.Diagnostics;
using System.IO;

namespace FtMalloc.Tests.Programs;

internal static class Repo
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FtMalloc.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no FtMalloc.slnx above {AppContext.BaseDirectory}");
    });

    /// <summary>The repository root (the folder that holds FtMalloc.slnx).</summary>
    public static string Root => s_root.Value;

    public static string NativeSources => Path.Combine(Root, "tests", "native");
}

/// <summary>The C programs of tests/native, built once per test run.</summary>
internal static class NativePrograms
{
    private static readonly Lazy<string> s_buildDirectory = new(Build);

    /// <summary>The path of a built program ("test0".."test5", "stress").</summary>
    public static string Path(string name)
    {
        string path = System.IO.Path.Combine(s_buildDirectory.Value, name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"tests/native did not build {name}", path);
        return path;
    }

    private static string Build()
    {
        var start = new ProcessStartInfo("make")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-C", Repo.NativeSources, "--no-print-directory", "all" })
            start.ArgumentList.Add(a);
        start.Environment.Remove("LD_PRELOAD");
        using Process make = Process.Start(start)!;
        var stdout = make.StandardOutput.ReadToEndAsync();
        string stderr = make.StandardError.ReadToEnd();
        make.WaitForExit();
        if (make.ExitCode != 0)
            throw new InvalidOperationException($"make -C tests/native failed ({make.ExitCode}):\n{stdout.Result}\n{stderr}");
        return System.IO.Path.Combine(Repo.NativeSources, "build");
    }
}
