// The dynamic symbol table of libft_malloc.so, as the loader sees it: every C allocation
// symbol is exported, unversioned (so a program's malloc@GLIBC_2.2.5 binds to it under
// LD_PRELOAD), and nothing else is: no runtime, no CoreLib, no helper leaks out.
using System.Collections.Generic;
using System.Linq;

namespace FtMalloc.Tests.NativeLibrary;

public sealed class ExportTests
{
    /// <summary>The symbols the library must define: the C, POSIX and glibc allocation ABI.</summary>
    private static readonly string[] s_required =
    {
        "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "cfree", "free_sized", "free_aligned_sized",
        "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc", "__libc_memalign",
        "__libc_valloc", "__libc_pvalloc", "__posix_memalign", "show_alloc_mem",
    };

    public static TheoryData<string> RequiredSymbols => new(s_required);

    private static List<DynamicSymbol> Defined() =>
        ElfTools.DynamicSymbols(NativeBuild.LibraryPath).Where(s => s.IsDefined).ToList();

    [Theory]
    [MemberData(nameof(RequiredSymbols))]
    public void Required_symbol_is_exported_as_an_unversioned_function(string name)
    {
        List<DynamicSymbol> matches = Defined().Where(s => s.BaseName == name).ToList();
        DynamicSymbol symbol = Assert.Single(matches);
        Assert.False(symbol.IsVersioned,
            $"nm -D shows `{symbol.Name}`: a versioned export does not bind {name}@GLIBC_2.2.5, so programs would keep glibc's {name}");
        Assert.True(symbol.Type == 'T', $"`{name}` has nm type '{symbol.Type}', expected 'T' (a global function)");
    }

    [Fact]
    public void Exactly_the_names_of_exports_txt_are_exported()
    {
        var listed = NativeBuild.ExportedNames().ToHashSet();
        var exported = Defined().Select(s => s.BaseName).ToHashSet();
        var extra = exported.Except(listed).OrderBy(n => n).ToList();
        var missing = listed.Except(exported).OrderBy(n => n).ToList();
        Assert.True(extra.Count == 0 && missing.Count == 0,
            $"`nm -D --defined-only` differs from src/FtMalloc.Native/exports.txt:\n" +
            $"  exported but not listed: {string.Join(", ", extra)}\n  listed but not exported: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Exports_txt_lists_every_required_symbol()
    {
        var listed = NativeBuild.ExportedNames().ToHashSet();
        var missing = s_required.Where(n => !listed.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"exports.txt does not list: {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_library_defines_no_symbol_version()
    {
        string library = NativeBuild.LibraryPath;
        Assert.DoesNotContain(ElfTools.Sections(library), s => s.Name == ".gnu.version_d");
        Assert.All(ElfTools.DynamicSymbols(library).Where(s => s.IsDefined), s => Assert.False(s.IsVersioned, s.Name));
    }
}
