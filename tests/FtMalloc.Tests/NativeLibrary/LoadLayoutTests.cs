// What loading the library costs a program that never allocates (the textbook's test0) rests
// on its layout (docs/ARCHITECTURE.md, "What loading costs"): the code that runs at load and
// on the common malloc/free paths lies in the library's first 64 KiB, which the kernel maps
// with ld.so's first read of the symbol table; hot-methods.txt (ILC's method order) says
// which code that is, so a renamed method must be renamed there too.
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.NativeLibrary;

public sealed class LoadLayoutTests
{
    private const ulong FaultAroundBytes = 64 * 1024;

    private static List<string> HotMethods() =>
        File.ReadAllLines(Path.Combine(NativeBuild.RepoRoot, "src", "FtMalloc.Native", "hot-methods.txt"))
            .Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

    [Fact(DisplayName = "every name in hot-methods.txt is a function of the library, in its first 64 KiB")]
    public void HotMethodsExistAndComeFirst()
    {
        var functions = ElfTools.Symbols(NativeBuild.LibraryPath).Where(s => s.IsFunction)
            .GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        foreach (string name in HotMethods())
        {
            Assert.True(functions.TryGetValue(name, out ElfSymbol? symbol),
                $"hot-methods.txt names {name}, which the library does not define (renamed? update the list)");
            ulong end = symbol!.Address + (symbol.Size ?? 0);
            Assert.True(end <= FaultAroundBytes,
                $"{name} ends at 0x{end:X}, past the first 64 KiB that load-time code shares");
        }
    }

    [Fact(DisplayName = "every function of the library that runs in a program that never allocates is in hot-methods.txt")]
    public void LoadTimeCodeIsOrdered()
    {
        // callgrind names every function that ran (its out file's fn= lines); test0 with the
        // library preloaded and no setting of ours runs exactly the set-up and the exit path.
        // A function missing from the order file lands wherever ILC puts it, often past the
        // first 64 KiB: one more page fault in every process (FastPaths.SetSingleThread sat at
        // 0x12D20 until it was listed).
        HashSet<string> ran = LibraryFunctionsRunByTest0(NativeBuild.LibraryPath);
        var unlisted = ran.Except(HotMethods()).Order().ToList();
        Assert.True(unlisted.Count == 0, "ran at load but not in hot-methods.txt: " + string.Join(", ", unlisted));
    }

    [Fact(DisplayName = "a set-up run by another library's initializer scans libc's environ, and without a variable of ours reads no settings table")]
    public void EarlySetUpReadsNoSettingsTable()
    {
        // tests/native/earlymalloc.c allocates from its constructor, before ft_malloc_on_load
        // (as ls's libselinux does): set-up then has no environment from ld.so. Reading every
        // setting from the table (Settings.Describe) faulted in a 64 KiB window of the
        // library's read-only data in such programs.
        HashSet<string> ran = LibraryFunctionsRunByTest0(NativeBuild.LibraryPath + ":" + NativePrograms.Path("earlymalloc.so"));
        Assert.Contains("FtMalloc_Native_FtMalloc_Native_ThreadHeap__ProcessEnvironment", ran);
        Assert.DoesNotContain("FtMalloc_Core_FtMalloc_Core_Options_Settings__Describe", ran);
    }

