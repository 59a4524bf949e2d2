// The ways a workload's result is judged. Every check first requires exit code 0 (the suite does
// that); these then look at what the run printed or wrote.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace FtMalloc.Bench.Workloads;

internal static class Checks
{
    /// <summary>
    /// The run printed "checksum X" (the digest), optionally a line "OK" (the program's own checks
    /// passed), and any number of "metric NAME VALUE" lines.
    /// </summary>
    public static Func<WorkContext, RunOutput, CheckResult> ChecksumLine(bool requireOk = false) => (_, output) =>
    {
        string? digest = null;
        bool ok = false;
        var metrics = new Dictionary<string, double>();
        foreach (string raw in output.Stdout.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("checksum ", StringComparison.Ordinal))
                digest = line[9..].Trim();
            else if (line == "OK")
                ok = true;
            else if (line.StartsWith("metric ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 3 && double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    metrics[parts[1]] = v;
            }
        }
        if (digest == null)
            return CheckResult.Fail("no checksum line in the output");
        if (requireOk && !ok)
            return CheckResult.Fail("no OK line in the output");
        return CheckResult.Pass(digest, metrics);
    };

    /// <summary>The whole standard output is the answer, and it must contain the expected line.</summary>
    public static Func<WorkContext, RunOutput, CheckResult> WholeStdout(string expectedLine) => (_, output) =>
        output.Stdout.Split('\n').Any(l => l.TrimEnd() == expectedLine)
            ? CheckResult.Pass(Hash(output.Stdout))
            : CheckResult.Fail($"expected a line \"{expectedLine}\" in the output");

    /// <summary>Standard output must be exactly this text.</summary>
    public static Func<WorkContext, RunOutput, CheckResult> ExactStdout(string expected) => (_, output) =>
        output.Stdout == expected
            ? CheckResult.Pass(Hash(output.Stdout))
            : CheckResult.Fail($"unexpected output: {Shorten(output.Stdout)}");

    /// <summary>Nothing to check beyond the exit code (the page-fault tests).</summary>
    public static Func<WorkContext, RunOutput, CheckResult> ExitCodeOnly() => (_, _) => CheckResult.Pass("exit 0");

    public static string Hash(string text) => Hash(Encoding.UTF8.GetBytes(text));

    public static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];

    public static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
    }

    public static string Shorten(string s)
    {
        s = s.Replace('\n', '⏎');
        return s.Length <= 80 ? s : s[..80] + "…";
    }
}
