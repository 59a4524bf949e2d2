// What binutils (nm, readelf, objdump) say about a shared library, parsed into records.
// The tests read the built library the way the dynamic loader and a reviewer would, rather
// than trusting the build's own description of it.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace FtMalloc.Tests.NativeLibrary;

/// <summary>A symbol of the full symbol table (.symtab), from `nm -S --defined-only`.</summary>
internal sealed record ElfSymbol(string Name, ulong Address, ulong? Size, char Type)
{
    public bool IsFunction => Type is 'T' or 't' or 'W' or 'w' or 'i';
}

/// <summary>A dynamic symbol, from `nm -D` (the name as the loader binds it, version included).</summary>
internal sealed record DynamicSymbol(string Name, char Type, bool IsDefined)
{
    /// <summary>The name without a version suffix ("malloc@@V1.0" gives "malloc").</summary>
    public string BaseName => Name.Split('@')[0];

    public bool IsVersioned => Name.Contains('@');
}

/// <summary>A section header, from `readelf -S -W`.</summary>
internal sealed record ElfSection(string Name, string Type, ulong Address, ulong Size, string Flags)
{
    public bool Contains(ulong address) => address >= Address && address < Address + Size;
}

internal static class ElfTools
{
    /// <summary>Runs a tool and returns its standard output; throws if it fails.</summary>
    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment.Remove("LD_PRELOAD");
        start.Environment["LC_ALL"] = "C";
        using Process process = Process.Start(start)
            ?? throw new InvalidOperationException($"could not start {tool}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"`{tool} {string.Join(' ', arguments)}` failed with exit code {process.ExitCode}:\n{stderr.Result}");
        return stdout;
    }

    public static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.TrimEnd('\r'));

    public static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>Every defined symbol of .symtab (needs an unstripped library).</summary>
    public static List<ElfSymbol> Symbols(string library)
    {
        var symbols = new List<ElfSymbol>();
        foreach (string line in Lines(Run("nm", "-S", "--defined-only", library)))
        {
            // "address size type name" or "address type name"; a name may hold anything but spaces.
            string[] field = line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
            if (field.Length == 4 && field[2].Length == 1)
                symbols.Add(new ElfSymbol(field[3], Hex(field[0]), Hex(field[1]), field[2][0]));
            else if (field.Length >= 3 && field[1].Length == 1)
                symbols.Add(new ElfSymbol(string.Join(' ', field.Skip(2)), Hex(field[0]), null, field[1][0]));
        }
        if (symbols.Count == 0)
            throw new InvalidOperationException($"{library} has no symbol table (stripped?): the call graph needs function names");
        return symbols;
    }

    /// <summary>The dynamic symbol table as `nm -D` shows it, defined and undefined.</summary>
    public static List<DynamicSymbol> DynamicSymbols(string library)
    {
        var symbols = new List<DynamicSymbol>();
        foreach (string line in Lines(Run("nm", "-D", library)))
        {
            string[] field = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (field.Length == 3)
                symbols.Add(new DynamicSymbol(field[2], field[1][0], IsDefined: true));
            else if (field.Length == 2)
                symbols.Add(new DynamicSymbol(field[1], field[0][0], IsDefined: false));
        }
        return symbols;
    }

    public static List<ElfSection> Sections(string library)
    {
        var sections = new List<ElfSection>();
        foreach (string line in Lines(Run("readelf", "-S", "-W", library)))
        {
            // "  [12] .text  PROGBITS  0000000000002480 002480 000f71 00  AX  0   0 16"
            int close = line.IndexOf(']');
            if (!line.TrimStart().StartsWith('[') || close < 0)
                continue;
            string[] field = line[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // Name Type Address Offset Size EntrySize [Flags] Link Info Align
            if (field.Length < 9 || field[0] == "Name" || !ulong.TryParse(field[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong address))
                continue;
            // The flags column is empty when a section has none; then the link column follows.
            string flags = field.Length >= 10 ? field[6] : "";
            sections.Add(new ElfSection(field[0], field[1], address, Hex(field[4]), flags));
        }
        return sections;
    }

    /// <summary>The DT_NEEDED entries: the shared libraries the loader must bring in.</summary>
    public static List<string> NeededLibraries(string library) =>
        Lines(Run("readelf", "-d", "-W", library))
            .Where(line => line.Contains("(NEEDED)"))
            .Select(line => line[(line.IndexOf('[') + 1)..line.LastIndexOf(']')])
            .ToList();

    public static string Disassembly(string library) =>
        Run("objdump", "-d", "--no-show-raw-insn", "-w", library);
}
