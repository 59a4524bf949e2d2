// The managed face of FtMalloc: a first-class heap of native memory that .NET code can
// create, allocate from, inspect and dispose, backed by the same core as libft_malloc.so.
using System;
using System.Collections.Generic;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Introspection;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Stats;
using QuickBins = FtMalloc.Core.Memory.QuickBins;
using CoreCategory = FtMalloc.Core.SizeClasses.Category;

namespace FtMalloc;

/// <summary>The size category of a zone: TINY and SMALL zones hold many blocks, a LARGE zone one.</summary>
public enum ZoneCategory
{
    Tiny = 0,
    Small = 1,
    Large = 2,
}

/// <summary>One block of a zone, as seen by <see cref="NativeHeap.Walk"/>.</summary>
/// <param name="Address">The payload address (what Allocate returned for it).</param>
/// <param name="BlockBytes">Bytes the block occupies, header included (LARGE: the usable bytes).</param>
/// <param name="RequestedBytes">Bytes the caller asked for; 0 for a free block.</param>
/// <param name="IsFree">True if the block is free (on a free list).</param>
/// <param name="IsCached">True if the block was freed into a quick bin or the small cache: not allocated, not yet merged.</param>
public readonly record struct BlockInfo(nuint Address, nuint BlockBytes, nuint RequestedBytes, bool IsFree, bool IsCached = false);

/// <summary>One zone of a heap, with its blocks in address order.</summary>
public sealed record ZoneInfo(nuint Address, ZoneCategory Category, nuint MappedBytes, IReadOnlyList<BlockInfo> Blocks);

/// <summary>A pointer handed to a heap that the heap did not hand out (or already took back).</summary>
public sealed class InvalidPointerException(string message) : InvalidOperationException(message);

/// <summary>
/// A heap of native memory with FtMalloc's design: TINY and SMALL blocks in zones, LARGE
/// blocks in mappings of their own. Every pointer is 16-byte aligned. Thread-safe for
/// allocation and freeing; <see cref="Dispose"/> must not race with other calls.
/// Disposing unmaps every zone: the heap's blocks are gone with it.
/// </summary>
public sealed unsafe class NativeHeap : IDisposable
{
    private Heap* _heap;
    // The core's heaps are single-owner: this lock makes the managed heap thread-safe.
    private readonly object _gate = new();

    /// <summary>Blocks per quick bin of a new heap unless said otherwise: the same as the C library's heap.</summary>
    public const int DefaultQuickBinLimit = (int)QuickBins.DefaultLimit;

    /// <summary>Creates an empty heap (two pages of bookkeeping; zones are mapped on demand).</summary>
    /// <param name="quickBinLimit">
    /// How many freed TINY blocks of each size the heap keeps for immediate reuse before it
    /// frees (and merges) them for real; 0 makes every free merge at once.
    /// </param>
    /// <exception cref="OutOfMemoryException">The system refused the mapping.</exception>
    public NativeHeap(int quickBinLimit = DefaultQuickBinLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(quickBinLimit);
        _heap = Heap.Create(HeapKind.Standalone, (uint)quickBinLimit);
        if (_heap == null) throw new OutOfMemoryException("ft_malloc: could not map a heap");
    }

    internal Heap* Handle => _heap != null ? _heap : throw new ObjectDisposedException(nameof(NativeHeap));

    /// <summary>
    /// Allocates <paramref name="size"/> bytes, 16-byte aligned. Size 0 gives a unique
    /// pointer that <see cref="Free"/> accepts. Returns null when the size is impossible
    /// (over PTRDIFF_MAX) or memory is exhausted, as malloc does.
    /// </summary>
    public void* Allocate(nuint size)
    {
        lock (_gate) return CAllocator.Malloc(Handle, size);
    }

    /// <summary>Allocates <paramref name="count"/> × <paramref name="size"/> zeroed bytes; null if the product overflows or memory is exhausted.</summary>
    public void* AllocateZeroed(nuint count, nuint size)
    {
        lock (_gate) return CAllocator.Calloc(Handle, count, size);
    }

    /// <summary>
    /// Allocates <paramref name="size"/> bytes aligned to <paramref name="alignment"/>, which
    /// must be a power of two (any size: LARGE blocks are aligned as asked).
    /// </summary>
    /// <exception cref="ArgumentException">The alignment is not a power of two.</exception>
    public void* AllocateAligned(nuint size, nuint alignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentException($"alignment {alignment} is not a power of two", nameof(alignment));
        lock (_gate) return CAllocator.AlignedAlloc(Handle, alignment, size);
    }

    /// <summary>
    /// Resizes a block as realloc does, keeping its contents: in place when it can, else
    /// moved. Null <paramref name="pointer"/> allocates; size 0 frees and returns null.
    /// Returns null when memory is exhausted, leaving the old block intact.
    /// </summary>
    /// <exception cref="InvalidPointerException">The pointer is not a live block of this heap.</exception>
    public void* Reallocate(void* pointer, nuint size)
    {
        if (pointer == null) return Allocate(size);
        if (size == 0)
        {
            Free(pointer);
            return null;
        }
        PointerStatus status;
        byte* result;
        lock (_gate) status = Heap.Reallocate(Handle, pointer, size, out result);
        ThrowIfInvalid(status, "Reallocate", pointer);
        return result;
    }

