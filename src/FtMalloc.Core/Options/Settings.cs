// The table of environment settings, read once at start-up with getenv (which never
// allocates). A malformed value prints one warning line and keeps the default.
//
// | name             | default | meaning                                                       |
// |------------------|---------|---------------------------------------------------------------|
// | FT_MALLOC_CHECK  | 3       | misuse (bad or double free): 3 print+abort, 2 abort, 1 print   |
// |                  |         | and ignore the call, 0 ignore silently                        |
// | FT_MALLOC_STATS  | 0       | 1: write the statistics line at exit                           |
// | FT_MALLOC_OUTPUT | stderr  | path: append every report to this file instead of stderr      |
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.Options;

internal static unsafe class Settings
{
    // No field initializers: a static constructor would need the .NET runtime.
    private static int s_checkModePlusOne;   // 0 until set
    private static int s_outputFile;         // 0 until FT_MALLOC_OUTPUT opened a file

    /// <summary>0..3, as glibc's MALLOC_CHECK_; 3 until set.</summary>
    public static int CheckMode
    {
        get => s_checkModePlusOne == 0 ? 3 : s_checkModePlusOne - 1;
        set => s_checkModePlusOne = value + 1;
    }

    public static bool StatsAtExit;

    /// <summary>File descriptor of every report; 2 (stderr) unless FT_MALLOC_OUTPUT names a file.</summary>
    public static int OutputFd => s_outputFile > 0 ? s_outputFile : 2;

    public static void Load()
    {
        CheckMode = ReadInteger("FT_MALLOC_CHECK\0"u8, 3, 0, 3);
        StatsAtExit = ReadInteger("FT_MALLOC_STATS\0"u8, 0, 0, 1) == 1;
        fixed (byte* name = "FT_MALLOC_OUTPUT\0"u8)
        {
            byte* path = Libc.getenv(name);
            if (path != null && *path != 0)
            {
                int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
                if (fd > 0) s_outputFile = fd;
                if (fd < 0) Warn(name, path);
            }
        }
        // Programs may close stderr before our exit handler runs (coreutils' close_stdout
        // does): the exit report keeps a private copy of it, above the usual descriptors.
        if (StatsAtExit && s_outputFile == 0)
        {
            int copy = Libc.fcntl(2, Libc.F_DUPFD_CLOEXEC, 200);
            if (copy > 0) s_outputFile = copy;
        }
    }

    private static int ReadInteger(System.ReadOnlySpan<byte> nameZ, int fallback, int min, int max)
    {
        fixed (byte* name = nameZ)
        {
            byte* text = Libc.getenv(name);
            if (text == null) return fallback;
            int value = 0;
            byte* c = text;
            for (; *c >= '0' && *c <= '9' && value <= max; c++) value = value * 10 + (*c - '0');
            if (c == text || *c != 0 || value < min || value > max)
            {
                Warn(name, text);
                return fallback;
            }
            return value;
        }
    }

    private static void Warn(byte* name, byte* value)
    {
        var sink = new OutputSink(2);
        sink.Append("ft_malloc: ignoring "u8);
        sink.AppendCString(name);
        sink.Append("='"u8);
        sink.AppendCString(value);
        sink.Append("': not a valid value, keeping the default\n"u8);
        sink.Flush();
    }
}
