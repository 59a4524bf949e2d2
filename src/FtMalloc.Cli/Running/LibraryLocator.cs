// Finds libft_malloc.so for LD_PRELOAD: the --lib option, else $FT_MALLOC_LIBRARY, else
// the first libft_malloc.so found walking up from this program's directory (out/cli in
// a checkout) and then from the current directory. The result is absolute and must be
// free of ' ' and ':' since the dynamic loader splits LD_PRELOAD on both.
using System;
using System.IO;

namespace FtMalloc.Cli.Running;

public static class LibraryLocator
{
    public const string FileName = "libft_malloc.so";
    public const string EnvironmentVariable = "FT_MALLOC_LIBRARY";

    /// <summary>The library to preload, or null with <paramref name="error"/> set.</summary>
    public static string? Find(string? explicitPath, out string? error)
    {
        error = null;
        string? path = explicitPath;
        if (string.IsNullOrEmpty(path))
            path = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(path))
            path = SearchUp(AppContext.BaseDirectory) ?? SearchUp(Environment.CurrentDirectory);
        if (string.IsNullOrEmpty(path))
        {
            error = $"ftmalloc: cannot find {FileName} (build it with ./ftmalloc, or pass --lib PATH)";
            return null;
        }
        path = Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            error = $"ftmalloc: {path}: no such library";
            return null;
        }
        if (path.IndexOfAny(new[] { ' ', ':', '\t', '\n' }) >= 0)
        {
            error = $"ftmalloc: {path}: LD_PRELOAD cannot name a path that holds a space or ':'";
            return null;
        }
        return path;
    }

    private static string? SearchUp(string start)
    {
        for (DirectoryInfo? dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, FileName);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
