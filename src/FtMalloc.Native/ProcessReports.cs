// The process-wide introspection of the C library: what the settings ask for at start-up
// (perturbing, tracing), at fork (the trace is flushed first) and at exit (the reports),
// and the process's counters for the introspection exports. The counters of a process
// are those of every thread's heap (HeapRegistry) plus the calls of threads that have no
// heap (ProcessCounters); peaks summed over heaps are an upper bound of the process's.
// Reports read other threads' heaps without stopping them (as show_alloc_mem does): the
// picture is exact when the other threads are quiet, as they usually are at exit.
using System.Runtime.CompilerServices;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;
using FtMalloc.Core.Os;
using FtMalloc.Core.Stats;

namespace FtMalloc.Native;

internal static unsafe class ProcessReports
{
    // Static, not a local: zeroing a local struct this size calls a runtime helper. In a
    // nested class: ILC lays nested types' statics out after the top-level types', so its
    // 1.3 KiB do not sit between the statics that every process writes at start-up (which
    // then share one page: each page of them is a minor fault). The lock keeps two threads
    // that report at once from summing into it together.
    private static class Storage
    {
        public static HeapCounters Totals;
    }
    private static SpinLock s_totalsLock;

    /// <summary>At set-up, right after the settings are loaded (before any allocation is served).</summary>
    public static void OnSettingsLoaded()
    {
        Heap.PerturbByte = Settings.PerturbByte;
        byte* trace = Settings.TracePath;
        if (trace != null && !Trace.Open(trace)) Settings.Warn(Setting.Trace, trace);
        Instrumented.Update();
    }

    /// <summary>True if something is to be done at exit (a report, the trace's last records).</summary>
    public static bool NeedsExitHandler => Settings.ReportAtExit || Trace.IsOn;

    public static void BeforeFork() => Trace.BeforeFork();

    public static void AfterForkInParent() => Trace.AfterForkInParent();

    public static void AfterForkInChild() => Trace.AfterForkInChild();

    /// <summary>The exit reports, in this order: FT_MALLOC_SHOW, FT_MALLOC_LEAKS, FT_MALLOC_SNAPSHOT, FT_MALLOC_STATS; then the trace is flushed.</summary>
    public static void AtExit()
    {
        int fd = Settings.OutputFd;
        int show = Settings.ShowMode;
        PageMemory.BeginForeignReads(); // other threads may still run at exit
        if (show == Settings.ShowPlain) AllocationReport.Print(null, fd);
        else if (show == Settings.ShowEx) AllocationReportEx.Print(null, fd, Settings.ShowDumpBytes);
        if (Settings.LeaksAtExit) LeakReport.Write(null, fd);
        PageMemory.EndForeignReads();
        byte* snapshot = Settings.SnapshotPath;
        if (snapshot != null) WriteSnapshot(snapshot);
        if (Settings.StatsAtExit)
        {
            LockTotals();
            if (Settings.StatsMode == 2) StatsReport.Write(Totals(), fd);
            StatsLine.Write(Totals(), fd);
            s_totalsLock.Exit();
        }
        Trace.Flush();
    }

    /// <summary>malloc_stats(): the human report on stderr, as glibc's goes to stderr.</summary>
    public static void MallocStats()
    {
        LockTotals();
        StatsReport.Write(Totals(), 2);
        s_totalsLock.Exit();
    }

    public static int MallocInfo(int options, void* stream)
    {
        LockTotals();
        PageMemory.BeginForeignReads();
        int result = GlibcIntrospection.MallocInfo(options, stream, Totals());
        PageMemory.EndForeignReads();
        s_totalsLock.Exit();
        return result;
    }

    public static int WriteSnapshot(byte* path)
    {
        LockTotals();
        PageMemory.BeginForeignReads();
        int result = Snapshot.Write(null, Totals(), path);
        PageMemory.EndForeignReads();
        s_totalsLock.Exit();
        return result;
    }

    /// <summary>malloc_trim(pad): the calling thread's heap (only its owner may change it). 1 if memory went back.</summary>
    public static int Trim(nuint pad)
    {
        Heap* heap = ThreadHeap.Current;
        return heap != null && Heap.Trim(heap, pad) ? 1 : 0;
    }

    private static void LockTotals()
    {
        ThreadHeap.EnsureForkHooks(); // a report: the registry's lock must be held across fork
        s_totalsLock.Enter();
        HeapCounters* total = Totals();
        total->Clear();
        HeapRegistry.SumCounters(total);
        total->AddAll(ref *ProcessCounters.Heapless);
    }

    private static HeapCounters* Totals() => (HeapCounters*)Unsafe.AsPointer(ref Storage.Totals);
}
