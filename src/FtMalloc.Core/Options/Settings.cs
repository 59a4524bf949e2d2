// The table of environment settings, read once at start-up with getenv (which never
// allocates), unless no variable of the environment starts with one of the table's
// prefixes (MayHoldSetting). Every variable the library reads is a row of Describe; the
// README's settings table is this table (a test compares them). A malformed value prints one
// warning line on stderr and keeps the default:
//
//   ft_malloc: ignoring FT_MALLOC_STATS='yes' (expected 0, 1 or 2), keeping the default 0
//
// | name                | default | meaning                                                   |
// |---------------------|---------|-----------------------------------------------------------|
// | FT_MALLOC_CHECK     | 3       | misuse: 3 print+abort, 2 abort, 1 print and ignore, 0 ignore |
// | FT_MALLOC_STATS     | 0       | 1 the stats line at exit; 2 the human report, then the line |
// | FT_MALLOC_SHOW      | 0       | 1 show_alloc_mem at exit; ex show_alloc_mem_ex at exit     |
// | FT_MALLOC_SHOW_DUMP | 16      | bytes of each allocated block show_alloc_mem_ex dumps      |
// | FT_MALLOC_LEAKS     | 0       | 1 at exit, every block still allocated and the totals     |
// | FT_MALLOC_PERTURB   | 0       | N: new blocks filled with ~N, freed blocks with N (0 off)  |
// | MALLOC_PERTURB_     | 0       | glibc's name for the same, used if FT_MALLOC_PERTURB is unset |
// | FT_MALLOC_TRACE     |         | path: append one record per call                          |
// | FT_MALLOC_SNAPSHOT  |         | path (%p: the pid): JSON of every zone and block at exit   |
// | FT_MALLOC_OUTPUT    | stderr  | path: the exit reports are appended there instead         |
//
// Values live in static storage that starts zeroed (no field initializers: a static
// constructor would need the .NET runtime), so each is stored as value + 1 and 0 reads as
// the default: code that runs before Load, and the in-process tests, see the defaults.
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.Options;

internal enum Setting
{
    Check,
    Stats,
    Show,
    ShowDump,
    Leaks,
    Perturb,
    GlibcPerturb,
    Trace,
    Snapshot,
    Output,
    Count,
}

internal enum SettingKind
{
    /// <summary>A decimal integer in [Min, Max].</summary>
    Integer,
    /// <summary>0, 1 or "ex" (read as 2).</summary>
    Show,
    /// <summary>A file path; empty means unset.</summary>
    Path,
}

/// <summary>One row of the settings table.</summary>
internal readonly ref struct SettingInfo
{
    /// <summary>The variable's name, NUL-terminated (for getenv).</summary>
    public readonly System.ReadOnlySpan<byte> NameZ;
    public readonly SettingKind Kind;
    public readonly int Min;
    public readonly int Max;
    public readonly int Default;
    /// <summary>The default as the README shows it.</summary>
    public readonly System.ReadOnlySpan<byte> DefaultText;
    /// <summary>What a valid value looks like (in the warning).</summary>
    public readonly System.ReadOnlySpan<byte> Expected;
    public readonly System.ReadOnlySpan<byte> Meaning;

    public SettingInfo(System.ReadOnlySpan<byte> nameZ, SettingKind kind, int min, int max, int defaultValue,
                       System.ReadOnlySpan<byte> defaultText, System.ReadOnlySpan<byte> expected, System.ReadOnlySpan<byte> meaning)
    {
        NameZ = nameZ;
        Kind = kind;
        Min = min;
        Max = max;
        Default = defaultValue;
        DefaultText = defaultText;
        Expected = expected;
        Meaning = meaning;
    }

    /// <summary>The name without its NUL (managed callers only: Slice may throw).</summary>
    public System.ReadOnlySpan<byte> Name => NameZ.Slice(0, NameZ.Length - 1);
}

internal static unsafe class Settings
{
    public const int ShowOff = 0, ShowPlain = 1, ShowEx = 2;
    public const int PathCapacity = 4096;
    /// <summary>Report files are moved to a descriptor at least this high.</summary>
    public const int HighDescriptor = 200;

