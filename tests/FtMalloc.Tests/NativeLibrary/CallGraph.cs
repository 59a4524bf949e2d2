// The static call graph of a shared library, read from its disassembly.
//
// Nodes are the functions of the symbol table (aliases at one address are one node) and
// the PLT entries, which stand for functions in other libraries (mmap@plt). An edge goes
// from a function to each function that one of its instructions names:
//   call, jmp and conditional jumps with a direct target, including tail jumps, whether or
//   not they are ever taken (a never-taken branch still links the code that it names);
//   RIP-relative references to code (`lea f(%rip)`): the address of a callback escapes.
// Not followed, and counted per function instead: indirect calls and jumps (`call *%rax`)
// other than a switch's jump table, and code addresses stored in data (method tables,
// dispatch cells). Code that needs those needs objects, and objects need the runtime's
// allocator, which is itself a direct call.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace FtMalloc.Tests.NativeLibrary;

internal sealed class CallGraph
{
    /// <summary>One instruction: where it is, its mnemonic and operands, the address it names.</summary>
    internal sealed record Instruction(ulong Address, string Mnemonic, string Operands, ulong? Reference);

    internal sealed class Function
    {
        public required ulong Start { get; init; }
        public required ulong End { get; set; }
        public List<string> Names { get; } = new();
        public string Key => Names[0];
        public List<Instruction> Instructions { get; } = new();
        public SortedSet<string> Callees { get; } = new(StringComparer.Ordinal);
        /// <summary>Indirect calls and jumps, other than switch jumps (not followed).</summary>
        public int IndirectTransfers { get; set; }

        /// <summary>Seen: a test of a libc function pointer's "fat" bit (see AddInstruction).</summary>
        public bool TestsLibcPointerForFatBit { get; set; }

        public bool Contains(ulong address) => address >= Start && address < End;
    }

    private static readonly Regex s_instruction = new(@"^\s*([0-9a-f]+):\s+(.*)$", RegexOptions.Compiled);
    private static readonly Regex s_directTarget = new(@"^([0-9a-f]+) <(.+)>$", RegexOptions.Compiled);
    private static readonly Regex s_comment = new(@"#\s*([0-9a-f]+) <(.+)>\s*$", RegexOptions.Compiled);
    private static readonly Regex s_fatPointerCall = new(@"^\*-0x2\(%r\w+\)$", RegexOptions.Compiled);

    /// <summary>The statics of FtMalloc.Native.Pthread: libc function pointers from dlsym, nothing else.</summary>
    private const string LibcPointers = "__NONGCSTATICSFtMalloc_Native_FtMalloc_Native_Pthread";
    private static readonly Regex s_section = new(@"^Disassembly of section (\S+):$", RegexOptions.Compiled);
    private static readonly HashSet<string> s_prefixes = new(StringComparer.Ordinal)
    {
        "bnd", "notrack", "lock", "rep", "repz", "repe", "repnz", "repne", "data16", "addr32", "cs", "ds", "es", "fs", "gs", "ss",
        "rex", "rex.W", "rex.R", "rex.X", "rex.B", "rex.WB", "rex.WR", "rex.WX", "rex.WRB", "rex.WRX", "rex.WXB", "rex.WRXB",
    };

    private readonly List<Function> _byAddress;
    private readonly Dictionary<string, Function> _byName = new(StringComparer.Ordinal);

    /// <summary>Every function node, by key (its preferred name).</summary>
    public IReadOnlyDictionary<string, Function> Functions { get; }

    /// <summary>The external functions called through the PLT, as "name@plt".</summary>
    public SortedSet<string> PltTargets { get; } = new(StringComparer.Ordinal);

    private CallGraph(List<Function> functions)
    {
        _byAddress = functions;
        Functions = functions.ToDictionary(f => f.Key, StringComparer.Ordinal);
        foreach (Function function in functions)
            foreach (string name in function.Names)
                _byName.TryAdd(name, function);
    }

