// glibc's introspection entry points, answered by FtMalloc: mallinfo2/mallinfo follow a
// scripted sequence, malloc_info writes well-formed XML in glibc's shape (parsed here),
// malloc_trim gives memory back after a free storm, mallopt accepts what is supported.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Xml.Linq;
using FtMalloc.Tests.Programs;

namespace FtMalloc.Tests.Introspection;

public sealed class GlibcIntrospectionTests
{
    private static Dictionary<string, long> Fields(string line) =>
        line.Split(' ').Skip(1).Select(t => t.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

    [Fact(DisplayName = "mallinfo2 tracks bytes in use across malloc(100), malloc(1000), malloc(200000) and their frees; mallinfo agrees")]
    public void MallinfoScript()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "mallinfo"), minMallocs: 3);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        string[] lines = run.Run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 8, run.Run.Describe());
        var m = lines.Take(7).Select(Fields).ToArray();
        long page = Environment.SystemPageSize;

        // uordblks: bytes requested by the TINY and SMALL blocks in use, to the byte.
        long[] uord = m.Select(s => s["uordblks"]).ToArray();
        Assert.Equal(new long[] { 0, 100, 1100, 1100, 1000, 0, 0 }, uord.Select(u => u - uord[0]).ToArray());
        // The LARGE block is a zone of its own, in whole 64 KiB chunks: hblks and hblkhd while it lives.
        Assert.Equal(new long[] { 0, 0, 0, 1, 1, 1, 0 }, m.Select(s => s["hblks"] - m[0]["hblks"]).ToArray());
        long large = m[3]["hblkhd"] - m[0]["hblkhd"];
        const long chunk = 64 * 1024;
        Assert.True(large >= 200000 && large % chunk == 0 && large < 200000 + chunk + page, $"hblkhd grew by {large}");
        // malloc(100) freed goes to a quick bin: one more fastbin-like block of 112 bytes (104 usable).
        Assert.Equal(m[3]["smblks"] + 1, m[4]["smblks"]);
        Assert.Equal(m[3]["fsmblks"] + 112, m[4]["fsmblks"]);
        // Free bytes in TINY/SMALL zones move opposite to the blocks' sizes (100 + 8 and 1000 + 8,
        // rounded up to 16). No TINY zone is mapped at load: unless the program had one already,
        // malloc(100) maps it, and its free area joins the free bytes once.
        long tinyArea = m[1]["fordblks"] - m[0]["fordblks"] + 112;
        Assert.True(tinyArea == 0 || tinyArea > 64 * 1024, $"malloc(100) changed the free bytes by {tinyArea - 112}");
        Assert.Equal(m[1]["fordblks"] - 1008, m[2]["fordblks"]);
        Assert.Equal(m[1]["fordblks"] + 112, m[5]["fordblks"]);
        Assert.All(m, s => Assert.Equal(0, s["usmblks"]));
        Assert.All(m, s => Assert.True(s["arena"] > 0 && s["uordblks"] + s["fordblks"] <= s["arena"], string.Join(' ', s)));
        // The int version says the same as the last mallinfo2.
        var old = Fields(lines[7]);
        foreach (var (key, value) in m[6])
            Assert.True(old[key] == value, $"mallinfo().{key} = {old[key]}, mallinfo2().{key} = {value}");
    }

    [Fact(DisplayName = "malloc_info(0, stdout) writes well-formed XML in glibc's shape, with every counter; bad options and streams without a descriptor fail")]
    public void MallocInfoXml()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "info"), minMallocs: 7);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        XElement root = XDocument.Parse(run.Run.Stdout).Root!;
        Assert.Equal("malloc", root.Name.LocalName);
        Assert.Equal("1", root.Attribute("version")!.Value);
        XElement heap = Assert.Single(root.Elements("heap"));
        Assert.Equal("0", heap.Attribute("nr")!.Value);
        var sizes = heap.Element("sizes")!.Elements("size").ToList();
        Assert.NotEmpty(sizes);
        foreach (XElement size in sizes)
        {
            long from = (long)size.Attribute("from")!, to = (long)size.Attribute("to")!, total = (long)size.Attribute("total")!, count = (long)size.Attribute("count")!;
            Assert.True(from <= to && count > 0 && total >= from * count && total <= to * count, size.ToString());
        }
        long rest = (long)heap.Elements("total").Single(t => (string)t.Attribute("type")! == "rest").Attribute("size")!;
        Assert.Equal(sizes.Sum(s => (long)s.Attribute("total")!), rest + (long)heap.Elements("total").Single(t => (string)t.Attribute("type")! == "fast").Attribute("size")!);
        XElement mmap = root.Elements("total").Single(t => (string)t.Attribute("type")! == "mmap");
        Assert.Equal(1, (long)mmap.Attribute("count")!);
        Assert.True((long)mmap.Attribute("size")! >= 300000);
        foreach (string type in new[] { "current", "max" })
            Assert.Single(root.Elements("system"), s => (string)s.Attribute("type")! == type);
        var counters = root.Element("counters")!.Elements("counter").ToDictionary(c => (string)c.Attribute("name")!, c => (long)c.Attribute("value")!);
        Assert.Equal(7, counters["mallocs"]);
        Assert.Equal(2, counters["frees"]);
        Assert.Equal(run.Stats.Fields.Count - 1, counters.Count); // every counter of the stats line but the pid

        Assert.Contains("malloc_info(0, stdout) = 0\n", run.Run.Stderr);
        Assert.Contains("malloc_info(1, stdout) = -1 errno EINVAL\n", run.Run.Stderr);
        Assert.Contains("malloc_info(0, fmemopen) = -1 errno EBADF\n", run.Run.Stderr);
    }

    [Fact(DisplayName = "malloc_trim(0) after a free storm lowers resident and mapped bytes, returns 1, then 0 when nothing is left; live blocks keep their data")]
    public void TrimAfterFreeStorm()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "trim"), minMallocs: 2048);
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        var f = Fields("trim " + run.Run.Stdout.Trim());
        Assert.True(f["trim1"] == 1 && f["trim2"] == 0, run.Run.Stdout);
        // About 30 MB of freed, touched blocks sit in zones that still hold live blocks.
        Assert.True(f["resident_before"] - f["resident_after"] > 16 << 20, run.Run.Stdout);
        Assert.True(f["mapped_after"] < f["mapped_before"], run.Run.Stdout);
        var s = run.Stats.Fields;
        Assert.Equal(2, s["trim_calls"]);
        Assert.True(s["madvise_calls"] > 0 && s["madvise_bytes"] > 16 << 20, run.Output);
    }

    [Fact(DisplayName = "mallopt: M_PERTURB and M_CHECK_ACTION (0..3) return 1 and take effect; every other parameter returns 0")]
    public void Mallopt()
    {
        ServedRun run = LibraryRun.Served(LibraryRun.Native("introspect", "mallopt"));
        Assert.True(run.Run.ExitCode == 0, run.Run.Describe());
        Assert.Equal(
            "M_PERTURB=1\n" +
            "after M_PERTURB first=0xCC uniform=1\n" +
            "M_PERTURB(0)=1\n" +
            "M_MXFAST=0 M_TRIM_THRESHOLD=0 M_MMAP_THRESHOLD=0 M_ARENA_MAX=0\n" +
            "M_CHECK_ACTION(9)=0 M_CHECK_ACTION(1)=1\n" +
            "survived the bad free\n", run.Run.Stdout);
        Assert.Contains("ft_malloc: free(): invalid pointer", run.Run.Stderr);
        Assert.Equal(1, run.Stats.Fields["misuse_detected"]);
    }
}
