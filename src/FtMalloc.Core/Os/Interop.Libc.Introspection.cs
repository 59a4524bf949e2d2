// The libc calls the introspection features need (reports to files, the trace, the
// snapshot, malloc_trim's residency check). Same contract as Interop.Libc.cs: direct
// calls, no GC transition, and none of them calls malloc.
using System.Runtime.InteropServices;

namespace FtMalloc.Core.Os;

internal static unsafe partial class Libc
{
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int O_RDONLY = 0x0;
    public const int O_TRUNC = 0x200;

    /// <summary>One byte per page of [addr, addr + length): bit 0 set when the page is resident.</summary>
    [DllImport(Lib), SuppressGCTransition]
    public static extern int mincore(void* addr, nuint length, byte* vector);

    /// <summary>The kernel's id of the calling thread (glibc 2.30+; a system call each time).</summary>
    [DllImport(Lib), SuppressGCTransition]
    public static extern int gettid();

    /// <summary>The descriptor of a stdio stream, or -1 (EBADF) if it has none (memory and cookie streams). Takes no lock, allocates nothing.</summary>
    [DllImport(Lib), SuppressGCTransition]
    public static extern int fileno(void* stream);
}
