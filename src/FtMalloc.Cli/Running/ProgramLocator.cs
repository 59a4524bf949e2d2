// Finds the file a command name refers to, the way a POSIX shell does, so that ftmalloc
// fails like the shell would: 127 for a command that does not exist, 126 for one that
// exists but cannot be executed. Resolving before starting matters: once the child is
// running, a failed exec can no longer be told apart from the program's own exit code.
using System;
using System.IO;
using System.Runtime.InteropServices;

namespace FtMalloc.Cli.Running;

/// <summary>The outcome of looking a command up.</summary>
/// <param name="Path">The file to execute, when found and executable.</param>
/// <param name="ExitCode">0 if runnable, else the shell's code (126 or 127).</param>
/// <param name="Error">The one-line message for stderr when not runnable.</param>
public sealed record LocatedProgram(string? Path, int ExitCode, string? Error)
{
    public bool Runnable => ExitCode == 0;
}

public static partial class ProgramLocator
{
    public const int NotFound = 127;
    public const int NotExecutable = 126;
    private const int X_OK = 1;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);

    /// <summary>Looks <paramref name="command"/> up: as a path if it contains '/',
    /// else in each directory of <paramref name="searchPath"/> (PATH).</summary>
    public static LocatedProgram Locate(string command, string? searchPath)
    {
        if (command.Length == 0)
            return new LocatedProgram(null, NotFound, "ftmalloc: : command not found");
        if (command.Contains('/'))
        {
            string full = System.IO.Path.GetFullPath(command);
            if (Directory.Exists(full))
                return new LocatedProgram(null, NotExecutable, $"ftmalloc: {command}: Is a directory");
            if (!File.Exists(full))
                return new LocatedProgram(null, NotFound, $"ftmalloc: {command}: No such file or directory");
            if (!IsExecutable(full))
                return new LocatedProgram(null, NotExecutable, $"ftmalloc: {command}: Permission denied");
            return new LocatedProgram(full, 0, null);
        }
        string? firstNonExecutable = null;
        foreach (string entry in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").Split(':'))
        {
            // An empty PATH entry means the current directory, as in the shell.
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(entry.Length == 0 ? "." : entry, command));
            if (!File.Exists(candidate))
                continue;
            if (IsExecutable(candidate))
                return new LocatedProgram(candidate, 0, null);
            firstNonExecutable ??= candidate;
        }
        if (firstNonExecutable is not null)
            return new LocatedProgram(null, NotExecutable, $"ftmalloc: {command}: Permission denied");
        return new LocatedProgram(null, NotFound, $"ftmalloc: {command}: command not found");
    }

    /// <summary>access(X_OK) on a regular file: for root it is true when any execute
    /// bit is set, which is what exec(2) checks.</summary>
    private static bool IsExecutable(string path) => Access(path, X_OK) == 0;
}