    /// <summary>Gives a block back. Null does nothing.</summary>
    /// <exception cref="InvalidPointerException">Not a live block of this heap (double free, interior or foreign pointer); nothing was changed.</exception>
    public void Free(void* pointer)
    {
        if (pointer == null) return;
        PointerStatus status;
        lock (_gate) status = Heap.Free(Handle, pointer);
        ThrowIfInvalid(status, "Free", pointer);
    }

    /// <summary>Bytes usable at <paramref name="pointer"/>: at least what was asked for.</summary>
    public nuint UsableSize(void* pointer)
    {
        PointerStatus status;
        nuint usable;
        lock (_gate) status = Heap.UsableSize(Handle, pointer, out usable);
        ThrowIfInvalid(status, "UsableSize", pointer);
        return usable;
    }

    /// <summary>Every zone and block of the heap, by increasing address.</summary>
    public IReadOnlyList<ZoneInfo> Walk()
    {
        Heap* heap = Handle;
        var zones = new List<ZoneInfo>();
        lock (_gate)
        {
            for (var cursor = new ZoneCursor(heap); cursor.MoveNext();)
            {
                Zone* zone = cursor.Current;
                var blocks = new List<BlockInfo>();
                if (zone->Category == CoreCategory.Large)
                    blocks.Add(new BlockInfo((nuint)zone->AreaStart, (nuint)(zone->AreaEnd - zone->AreaStart), zone->LargeRequested, false));
                for (var blockCursor = new BlockCursor(zone); blockCursor.MoveNext();)
                {
                    Block* b = blockCursor.Current;
                    blocks.Add(new BlockInfo((nuint)Block.PayloadOf(b), b->Size, b->Requested, b->IsFree, b->Flags == Block.FlagCached));
                }
                zones.Add(new ZoneInfo((nuint)zone, (ZoneCategory)zone->Category, zone->MappedBytes, blocks));
            }
        }
        return zones;
    }

    /// <summary>
    /// Frees every block parked in the quick bins and the small cache for real (merging it with its neighbours)
    /// and unmaps the free LARGE address space kept for reuse (freed LARGE blocks' ranges).
    /// </summary>
    public void ReleaseCachedBlocks()
    {
        lock (_gate)
        {
            Heap.ReleaseQuickBins(Handle);
            Heap.ReleaseLargeExtents(Handle);
        }
    }

    /// <summary>Checks every invariant of the heap (slow: walks everything).</summary>
    /// <exception cref="InvalidOperationException">An invariant is broken; the message names it and the address.</exception>
    public void Validate()
    {
        HeapCheck check;
        lock (_gate) check = HeapValidator.Validate(Handle);
        if (!check.Ok) throw new InvalidOperationException($"heap invariant broken: {check.Defect} at 0x{check.Address:X}");
    }

    /// <summary>
    /// Writes a JSON description of every zone and block of this heap, with its counters, to
    /// <paramref name="path"/> (created or truncated; "%p" in it becomes the process id): the
    /// format of FT_MALLOC_SNAPSHOT and ft_malloc_snapshot() (src/FtMalloc.Core/Introspection/Snapshot.cs).
    /// </summary>
    /// <exception cref="System.IO.IOException">The file could not be opened or written.</exception>
    public void WriteSnapshot(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] zpath = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        int result;
        int errno;
        lock (_gate)
        {
            Heap* heap = Handle;
            fixed (byte* p = zpath) result = Snapshot.Write(heap, &heap->Counters, p);
            errno = FtMalloc.Core.Os.Libc.Errno;
        }
        if (result != 0) throw new System.IO.IOException($"ft_malloc: cannot write a snapshot to {path} (errno {errno})");
    }

    /// <summary>The heap's counters by name (mallocs, frees, in_use_bytes, peak_bytes, zones_tiny, ...).</summary>
    public IReadOnlyDictionary<string, ulong> Statistics()
    {
        Heap* heap = Handle;
        var result = new Dictionary<string, ulong>();
        lock (_gate)
            for (Counter c = 0; c < Counter.Count; c++)
                result[System.Text.Encoding.ASCII.GetString(CounterNames.Of(c))] = heap->Counters[c];
        return result;
    }

    /// <summary>Unmaps every zone and the heap itself. Further calls throw ObjectDisposedException.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_heap == null) return;
            Heap.Destroy(_heap);
            _heap = null;
        }
        GC.SuppressFinalize(this);
    }

    ~NativeHeap()
    {
        if (_heap != null) Heap.Destroy(_heap);
    }

    private static void ThrowIfInvalid(PointerStatus status, string operation, void* pointer)
    {
        if (status == PointerStatus.Valid) return;
        throw new InvalidPointerException($"{operation}: {status} 0x{(nuint)pointer:X}");
    }
}
