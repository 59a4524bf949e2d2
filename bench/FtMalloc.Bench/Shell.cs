// Running helper programs (gcc, dpkg, dotnet publish, gnuplot) and capturing what they print.
// The measured runs do not come through here: they go through Measurer and the measure program.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace FtMalloc.Bench;

internal static class Shell
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, bool TimedOut)
    {
        public bool Ok => ExitCode == 0 && !TimedOut;
        public string Output => (Stdout + Stderr).Trim();
    }

    public static Result Run(string file, IEnumerable<string> args, string? cwd = null,
        IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        if (cwd != null)
            psi.WorkingDirectory = cwd;
        psi.Environment.Remove("LD_PRELOAD");
        if (env != null)
        {
            foreach (var kv in env)
                psi.Environment[kv.Key] = kv.Value;
        }

        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (Win32Exception e)
        {
            return new Result(127, "", $"{file}: {e.Message}", false);
        }
        using (p)
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            bool exited = p.WaitForExit(timeout ?? Timeout.InfiniteTimeSpan);
            if (!exited)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.WaitForExit();
            }
            return new Result(exited ? p.ExitCode : -1, stdout.Result, stderr.Result, !exited);
        }
    }

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? Which(string name)
    {
        if (name.Contains('/'))
            return File.Exists(name) ? name : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>The first line of a command's output, or "" (for version strings).</summary>
    public static string FirstLine(string file, params string[] args)
    {
        var r = Run(file, args, timeout: TimeSpan.FromSeconds(20));
        string text = r.Stdout.Length > 0 ? r.Stdout : r.Stderr;
        int nl = text.IndexOf('\n');
        return (nl >= 0 ? text[..nl] : text).Trim();
    }
}