    /// <summary>The table.</summary>
    public static SettingInfo Describe(Setting setting) => setting switch
    {
        Setting.Check => new("FT_MALLOC_CHECK\0"u8, SettingKind.Integer, 0, 3, 3, "3"u8, "0, 1, 2 or 3"u8,
            "what a bad `free`/`realloc` (pointer never returned, interior pointer, double free) does: `3` prints one line naming the function, pointer and problem, then aborts; `2` aborts silently; `1` prints and carries on (the bad call is ignored; `realloc` returns NULL); `0` ignores it"u8),
        Setting.Stats => new("FT_MALLOC_STATS\0"u8, SettingKind.Integer, 0, 2, 0, "0"u8, "0, 1 or 2"u8,
            "`1`: at exit, one line with every counter (`ft_malloc: stats pid=… mallocs=… frees=… peak_bytes=… zones_tiny=…`); `2`: the human report (what `malloc_stats()` prints), then that line"u8),
        Setting.Show => new("FT_MALLOC_SHOW\0"u8, SettingKind.Show, 0, 2, 0, "0"u8, "0, 1 or ex"u8,
            "`1`: `show_alloc_mem()` at exit; `ex`: `show_alloc_mem_ex()` at exit"u8),
        Setting.ShowDump => new("FT_MALLOC_SHOW_DUMP\0"u8, SettingKind.Integer, 0, 65536, 16, "16"u8, "0 to 65536"u8,
            "bytes of each allocated block that `show_alloc_mem_ex()` dumps in hex (16 a line)"u8),
        Setting.Leaks => new("FT_MALLOC_LEAKS\0"u8, SettingKind.Integer, 0, 1, 0, "0"u8, "0 or 1"u8,
            "`1`: at exit, every block still allocated (address, size, category), then the totals"u8),
        Setting.Perturb => new("FT_MALLOC_PERTURB\0"u8, SettingKind.Integer, 0, 255, 0, "0"u8, "0 to 255"u8,
            "`N` (1–255): every new block is filled with the byte `N ^ 0xFF` (not `calloc`'s, which stay zero), every freed block with `N`, as glibc's `MALLOC_PERTURB_`; `0`: off"u8),
        Setting.GlibcPerturb => new("MALLOC_PERTURB_\0"u8, SettingKind.Integer, 0, 255, 0, "0"u8, "0 to 255"u8,
            "glibc's name for `FT_MALLOC_PERTURB`, honoured when that is not set"u8),
        Setting.Trace => new("FT_MALLOC_TRACE\0"u8, SettingKind.Path, 0, 0, 0, "none"u8, "a writable file path"u8,
            "a path: append one record per allocator call (process, thread, operation, arguments, result) to this file; `ftmalloc replay` re-runs it"u8),
        Setting.Snapshot => new("FT_MALLOC_SNAPSHOT\0"u8, SettingKind.Path, 0, 0, 0, "none"u8, "a writable file path"u8,
            "a path (`%p` becomes the process id): at exit, write a JSON description of every zone and block there"u8),
        _ => new("FT_MALLOC_OUTPUT\0"u8, SettingKind.Path, 0, 0, 0, "stderr"u8, "a writable file path"u8,
            "a path: the exit reports (statistics, leaks, `FT_MALLOC_SHOW`) are appended to this file instead of stderr; misuse lines and `malloc_stats()` stay on stderr"u8),
    };

    private struct Values
    {
        public fixed int Raw[(int)Setting.Count]; // value + 1; 0: the default
    }

    private struct PathBuffer
    {
        public fixed byte Bytes[PathCapacity];
    }

    private static Values s_values;          // a Path setting's value is 1 once its buffer holds a path
    private static int s_outputFile;         // 0 until FT_MALLOC_OUTPUT (or the stderr copy) is open

    /// <summary>
    /// The two path buffers (PathBuffer each, FT_MALLOC_TRACE's then FT_MALLOC_SNAPSHOT's),
    /// mapped when the first path is loaded: as statics, their 8 KiB would sit between the
    /// statics that every process writes at start-up and spread those over more pages
    /// (each one a minor fault). Never read unless the setting's value says a path is there.
    /// </summary>
    private static PathBuffer* s_paths;

    public static int Get(Setting setting)
    {
        int raw = s_values.Raw[(int)setting];
        return raw == 0 ? Describe(setting).Default : raw - 1;
    }

    public static void Set(Setting setting, int value) => s_values.Raw[(int)setting] = value + 1;

    /// <summary>0..3, as glibc's MALLOC_CHECK_; 3 until set.</summary>
    public static int CheckMode
    {
        get => Get(Setting.Check);
        set => Set(Setting.Check, value);
    }

    public static int StatsMode => Get(Setting.Stats);
    public static bool StatsAtExit => StatsMode != 0;
    public static int ShowMode => Get(Setting.Show);
    public static int ShowDumpBytes => Get(Setting.ShowDump);
    public static bool LeaksAtExit => Get(Setting.Leaks) != 0;

    /// <summary>The perturb byte (0: off): FT_MALLOC_PERTURB, else MALLOC_PERTURB_.</summary>
    public static int PerturbByte => Get(Setting.Perturb) != 0 ? Get(Setting.Perturb) : Get(Setting.GlibcPerturb);

    /// <summary>FT_MALLOC_TRACE as given, NUL-terminated, or null.</summary>
    public static byte* TracePath => Get(Setting.Trace) != 0 ? (byte*)&s_paths[0] : null;

    /// <summary>FT_MALLOC_SNAPSHOT as given (%p not yet expanded), NUL-terminated, or null.</summary>
    public static byte* SnapshotPath => Get(Setting.Snapshot) != 0 ? (byte*)&s_paths[1] : null;

    /// <summary>True when something is to be written at exit.</summary>
    public static bool ReportAtExit => StatsAtExit || ShowMode != ShowOff || LeaksAtExit || SnapshotPath != null;

