// What loading the library costs a program that never allocates (the textbook's test0) rests
// on its layout (docs/ARCHITECTURE.md, "What loading costs"): the code that runs at load and
// on the common malloc/free paths lies in the library's first 64 KiB, which the kernel maps
// with ld.so's first read of the symbol table; hot-methods.txt (ILC's method order) says
// which code that is, so a renamed method must be renamed there too.
using System.Collections.Generic;
using System.IO;
using System.Linq;

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