    /// <summary>The function of that name (any alias), or null.</summary>
    public Function? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The function whose code holds the address, or null.</summary>
    public Function? At(ulong address)
    {
        int low = 0, high = _byAddress.Count - 1;
        while (low <= high)
        {
            int middle = (low + high) / 2;
            Function function = _byAddress[middle];
            if (address < function.Start)
                high = middle - 1;
            else if (address >= function.End)
                low = middle + 1;
            else
                return function;
        }
        return null;
    }

    /// <summary>Disassembles the library and links every function to what it names.</summary>
    /// <param name="preferredNames">Names to show first when several name one function (the exports).</param>
    public static CallGraph Read(string library, IReadOnlyCollection<string> preferredNames)
    {
        List<ElfSection> sections = ElfTools.Sections(library);
        var code = sections.Where(s => s.Flags.Contains('X')).ToList();
        var plt = sections.Where(s => s.Name.StartsWith(".plt", StringComparison.Ordinal)).ToList();

        // Function nodes: every function symbol in code outside the PLT, aliases grouped.
        var functions = new List<Function>();
        foreach (var group in ElfTools.Symbols(library)
                     .Where(s => s.IsFunction && code.Any(c => c.Contains(s.Address)) && !plt.Any(p => p.Contains(s.Address)))
                     .GroupBy(s => s.Address)
                     .OrderBy(g => g.Key))
        {
            ulong size = group.Max(s => s.Size ?? 0);
            var function = new Function { Start = group.Key, End = group.Key + size };
            function.Names.AddRange(group.Select(s => s.Name).Distinct()
                .OrderBy(n => preferredNames.Contains(n) ? 0 : 1).ThenBy(n => n.Length).ThenBy(n => n, StringComparer.Ordinal));
            functions.Add(function);
        }
        // A symbol without a size ends where the next function or its section begins.
        for (int i = 0; i < functions.Count; i++)
        {
            if (functions[i].End > functions[i].Start)
                continue;
            ElfSection home = code.First(c => c.Contains(functions[i].Start));
            ulong sectionEnd = home.Address + home.Size;
            functions[i].End = Math.Min(i + 1 < functions.Count ? functions[i + 1].Start : ulong.MaxValue, sectionEnd);
        }
        var graph = new CallGraph(functions);

        string currentSection = "";
        foreach (string line in ElfTools.Lines(ElfTools.Disassembly(library)))
        {
            Match section = s_section.Match(line);
            if (section.Success)
            {
                currentSection = section.Groups[1].Value;
                continue;
            }
            if (currentSection.StartsWith(".plt", StringComparison.Ordinal))
                continue;
            Match match = s_instruction.Match(line);
            if (!match.Success)
                continue;
            ulong address = ElfTools.Hex(match.Groups[1].Value);
            Function? owner = graph.At(address);
            if (owner is null)
                continue;
            graph.AddInstruction(owner, address, match.Groups[2].Value, plt);
        }
        return graph;
    }

