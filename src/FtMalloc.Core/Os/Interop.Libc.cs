// The only door to the kernel and libc. Every call here is a direct call into libc
// (DirectPInvoke in the native build) with no GC transition, so it never needs the
// .NET runtime. Contract for callers: none of these functions calls malloc, so they
// are safe inside the allocator, with its locks held. Anything that may allocate
// (pthread_atfork, atexit) lives in the native layer and is called outside every lock.
using System.Runtime.InteropServices;

namespace FtMalloc.Core.Os;

internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int PROT_NONE = 0;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000;
    /// <summary>Linux 4.17+: map exactly there, but fail (EEXIST) rather than replace a mapping; older kernels take the address as a hint.</summary>
    public const int MAP_FIXED_NOREPLACE = 0x100000;
    public const int MADV_DONTNEED = 4;
    /// <summary>Linux 5.14+: fault the pages in, writable, now (older kernels: EINVAL, nothing done).</summary>
    public const int MADV_POPULATE_WRITE = 23;
    public const int MREMAP_MAYMOVE = 1;
    public const int MREMAP_FIXED = 2;
    public const int MREMAP_DONTUNMAP = 4;
    public const int CLOCK_MONOTONIC_COARSE = 6;
    public const int ENOMEM = 12;
    public const int EINVAL = 22;
    public const int O_WRONLY = 0x1;
    public const int O_CREAT = 0x40;
    public const int O_APPEND = 0x400;
    public const int O_CLOEXEC = 0x80000;
    public static void* MAP_FAILED => (void*)(nint)(-1);

    [DllImport(Lib), SuppressGCTransition]
    public static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport(Lib), SuppressGCTransition]
    public static extern int munmap(void* addr, nuint length);

    /// <summary>
    /// Moves or resizes a mapping; its resident pages move with it (page tables, no copy, no
    /// fault). Declared with the new address as a fixed fifth argument: the C function is
    /// variadic, which on x86-64 passes it in the same register.
    /// </summary>
    [DllImport(Lib), SuppressGCTransition]
    public static extern void* mremap(void* oldAddress, nuint oldSize, nuint newSize, int flags, void* newAddress);

    /// <summary>struct timespec.</summary>
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>A clock read through the vDSO: no system call for the coarse clocks.</summary>
    [DllImport(Lib), SuppressGCTransition]
    public static extern int clock_gettime(int clock, Timespec* time);

    [DllImport(Lib), SuppressGCTransition]
    public static extern int madvise(void* addr, nuint length, int advice);

    [DllImport(Lib), SuppressGCTransition]
    public static extern nint write(int fd, byte* buffer, nuint count);

    [DllImport(Lib), SuppressGCTransition]
    public static extern int open(byte* path, int flags, int mode);

    [DllImport(Lib), SuppressGCTransition]
    public static extern int close(int fd);

    public const int F_DUPFD_CLOEXEC = 1030;

    [DllImport(Lib), SuppressGCTransition]
    public static extern int fcntl(int fd, int command, int argument);

    [DllImport(Lib), SuppressGCTransition]
    public static extern void abort();

    // getpagesize, not sysconf(_SC_PAGESIZE): it returns the loader's copy of AT_PAGESZ in
    // two instructions, where sysconf's dispatch touches a page of code and one of jump
    // table that no program otherwise needs at start-up (two minor faults in every process).
    [DllImport(Lib), SuppressGCTransition]
    public static extern int getpagesize();

    [DllImport(Lib), SuppressGCTransition]
    public static extern byte* getenv(byte* name);

    [DllImport(Lib), SuppressGCTransition]
    public static extern int* __errno_location();

    [DllImport(Lib), SuppressGCTransition]
    public static extern int sched_yield();

    [DllImport(Lib), SuppressGCTransition]
    public static extern int getpid();

    [DllImport(Lib), SuppressGCTransition]
    public static extern void* memset(void* destination, int value, nuint count);

    [DllImport(Lib), SuppressGCTransition]
    public static extern void* memcpy(void* destination, void* source, nuint count);

    public static int Errno
    {
        get => *__errno_location();
        set => *__errno_location() = value;
    }
}
