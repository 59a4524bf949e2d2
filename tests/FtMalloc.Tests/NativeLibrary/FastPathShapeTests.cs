// The shape of the exported malloc and free in the built library (Exports.cs, FastPaths.cs):
// in a single-threaded process they find the caller's heap without asking who the caller is,
// so neither makes a call of its own. Every way out of them is a jump (to the full path, or
// to the *Threaded functions that call pthread_self()): a call would also make NativeAOT
// save registers on every malloc and free, the cost this shape removes (10.1 -> 6.9 ns a pair).
using System.Linq;

namespace FtMalloc.Tests.NativeLibrary;

public sealed class FastPathShapeTests
{
    [Theory(DisplayName = "the exported fast path makes no call: every way out is a jump")]
    [InlineData("malloc")]
    [InlineData("free")]
    public void Fast_path_makes_no_call(string export)
    {
        CallGraph graph = CallGraph.Read(NativeBuild.LibraryPath, new[] { export });
        CallGraph.Function function = graph.Find(export) ?? throw new Xunit.Sdk.XunitException($"{export} is not a function of the library");
        Assert.NotEmpty(function.Instructions);
        var calls = function.Instructions.Where(i => i.Mnemonic.StartsWith("call")).Select(i => $"0x{i.Address:X}: {i.Mnemonic} {i.Operands}").ToList();
        Assert.True(calls.Count == 0, $"{export} calls:\n  " + string.Join("\n  ", calls));
        Assert.Contains(function.Instructions, i => i.Mnemonic.StartsWith("jmp") && i.Reference != null && !function.Contains(i.Reference.Value));
    }

    [Theory(DisplayName = "the threaded fast paths call pthread_self and nothing else, save one register across it, and leave by jumps")]
    [InlineData("FtMalloc_Native_FtMalloc_Native_Exports__MallocThreaded")]
    [InlineData("FtMalloc_Native_FtMalloc_Native_Exports__FreeThreaded")]
    public void Threaded_fast_path_calls_only_pthread_self(string name)
    {
        // Exports.MallocThreaded/FreeThreaded: their one call is pthread_self() through the
        // Pthread.Self pointer (indirect: its plain and "fat" ways). A direct call would mean a
        // way out that calls and returns (NativeAOT makes no tail call out of a NoInlining
        // method) or a call in the middle (FreeThreaded's remote branch, its no-heap branch),
        // and each such call made NativeAOT keep values in more saved registers on every call.
        CallGraph graph = CallGraph.Read(NativeBuild.LibraryPath, new[] { "malloc", "free" });
        CallGraph.Function function = graph.Find(name) ?? throw new Xunit.Sdk.XunitException($"{name} is not a function of the library (inlined into an export?)");
        var direct = function.Instructions.Where(i => i.Mnemonic.StartsWith("call") && !i.Operands.StartsWith('*'))
            .Select(i => $"0x{i.Address:X}: {i.Mnemonic} {i.Operands}").ToList();
        Assert.True(direct.Count == 0, $"{name} calls:\n  " + string.Join("\n  ", direct));
        Assert.Contains(function.Instructions, i => i.Mnemonic.StartsWith("call") && i.Operands.StartsWith('*'));
        string[] calleeSaved = { "%rbx", "%r12", "%r13", "%r14", "%r15" };
        var saved = function.Instructions.Where(i => i.Mnemonic.StartsWith("push") && calleeSaved.Contains(i.Operands)).Select(i => i.Operands).ToList();
        Assert.True(saved.Count <= 1, $"{name} saves {string.Join(", ", saved)}: one register (the argument across pthread_self) is all it needs");
        Assert.Contains(function.Instructions, i => i.Mnemonic.StartsWith("jmp") && i.Reference != null && !function.Contains(i.Reference.Value));
    }

    [Theory(DisplayName = "the exported fast path updates its counters and bins in memory: no address is put in a register first")]
    [InlineData("malloc")]
    [InlineData("free")]
    public void Fast_path_updates_memory_in_one_instruction(string export)
    {
        // C#'s compound assignment (*p += x) duplicates the address, and NativeAOT then puts
        // it in a register of its own: an lea and an update through (%reg), one instruction
        // more per counter (HeapCounters.CountCachedFree writes each address out twice).
        CallGraph graph = CallGraph.Read(NativeBuild.LibraryPath, new[] { export });
        CallGraph.Function function = graph.Find(export) ?? throw new Xunit.Sdk.XunitException($"{export} is not a function of the library");
        var bare = new System.Text.RegularExpressions.Regex(@"(^|,)\(%r\w+\)$");
        var updates = function.Instructions
            .Where(i => (i.Mnemonic.StartsWith("inc") || i.Mnemonic.StartsWith("dec") || i.Mnemonic.StartsWith("add") || i.Mnemonic.StartsWith("sub")) && bare.IsMatch(i.Operands))
            .Select(i => $"0x{i.Address:X}: {i.Mnemonic} {i.Operands}").ToList();
        Assert.True(updates.Count == 0, $"{export} updates memory through an address register:\n  " + string.Join("\n  ", updates));
    }
}