    /// <summary>The library's functions that ran in test0 under callgrind (its out file's fn= lines), with <paramref name="preload"/> as LD_PRELOAD and no setting of ours.</summary>
    private static HashSet<string> LibraryFunctionsRunByTest0(string preload)
    {
        using var dir = new TempDirectory("loadcode");
        string outFile = dir["callgrind.out"];
        var spec = new RunSpec("valgrind", "--tool=callgrind", "--callgrind-out-file=" + outFile, NativePrograms.Path("test0"))
        {
            Environment = { ["LD_PRELOAD"] = preload },
        };
        RunResult run = ChildProcess.Run(spec, Allocator.Glibc);
        Assert.True(run.ExitCode == 0 && File.Exists(outFile), run.Describe());
        var ran = File.ReadLines(outFile)
            .Select(l => Regex.Match(l, @"^c?fn=\(\d+\)\s+(\S+)"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value)
            .Where(n => n.StartsWith("FtMalloc_", System.StringComparison.Ordinal)).ToHashSet();
        Assert.True(ran.Count >= 5 && ran.Contains("FtMalloc_Native_FtMalloc_Native_ThreadHeap__SetUp"),
            "callgrind saw no set-up of the library: " + string.Join(", ", ran));
        return ran;
    }

    [Fact(DisplayName = "the code in hot-methods.txt reads no read-only data past the first 64 KiB")]
    public void HotCodeReadsNoFarReadOnlyData()
    {
        // Read-only data (.rodata: literals, lookup tables, switch jump tables; the stack-guard
        // cookie of every method with a stackalloc until the runtime stubs moved it into
        // .text) lies past the code, and one read of it faults in a 64 KiB window of its own
        // in every process that runs that code: __security_cookie and the TINY class table
        // kept 64 to 256 KB more of the library resident in bench/'s threaded drivers.
        // Writable data (statics) is no concern: those pages are the process's own; nor is
        // the address of a function taken (a lea into the code, which reads nothing).
        // Settings.Describe is the settings table itself, read only when a variable of the
        // environment may be one of ours (Settings.MayHoldSetting).
        string[] exempt = { "FtMalloc_Core_FtMalloc_Core_Options_Settings__Describe" };
        var hot = HotMethods().Except(exempt).ToHashSet();
        var notReadOnlyData = ElfTools.Sections(NativeBuild.LibraryPath).Where(s => s.Flags.Contains('W') || s.Flags.Contains('X')).ToList();
        var far = new List<string>();
        string? function = null;
        foreach (string line in ElfTools.Lines(ElfTools.Disassembly(NativeBuild.LibraryPath)))
        {
            Match start = Regex.Match(line, @"^[0-9a-f]+ <(.+)>:$");
            if (start.Success) { function = start.Groups[1].Value; continue; }
            if (function == null || !hot.Contains(function)) continue;
            // A data operand: "mov 0x5b276(%rip),%rax  # 634b0 <__security_cookie>".
            Match operand = Regex.Match(line, @"\(%rip\).*# ([0-9a-f]+) <([^>]+)>");
            if (!operand.Success) continue;
            ulong address = ElfTools.Hex(operand.Groups[1].Value);
            if (address < FaultAroundBytes || notReadOnlyData.Any(s => address >= s.Address && address < s.Address + s.Size)) continue;
            far.Add($"{function} reads 0x{address:X} <{operand.Groups[2].Value}>");
        }
        Assert.True(hot.Count > 50 && far.Count == 0, "read-only data past the first 64 KiB read by listed code:\n  " + string.Join("\n  ", far.Distinct()));
    }

    [Fact(DisplayName = "ft_malloc_on_load, malloc and free lie in the first 64 KiB")]
    public void EntryPointsComeFirst()
    {
        var symbols = ElfTools.Symbols(NativeBuild.LibraryPath);
        foreach (string name in new[] { "ft_malloc_on_load", "malloc", "free" })
        {
            ElfSymbol symbol = symbols.First(s => s.Name == name);
            Assert.True(symbol.Address < FaultAroundBytes, $"{name} is at 0x{symbol.Address:X}");
        }
    }

    [Fact(DisplayName = "the statics written at set-up share one page, and the loader's writes one page before it")]
    public void StartupStaticsShareOnePage()
    {
        // ILC names each class's block of static fields __NONGCSTATICS<mangled class name>.
        string[] written =
        {
            "FtMalloc_Core_FtMalloc_Core_Os_PageMemory", "FtMalloc_Core_FtMalloc_Core_Options_Settings",
            "FtMalloc_Core_FtMalloc_Core_Memory_Heap", "FtMalloc_Core_FtMalloc_Core_Memory_HeapRegistry",
            "FtMalloc_Core_FtMalloc_Core_Memory_ZoneMap", "FtMalloc_Core_FtMalloc_Core_CSemantics_FastPaths",
            "FtMalloc_Core_FtMalloc_Core_CSemantics_FastPaths_SingleThreadedByte",
            "FtMalloc_Core_FtMalloc_Core_CSemantics_FastPaths_SoleHeapPointer",
            "FtMalloc_Core_FtMalloc_Core_CSemantics_Instrumented", "FtMalloc_Native_FtMalloc_Native_ThreadHeap",
            "FtMalloc_Native_FtMalloc_Native_Pthread",
        };
        var symbols = ElfTools.Symbols(NativeBuild.LibraryPath).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        var pages = new SortedSet<ulong>();
        var where = new List<string>();
        foreach (string type in written)
        {
            Assert.True(symbols.TryGetValue("__NONGCSTATICS" + type, out ElfSymbol? block), $"no statics block for {type}");
            ulong last = block!.Address + System.Math.Max(block.Size ?? 1, 1) - 1;
            pages.Add(block.Address >> 12);
            pages.Add(last >> 12);
            where.Add($"{type} 0x{block.Address:X}-0x{last:X}");
        }
        Assert.True(pages.Count == 1, "the statics written at set-up span pages " + string.Join(", ", pages.Select(p => $"0x{p << 12:X}")) +
            " (each page is a minor fault in every process; docs/ARCHITECTURE.md, \"What loading costs\"):\n  " + string.Join("\n  ", where));
        ElfSection data = ElfTools.Sections(NativeBuild.LibraryPath).First(s => s.Name == ".data");
        Assert.True(data.Address >> 12 == pages.First() - 1 && (data.Address + data.Size - 1) >> 12 == pages.First() - 1,
            $".data (0x{data.Address:X}, {data.Size} bytes) is not the one page before them: relocating it then takes more pages");
    }

    [Fact(DisplayName = "the code is mapped with the symbol tables (one executable segment from offset 0)")]
    public void OneSegmentFromTheHeaders()
    {
        string headers = ElfTools.Run("readelf", "-lW", NativeBuild.LibraryPath);
        string? first = ElfTools.Lines(headers).FirstOrDefault(l => l.TrimStart().StartsWith("LOAD"));
        Assert.NotNull(first);
        string[] field = first!.Split(' ', System.StringSplitOptions.RemoveEmptyEntries);
        Assert.True(field[1] == "0x000000" && first.Contains(" R E "), $"first LOAD segment: {first}");
    }
}
