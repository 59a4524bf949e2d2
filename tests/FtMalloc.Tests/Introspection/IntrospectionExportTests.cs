// The introspection entry points are exported like the allocation ABI: unversioned global
// functions, so a program's reference to glibc's malloc_stats@GLIBC_2.2.5 (or mallinfo2,
// malloc_trim...) binds to FtMalloc's under LD_PRELOAD. (The C drivers prove they are
// called: their answers describe FtMalloc's heap.)
using System.Linq;
using FtMalloc.Tests.NativeLibrary;

namespace FtMalloc.Tests.Introspection;

public sealed class IntrospectionExportTests
{
    public static TheoryData<string> Symbols => new()
    {
        "show_alloc_mem_ex", "ft_malloc_snapshot", "malloc_stats", "mallinfo", "mallinfo2", "malloc_info", "malloc_trim", "mallopt",
    };

    [Theory(DisplayName = "introspection symbol is exported, unversioned, as a function")]
    [MemberData(nameof(Symbols))]
    public void Exported(string name)
    {
        Assert.Contains(name, NativeBuild.ExportedNames());
        DynamicSymbol symbol = Assert.Single(ElfTools.DynamicSymbols(NativeBuild.LibraryPath).Where(s => s.IsDefined && s.BaseName == name));
        Assert.False(symbol.IsVersioned, symbol.Name);
        Assert.Equal('T', symbol.Type);
    }
}
