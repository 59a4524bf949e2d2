// Proof, on the built library's machine code, that no exported function can reach the
// .NET runtime.
//
// libft_malloc.so does not link the runtime: every runtime symbol ILC's object refers to is
// a stub that prints "ft_malloc: .NET runtime reached: <name>" and aborts (all of them end
// in one function, ft_malloc_runtime_reached, which is how the stubs are recognised here).
// The tests disassemble the library, build the static call graph from every exported
// function (direct calls and jumps, tail jumps and branches never taken included, PLT
// calls, code addresses taken), and fail if a stub is reachable, naming the call path.
//
// Two stubs may be named by reachable code, each only as the failing branch of a check
// that the compiler emits and that cannot fail without the runtime:
//   RhpGcPoll, after each SuppressGCTransition P/Invoke (mmap, write, ...):
//       cmpl $0, RhpTrapThreads(%rip); jne -> call RhpGcPoll
//     RhpTrapThreads is zeroed stub data that only the runtime would write; a test below
//     checks that it lives in .bss and that no instruction does anything but compare it.
//   RhpFallbackFailFast, after the stack-cookie check of a method with a stack buffer:
//       mov __security_cookie, %r8; cmp %r8, -0x30(%rbp); je ok; call RhpFallbackFailFast
//     It fails only when the stack was overwritten; then printing and aborting is right.
// Every way into a call site of these two must be the failing branch of a conditional jump
// that follows a read of its guard symbol, or the test fails as for any other stub.
using System;
using System.Collections.Generic;
using System.Linq;
using Xunit.Abstractions;

namespace FtMalloc.Tests.NativeLibrary;

public sealed class RuntimeFreeTests
{
    private const string StubSink = "ft_malloc_runtime_reached";
    private const string GcPoll = "RhpGcPoll";
    private const string GcPollFlag = "RhpTrapThreads";

    /// <summary>Stubs that checked code may name, with the symbol each check reads.</summary>
    private static readonly Dictionary<string, string> s_guardedStubs = new()
    {
        [GcPoll] = GcPollFlag,
        ["RhpFallbackFailFast"] = "__security_cookie",
    };

    private static readonly Lazy<Image> s_image = new(Image.Read);
    private readonly ITestOutputHelper _output;

    public RuntimeFreeTests(ITestOutputHelper output) => _output = output;

    /// <summary>The library's call graph, its stubs, and what the exports reach; read once.</summary>
    private sealed record Image(
        string Library, CallGraph Graph, List<string> Exports, HashSet<string> Stubs,
        Dictionary<string, string?> Reached, List<ElfSymbol> Symbols, List<ElfSection> Sections)
    {
        public static Image Read()
        {
            string library = NativeBuild.LibraryPath;
            // In the order of exports.txt, so that a path starts from malloc rather than __libc_malloc.
            var order = NativeBuild.ExportedNames().Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i);
            var exports = ElfTools.DynamicSymbols(library).Where(s => s.IsDefined).Select(s => s.BaseName)
                .OrderBy(name => order.GetValueOrDefault(name, int.MaxValue)).ToList();
            CallGraph graph = CallGraph.Read(library, exports);
            var stubs = graph.Functions.Values
                .Where(f => f.Callees.Contains(StubSink))
                .Select(f => f.Key)
                .Append(StubSink)
                .ToHashSet(StringComparer.Ordinal);
            var roots = exports.Select(e => graph.Find(e)?.Key ?? throw new InvalidOperationException($"export {e} is not a function of the symbol table"));
            return new Image(library, graph, exports, stubs, graph.Reach(roots, leaves: stubs),
                ElfTools.Symbols(library), ElfTools.Sections(library));
        }

        /// <summary>The shortest call path from an export to the function.</summary>
        public string PathOf(CallGraph.Function function) => CallGraph.PathTo(Reached, function.Key);

