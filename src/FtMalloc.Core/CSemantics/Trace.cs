// FT_MALLOC_TRACE=path: one text record per call of the C ABI, appended to a file, so a
// program's allocations can be studied or replayed against any allocator
// (src/FtMalloc.Cli/Replay: `ftmalloc replay TRACE`, or the replay program under any
// LD_PRELOAD). A record is one line: process id, thread id (gettid), operation,
// arguments, result; sizes in decimal, pointers in hex (0x0 for NULL):
//
//   # ft_malloc trace 1 pid=4242                        (once per process image)
//   4242 4242 malloc 24 0x7F3A5C2A0250
//   4242 4242 calloc 4 8 0x7F3A5C2A0270
//   4242 4242 realloc 0x7F3A5C2A0250 100 0x7F3A5C2A0290
//   4242 4243 free 0x7F3A5C2A0290
//   4242 4242 posix_memalign 64 100 0x7F3A5C2A0300 0  (the pointer stored, the return value)
//   4242 4242 aligned_alloc 64 100 0x7F3A5C2A0380     (also memalign ALIGN SIZE, valloc SIZE, pvalloc SIZE)
//   4242 4242 reallocarray 0x0 10 8 0x7F3A5C2A0400
//   4242 4242 malloc_usable_size 0x7F3A5C2A0400 88
//   4242 4242 free_sized 0x7F3A5C2A0400 80             (free_aligned_sized PTR ALIGN SIZE)
// cfree is recorded as free, glibc's __libc_* aliases by their base names.
//
// Records go to a 64 KiB buffer (mapped once, not malloc'd), written with write(2) when it is
// nearly full, at exit, and before fork (so that the child does not inherit records it
// would write a second time; the child goes on tracing into the same file with its own
// pid). Records of the calls after the exit report, and of a process that execs or dies
// of a signal, since the last flush are lost.
//
// Order: a lock is held across the whole call and its record (Instrumented.cs: Enter, the
// call, Begin, the arguments, End), so the file's order is an order the calls really
// happened in: no record of a malloc that reused an address can come before the record
// of the free that released it. Tracing thus serialises the allocator; it is a debugging
// tool. Recording keeps errno as the call left it.
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.CSemantics;

internal static unsafe class Trace
{
    private const int Capacity = 64 * 1024;
    private const int MaxRecordBytes = 256;
    /// <summary>The trace file is moved to a descriptor at least this high: programs dup2 onto low ones.</summary>
    private const int HighDescriptor = 200;

    // Mapped when tracing starts (64 KiB in .bss would sit between the statics every
    // process touches at load and cost it page faults for nothing).
    private static byte* s_buffer;
    private static int s_length;
    private static int s_fd;     // > 0 when tracing
    private static ulong s_pid;
    private static SpinLock s_lock;

    public static bool IsOn => s_fd > 0;

    /// <summary>Opens the trace file (append) and writes the header; false if it cannot be opened.</summary>
    public static bool Open(byte* path)
    {
        int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0) return false;
        if (s_buffer == null) s_buffer = (byte*)PageMemory.Map(Capacity, PageMemory.PageSize);
        if (s_buffer == null)
        {
            Libc.close(fd);
            return false;
        }
        int high = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, HighDescriptor);
        if (high > 0)
        {
            Libc.close(fd);
            fd = high;
        }
        s_pid = (ulong)Libc.getpid();
        s_length = 0;
        Append("# ft_malloc trace 1 pid="u8);
        Decimal(s_pid, leadingSpace: false);
        Append("\n"u8);
        s_fd = fd;
        return true;
    }

    // ---- process hooks -------------------------------------------------------------------

    /// <summary>Writes the buffered records (at exit; also safe at any time).</summary>
    public static void Flush()
    {
        if (!IsOn) return;
        s_lock.Enter();
        WriteBuffer();
        s_lock.Exit();
    }

    /// <summary>Before fork: no call is half-recorded, and the buffer is empty.</summary>
    public static void BeforeFork()
    {
        if (!IsOn) return;
        s_lock.Enter();
        WriteBuffer();
    }

    public static void AfterForkInParent()
    {
        if (IsOn) s_lock.Exit();
    }

    public static void AfterForkInChild()
    {
        if (!IsOn) return;
        s_pid = (ulong)Libc.getpid();
        s_lock.Reset();
    }

    // ---- recording a call (Instrumented.cs) --------------------------------------------------

    /// <summary>Before the call: takes the lock if tracing. Returns whether the call is to be recorded.</summary>
    public static bool Enter()
    {
        if (!IsOn) return false;
        s_lock.Enter();
        return true;
    }

    // ---- records (the lock is held) ----------------------------------------------------------

    /// <summary>After the call: starts its record. Returns the errno the call left, which End restores.</summary>
    public static int Begin(System.ReadOnlySpan<byte> operation)
    {
        int savedErrno = Libc.Errno;
        if (s_length > Capacity - MaxRecordBytes) WriteBuffer();
        Decimal(s_pid, leadingSpace: false);
        Decimal((ulong)Libc.gettid());
        Append(" "u8);
        Append(operation);
        return savedErrno;
    }

    /// <summary>Ends the record, releases the lock, restores errno.</summary>
    public static void End(int savedErrno)
    {
        Append("\n"u8);
        s_lock.Exit();
        Libc.Errno = savedErrno;
    }

    private static void Append(System.ReadOnlySpan<byte> text)
    {
        foreach (byte b in text) s_buffer[s_length++] = b;
    }

    public static void Decimal(ulong value, bool leadingSpace = true)
    {
        if (leadingSpace) s_buffer[s_length++] = (byte)' ';
        byte* digits = stackalloc byte[20];
        int n = 0;
        do
        {
            digits[n++] = (byte)('0' + value % 10);
            value /= 10;
        } while (value != 0);
        while (n > 0) s_buffer[s_length++] = digits[--n];
    }

    public static void Pointer(void* pointer)
    {
        Append(" 0x"u8);
        nuint value = (nuint)pointer;
        int shift = 60;
        while (shift > 0 && (value >> shift) == 0) shift -= 4;
        for (; shift >= 0; shift -= 4)
        {
            int digit = (int)((value >> shift) & 15);
            s_buffer[s_length++] = (byte)(digit < 10 ? '0' + digit : 'A' + digit - 10);
        }
    }

    private static void WriteBuffer()
    {
        byte* start = s_buffer;
        int written = 0;
        int savedErrno = Libc.Errno;
        while (written < s_length)
        {
            nint n = Libc.write(s_fd, start + written, (nuint)(s_length - written));
            if (n < 0 && Libc.Errno == Libc.EINTR) continue;
            if (n <= 0) break; // the file is gone: drop the records rather than block the program
            written += (int)n;
        }
        s_length = 0;
        Libc.Errno = savedErrno;
    }
}