    /// <summary>File descriptor of every report; 2 (stderr) unless FT_MALLOC_OUTPUT names a file.</summary>
    public static int OutputFd => s_outputFile > 0 ? s_outputFile : 2;

    /// <summary>
    /// Reads every setting of the table from the environment. <paramref name="environment"/>,
    /// when the caller has it (ld.so passes it to the library's initializer), is scanned
    /// first for a variable that could be one of ours: without one, every setting keeps its
    /// default, the table (read-only data of its own) is not read, and Load returns false
    /// (the caller then need not read the settings back: they are all defaults).
    /// </summary>
    public static bool Load(byte** environment)
    {
        if (environment != null && !MayHoldSetting(environment)) return false;
        for (Setting s = 0; s < Setting.Count; s++)
        {
            SettingInfo info = Describe(s);
            fixed (byte* name = info.NameZ)
            {
                byte* text = Libc.getenv(name);
                if (text == null) continue;
                if (info.Kind == SettingKind.Path)
                {
                    LoadPath(s, name, text);
                    continue;
                }
                if (TryParse(info, text, out int value)) Set(s, value);
                else Warn(s, text);
            }
        }
        // Programs may close stderr before our exit handler runs (coreutils' close_stdout
        // does): the exit reports keep a private copy of it, above the usual descriptors.
        if (ReportAtExit && s_outputFile == 0)
        {
            int copy = Libc.fcntl(2, Libc.F_DUPFD_CLOEXEC, HighDescriptor);
            if (copy > 0) s_outputFile = copy;
        }
        return true;
    }

    /// <summary>
    /// True if some entry of <paramref name="environment"/> starts with FT_MALLOC_ or
    /// MALLOC_PERTURB_ (the prefixes of every name in the table; a test keeps them so).
    /// The prefixes are compared as 8-byte immediates, so the scan reads no data of the library.
    /// </summary>
    public static bool MayHoldSetting(byte** environment)
    {
        const ulong FtMallo = 0x4F4C4C414D5F5446; // "FT_MALLO", little-endian
        const ulong MallocP = 0x505F434F4C4C414D; // "MALLOC_P"
        for (byte** entry = environment; *entry != null; entry++)
        {
            byte* e = *entry;
            if (e[0] != (byte)'F' && e[0] != (byte)'M') continue;
            nuint n = 0;
            while (n < 8 && e[n] != 0) n++;
            if (n < 8) continue;
            ulong head = *(ulong*)e; // 8 readable bytes: none of them is the terminator
            if (head == FtMallo || head == MallocP) return true;
        }
        return false;
    }

    /// <summary>Parses a value of an Integer or Show setting; false if it is malformed or out of range.</summary>
    public static bool TryParse(SettingInfo info, byte* text, out int value)
    {
        value = 0;
        if (info.Kind == SettingKind.Show && text[0] == 'e' && text[1] == 'x' && text[2] == 0)
        {
            value = ShowEx;
            return true;
        }
        long v = 0;
        byte* c = text;
        for (; *c >= '0' && *c <= '9' && v <= info.Max; c++) v = v * 10 + (*c - '0');
        if (c == text || *c != 0 || v < info.Min || v > info.Max) return false;
        value = (int)v;
        return true;
    }

    private static void LoadPath(Setting setting, byte* name, byte* path)
    {
        if (*path == 0) return; // empty: unset
        nuint length = 0;
        while (path[length] != 0) length++;
        if (length >= PathCapacity)
        {
            Warn(setting, path);
            return;
        }
        if (setting == Setting.Output)
        {
            int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
            if (fd < 0)
            {
                Warn(setting, path);
                return;
            }
            // Above the descriptors programs dup2 onto (shells use 3 to 9).
            int high = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, HighDescriptor);
            if (high > 0)
            {
                Libc.close(fd);
                fd = high;
            }
            if (fd > 0) s_outputFile = fd;
            return;
        }
        if (s_paths == null)
        {
            s_paths = (PathBuffer*)PageMemory.Map(PageMemory.RoundUpToPages(2 * (nuint)sizeof(PathBuffer)), PageMemory.PageSize);
            if (s_paths == null)
            {
                Warn(setting, path);
                return;
            }
        }
        byte* target = (byte*)&s_paths[setting == Setting.Trace ? 0 : 1];
        Libc.memcpy(target, path, length + 1);
        Set(setting, 1);
    }

    /// <summary>The one warning line for a malformed value (or a path that cannot be opened).</summary>
    public static void Warn(Setting setting, byte* value)
    {
        SettingInfo info = Describe(setting);
        var sink = new OutputSink(2);
        sink.Append("ft_malloc: ignoring "u8);
        foreach (byte b in info.NameZ)
            if (b != 0) sink.AppendByte(b);
        sink.Append("='"u8);
        sink.AppendCString(value);
        sink.Append("' (expected "u8);
        sink.Append(info.Expected);
        sink.Append("), keeping the default "u8);
        sink.Append(info.DefaultText);
        sink.Append("\n"u8);
        sink.Flush();
    }
}
