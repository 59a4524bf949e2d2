// The heap lock: one word, taken with a compare-and-swap. Under contention it spins a
// little, then yields the processor so that 16 threads on 2 cores do not collapse.
// Not reentrant. The fork handlers take it before fork and reset it in the child.
using System.Runtime.CompilerServices;
using System.Threading;

namespace FtMalloc.Core.Memory;

internal struct SpinLock
{
    private int _taken; // 0 free, 1 held

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        if (Interlocked.CompareExchange(ref _taken, 1, 0) != 0) EnterContended();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit() => Volatile.Write(ref _taken, 0);

    /// <summary>Only for the child after fork: the threads that held locks are gone.</summary>
    public void Reset() => _taken = 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        int spins = 0;
        while (true)
        {
            if (Volatile.Read(ref _taken) == 0 && Interlocked.CompareExchange(ref _taken, 1, 0) == 0) return;
            if (++spins < 64)
            {
                if (System.Runtime.Intrinsics.X86.X86Base.IsSupported) System.Runtime.Intrinsics.X86.X86Base.Pause();
            }
            else
            {
                Os.Libc.sched_yield();
            }
        }
    }
}
