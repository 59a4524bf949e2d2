// mallopt(param, value), glibc's tuning call. FtMalloc accepts the two parameters it has
// a meaning for and returns 1; every other parameter (or a value out of range) changes
// nothing and returns 0, as glibc does for what it does not know:
//   M_CHECK_ACTION (-5)  0..3: FT_MALLOC_CHECK's mode (glibc's MALLOC_CHECK_ values mean the same)
//   M_PERTURB      (-6)  the perturb byte (value & 0xFF; 0 turns it off), as MALLOC_PERTURB_
// Not supported (0): M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX,
// M_ARENA_TEST, M_ARENA_MAX: zones, thresholds and per-thread heaps are fixed by design.
using FtMalloc.Core.Memory;
using FtMalloc.Core.Options;

namespace FtMalloc.Core.CSemantics;

internal static class Mallopt
{
    public const int M_CHECK_ACTION = -5;
    public const int M_PERTURB = -6;

    public static int Set(int parameter, int value)
    {
        switch (parameter)
        {
            case M_CHECK_ACTION when value >= 0 && value <= 3:
                Settings.CheckMode = value;
                return 1;
            case M_PERTURB:
                Heap.PerturbByte = value;
                Instrumented.Update();
                return 1;
            default:
                return 0;
        }
    }
}
