// The ftmalloc command: exit codes like the shell's, the summary that proves service,
// and the repository's ./ftmalloc launcher (the README's first command).
using System;
using System.IO;
using System.Text.RegularExpressions;
using FtMalloc.Tests.NativeLibrary;

namespace FtMalloc.Tests.Programs;

public sealed class CliTests
{
    /// <summary>The CLI as built next to the tests (a project reference), run by dotnet.</summary>
    private static RunSpec Cli(params string[] arguments)
    {
        string dll = typeof(FtMalloc.Cli.Program).Assembly.Location;
        var all = new string[arguments.Length + 1];
        all[0] = dll;
        arguments.CopyTo(all, 1);
        return new RunSpec("dotnet", all) { Timeout = TimeSpan.FromMinutes(1) };
    }

    [Fact(DisplayName = "ftmalloc run of a missing program: 127 and 'ftmalloc: <prog>: command not found'")]
    public void MissingProgram()
    {
        RunResult run = ChildProcess.Run(Cli("--lib", NativeBuild.LibraryPath, "run", "--", "ftmalloc-no-such-program"), Allocator.Glibc);
        Assert.True(run.ExitCode == 127, run.Describe());
        Assert.Equal("ftmalloc: ftmalloc-no-such-program: command not found\n", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact(DisplayName = "ftmalloc run of a file that is not executable: 126")]
    public void NotExecutable()
    {
        using var dir = new TempDirectory("cli");
        File.WriteAllText(dir["data.txt"], "not a program\n");
        RunResult run = ChildProcess.Run(Cli("--lib", NativeBuild.LibraryPath, "run", "--", dir["data.txt"]), Allocator.Glibc);
        Assert.True(run.ExitCode == 126, run.Describe());
        Assert.Equal($"ftmalloc: {dir["data.txt"]}: Permission denied\n", run.Stderr);
    }

    [Fact(DisplayName = "ftmalloc run -- true: exit 0 and a summary proving the library served it")]
    public void RunTrue()
    {
        RunResult run = ChildProcess.Run(Cli("--lib", NativeBuild.LibraryPath, "run", "--", "true"), Allocator.Glibc);
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("ftmalloc: served by ", run.Stderr);
        Assert.Contains(": 1 process, ", run.Stderr);
        Assert.Contains("ftmalloc: zones mapped: tiny ", run.Stderr);
        Assert.DoesNotContain("warning", run.Stderr);
    }

    [Fact(DisplayName = "ftmalloc passes the program's stdio and exit code through, and counts its children")]
    public void ExitCodeAndChildren()
    {
        RunResult run = ChildProcess.Run(
            Cli("--lib", NativeBuild.LibraryPath, "sh", "-c", "read line; echo \"got $line\"; ls / >/dev/null; ls -l / >/dev/null; exit 7") with { Stdin = "hello\n" },
            Allocator.Glibc);
        Assert.True(run.ExitCode == 7, run.Describe());
        Assert.Equal("got hello\n", run.Stdout);
        // Both ls report (sh itself may allocate nothing); each one's line is counted.
        Match processes = Regex.Match(run.Stderr, @"ftmalloc: served by \S+: (\d+) process");
        Assert.True(processes.Success && int.Parse(processes.Groups[1].Value) >= 2, run.Describe());
    }

    [Fact(DisplayName = "./ftmalloc ls -la and ./ftmalloc run -- ls -la work from the repository root")]
    public void Launcher()
    {
        string launcher = Path.Combine(Repo.Root, "ftmalloc");
        NativeBuild.LibraryPath.ToString(); // the library is built before the launcher looks at it
        RunResult glibc = ChildProcess.Run(new RunSpec("ls", "-la") { WorkingDirectory = Repo.Root }, Allocator.Glibc);
        foreach (string[] arguments in new[] { new[] { "ls", "-la" }, new[] { "run", "--", "ls", "-la" } })
        {
            var spec = new RunSpec(launcher, arguments) { WorkingDirectory = Repo.Root, Timeout = TimeSpan.FromMinutes(5) };
            RunResult run = ChildProcess.Run(spec, Allocator.Glibc);
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains("ftmalloc: served by ", run.Stderr);
            Assert.Contains(" ftmalloc\n", run.Stdout);
            Assert.Contains(" src\n", run.Stdout);
        }
    }
}