        /// <summary>The reachable functions of the library that are not stubs.</summary>
        public IEnumerable<CallGraph.Function> ReachedCode =>
            Reached.Keys.Where(k => !Stubs.Contains(k)).Select(k => Graph.Functions.GetValueOrDefault(k)).OfType<CallGraph.Function>();
    }

    [Fact]
    public void No_exported_function_reaches_the_NET_runtime()
    {
        Image image = s_image.Value;
        Assert.True(image.Stubs.Count > 1,
            $"no runtime stub (a function jumping to {StubSink}) was found: the library was not linked by the FtMalloc.Native pipeline, so this test proves nothing");
        _output.WriteLine($"{image.Library}: {image.Exports.Count} exports reach {image.ReachedCode.Count()} functions; {image.Stubs.Count - 1} runtime stubs in the library");
        _output.WriteLine("reached outside the library: " + string.Join(", ", image.Reached.Keys.Where(k => !image.Graph.Functions.ContainsKey(k)).Order()));

        var failures = new List<string>();
        foreach (string stub in image.Reached.Keys.Where(image.Stubs.Contains).Order(StringComparer.Ordinal))
        {
            if (!s_guardedStubs.TryGetValue(stub, out string? guard))
            {
                failures.Add(CallGraph.PathTo(image.Reached, stub));
                continue;
            }
            _output.WriteLine($"{stub} is named behind its {guard} check, e.g. {CallGraph.PathTo(image.Reached, stub)}");
            foreach (string site in UncheckedCallSites(image, stub, guard))
                failures.Add($"{site} names {stub} without a {guard} check before it");
        }
        Assert.True(failures.Count == 0,
            $"{failures.Count} .NET runtime helper(s) can be reached from the exported functions; a shortest call path to each:\n  " +
            string.Join("\n  ", failures) +
            "\nAn export must not allocate objects, throw, box, use [ThreadStatic], virtual or interface calls, or anything else the runtime provides.");
    }

    /// <summary>True if the file holds zeros for the symbol's bytes (objdump's hex dump of them).</summary>
    private static bool InitialBytesAreZero(ElfSymbol symbol)
    {
        ulong size = symbol.Size is > 0 ? symbol.Size.Value : 4;
        string dump = ElfTools.Run("objdump", "-s", "-j", ".data",
            $"--start-address=0x{symbol.Address:x}", $"--stop-address=0x{symbol.Address + size:x}", NativeBuild.LibraryPath);
        var words = ElfTools.Lines(dump).Where(l => l.StartsWith(' '))
            .SelectMany(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(4))
            .Where(w => w.All(Uri.IsHexDigit)).ToList();
        return words.Count > 0 && words.All(w => w.All(c => c == '0'));
    }

    [Fact]
    public void The_GC_poll_flag_is_zeroed_data_that_no_instruction_writes()
    {
        Image image = s_image.Value;
        ElfSymbol? flag = image.Symbols.FirstOrDefault(s => s.Name == GcPollFlag);
        if (flag is null)
            return; // no GC poll at all
        ElfSection? home = image.Sections.FirstOrDefault(s => s.Contains(flag.Address));
        // Zero-initialised storage: .bss, or .data (where the stub generator puts it, on a page
        // that ld.so writes anyway) holding zeros.
        Assert.True(home is { Type: "NOBITS" } || (home is { Name: ".data" } && InitialBytesAreZero(flag)),
            $"{GcPollFlag} is in {home?.Name ?? "no section"}, expected zero-initialised storage (.bss, or zeros in .data)");
        var writes = image.Graph.Functions.Values
            .SelectMany(f => f.Instructions.Select(i => (f, i)))
            .Where(x => x.i.Reference == flag.Address && !x.i.Mnemonic.StartsWith("cmp", StringComparison.Ordinal) && !x.i.Mnemonic.StartsWith("test", StringComparison.Ordinal))
            .Select(x => $"{x.f.Key}+0x{x.i.Address - x.f.Start:x}: {x.i.Mnemonic} {x.i.Operands}")
            .ToList();
        Assert.True(writes.Count == 0,
            $"{GcPollFlag} is used other than compared, so {GcPoll} may be called:\n  {string.Join("\n  ", writes)}");
    }

    [Fact]
    public void Reachable_code_makes_no_indirect_call()
    {
        // The graph cannot follow `call *%rax`: a virtual or interface call, a delegate, a
        // function pointer loaded from data. A switch's jump table is recognised and allowed.
        Image image = s_image.Value;
        var sites = image.ReachedCode
            .Where(f => f.IndirectTransfers > 0)
            .Select(f => $"{image.PathOf(f)} ({f.IndirectTransfers} indirect call(s) or jump(s))")
            .ToList();
        Assert.True(sites.Count == 0,
            "reachable code calls through pointers that the call graph cannot follow:\n  " + string.Join("\n  ", sites));
    }

    [Fact]
    public void The_library_needs_only_the_C_library()
    {
        var allowed = new HashSet<string> { "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2" };
        var needed = ElfTools.NeededLibraries(s_image.Value.Library);
        Assert.Contains("libc.so.6", needed);
        Assert.All(needed, n => Assert.True(allowed.Contains(n) || n.StartsWith("ld-linux", StringComparison.Ordinal), $"DT_NEEDED {n}"));
    }

    /// <summary>
    /// Call sites of the stub in reachable code that control can reach other than through the
    /// failing branch of a check of the guard. Every way in must be checked: falling through
    /// a conditional jump, or a jump to the site, that comes within three instructions after
    /// a read of the guard (a `jmp` to the site right after such a conditional jump counts as
    /// its failing branch).
    /// </summary>
    private static IEnumerable<string> UncheckedCallSites(Image image, string stub, string guard)
    {
        ulong stubAddress = image.Graph.Find(stub)!.Start;
        ulong? guardAddress = image.Symbols.FirstOrDefault(s => s.Name == guard)?.Address;
        foreach (CallGraph.Function function in image.ReachedCode)
        {
            var code = function.Instructions;
            for (int site = 0; site < code.Count; site++)
            {
                if (code[site].Reference != stubAddress)
                    continue;
                bool checkedEntries = true;
                if (site > 0 && FallsThrough(code[site - 1]))
                    checkedEntries &= IsConditionalJump(code[site - 1]) && ReadsGuardBefore(code, site - 1, guardAddress);
                for (int j = 0; j < code.Count; j++)
                {
                    if (j == site || code[j].Reference != code[site].Address || !code[j].Mnemonic.StartsWith('j'))
                        continue;
                    checkedEntries &= IsConditionalJump(code[j])
                        ? ReadsGuardBefore(code, j, guardAddress)
                        : j > 0 && IsConditionalJump(code[j - 1]) && ReadsGuardBefore(code, j - 1, guardAddress);
                }
                if (!checkedEntries)
                    yield return $"{image.PathOf(function)}+0x{code[site].Address - function.Start:x} ({code[site].Mnemonic})";
            }
        }
    }

    private static bool IsConditionalJump(CallGraph.Instruction instruction) =>
        instruction.Mnemonic.StartsWith('j') && !instruction.Mnemonic.StartsWith("jmp", StringComparison.Ordinal);

    private static bool FallsThrough(CallGraph.Instruction instruction) =>
        !instruction.Mnemonic.StartsWith("jmp", StringComparison.Ordinal) && !instruction.Mnemonic.StartsWith("ret", StringComparison.Ordinal) &&
        instruction.Mnemonic != "ud2" && instruction.Mnemonic != "int3";

    private static bool ReadsGuardBefore(List<CallGraph.Instruction> code, int jump, ulong? guard)
    {
        for (int k = jump - 1; k >= 0 && k >= jump - 3; k--)
        {
            if (guard is not null && code[k].Reference == guard)
                return true;
        }
        return false;
    }
}