    private void AddInstruction(Function owner, ulong address, string text, List<ElfSection> plt)
    {
        string comment = "";
        int hash = text.IndexOf('#');
        if (hash >= 0)
        {
            comment = text[hash..];
            text = text[..hash];
        }
        string[] tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        int first = 0;
        while (first < tokens.Length - 1 && s_prefixes.Contains(tokens[first]))
            first++;
        if (tokens.Length == 0)
            return;
        string mnemonic = tokens[first];
        string operands = string.Join(' ', tokens.Skip(first + 1));
        bool transfer = mnemonic.StartsWith("call", StringComparison.Ordinal) || mnemonic.StartsWith('j');

        ulong? reference = null;
        Match direct = s_directTarget.Match(operands);
        Match rip = s_comment.Match(comment);
        if (transfer && direct.Success)
            reference = ElfTools.Hex(direct.Groups[1].Value);
        else if (rip.Success)
            reference = ElfTools.Hex(rip.Groups[1].Value);
        owner.Instructions.Add(new Instruction(address, mnemonic, operands, reference));

        if (rip.Success && rip.Groups[2].Value == LibcPointers && mnemonic.StartsWith("test", StringComparison.Ordinal))
            owner.TestsLibcPointerForFatBit = true;
        if (transfer && operands.StartsWith('*'))
        {
            // Through the GOT to a named external function: an edge. Through a libc function
            // pointer the library keeps (FtMalloc.Native.Pthread: set from dlsym, called as a
            // managed function pointer): an edge out of the library, like a GOT call; with it
            // comes NativeAOT's never-taken "fat pointer" arm, `call *-0x2(%reg)` after a test
            // of the pointer's bit 1 (set-up refuses a pointer with that bit). Otherwise unknown.
            if (rip.Success && rip.Groups[2].Value.Contains('@'))
                owner.Callees.Add(rip.Groups[2].Value.Split('@')[0] + "@got");
            else if (rip.Success && rip.Groups[2].Value == LibcPointers)
                owner.Callees.Add("pthread_self@dlsym");
            else if (owner.TestsLibcPointerForFatBit && s_fatPointerCall.IsMatch(operands))
                return;
            else if (!IsSwitchJump(owner, mnemonic))
                owner.IndirectTransfers++;
            return;
        }
        if (reference is not ulong target)
            return;
        if (plt.Any(p => p.Contains(target)))
        {
            if (transfer && direct.Success)
            {
                string name = direct.Groups[2].Value;
                string callee = name.EndsWith("@plt", StringComparison.Ordinal) ? name : name + " (plt)";
                owner.Callees.Add(callee);
                PltTargets.Add(callee);
            }
            return;
        }
        Function? to = At(target);
        // A reference to data is not code; a jump inside the function is control flow (and a
        // call to itself adds nothing); a RIP-relative load from the middle of some code is a
        // constant kept in the text, not a function address.
        if (to is null || to == owner || (!transfer && target != to.Start))
            return;
        owner.Callees.Add(to.Key);
    }

    /// <summary>
    /// A jump through a register computed from the function's own address (`lea f+x(%rip)`
    /// a few instructions before): a switch's jump table, whose targets are in the function.
    /// </summary>
    private static bool IsSwitchJump(Function owner, string mnemonic)
    {
        if (!mnemonic.StartsWith("jmp", StringComparison.Ordinal))
            return false;
        var before = owner.Instructions;
        for (int i = before.Count - 2; i >= 0 && i >= before.Count - 5; i--)
        {
            if (before[i].Mnemonic == "lea" && before[i].Reference is ulong target && owner.Contains(target))
                return true;
        }
        return false;
    }

    /// <summary>
    /// Breadth-first search from the roots: every reachable node with the node it was first
    /// reached from (a root maps to null), so the shortest path to any node can be rebuilt.
    /// The search does not go on past the leaves.
    /// </summary>
    public Dictionary<string, string?> Reach(IEnumerable<string> roots, IReadOnlySet<string> leaves)
    {
        var parent = new Dictionary<string, string?>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (string root in roots)
        {
            if (parent.TryAdd(root, null))
                queue.Enqueue(root);
        }
        while (queue.Count > 0)
        {
            string node = queue.Dequeue();
            if (leaves.Contains(node) || !Functions.TryGetValue(node, out Function? function))
                continue; // a PLT or GOT target: code of another library
            foreach (string callee in function.Callees)
            {
                if (parent.TryAdd(callee, node))
                    queue.Enqueue(callee);
            }
        }
        return parent;
    }

    /// <summary>The path from a root to the node, as "a -> b -> c".</summary>
    public static string PathTo(Dictionary<string, string?> reached, string node)
    {
        var path = new List<string>();
        for (string? at = node; at is not null; at = reached[at])
            path.Add(at);
        path.Reverse();
        return string.Join(" -> ", path);
    }
}
