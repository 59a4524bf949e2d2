// The free LARGE address space of a heap. LARGE blocks are carved, in whole 64 KiB chunks,
// out of regions the heap maps (RegionBytes at a time, or one block's worth if bigger); a
// freed block becomes a free extent that the next LARGE request can take again without any
// system call, and its pages are still resident, so the program does not fault them in
// again. This table is only the bookkeeping (no system calls); Heap.Large.cs decides what
// to map, move (mremap), purge (madvise) and unmap.
//
// Glossary
//   extent   a chunk-aligned run of free address space [Start, Start + Bytes) of this heap
//   dirty    an extent that was part of a block since it was mapped or last purged: its
//            pages may be resident and hold old data (an upper bound: untouched pages too)
//   clean    an extent whose pages are not resident: they read as zero and fault when touched
//   window   the range a new block takes: it starts at an extent's start or ends at an
//            extent's end, and lies inside one run of adjacent extents
//
// Invariants
//   extents are sorted by Start, disjoint, Start and Bytes multiples of ZoneMap.ChunkBytes
//   two adjacent extents (one ends where the next starts) differ in Dirty (else merged)
//   FreeBytes == sum of Bytes, DirtyBytes == sum of Bytes over dirty extents
//   no extent overlaps a live block; every extent lies in a mapping this heap made
//   DirtyBytes <= Budget after every free (the heap purges down to it), so
//   LiveBytes + DirtyBytes <= PeakBytes * (1 + 1/2^SlackShift) then, and
//   DirtyBytes <= max(LiveBytes, BlockSlack * LargestBlockBytes) while the heap's other
//   bytes in use outnumber LiveBytes (as of that free)
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.Memory;

internal unsafe struct LargeExtents
{
    public const int Capacity = 64;
    /// <summary>Address space mapped at a time for LARGE blocks (bytes); untouched pages cost no memory.</summary>
    public const nuint RegionBytes = 64 * 1024 * 1024;
    /// <summary>Dirty bytes kept beyond the live LARGE bytes when that is less than the recent peak allows.</summary>
    public const nuint FloorBytes = 16 * 1024 * 1024;
    /// <summary>Every this many milliseconds, half of what the recent peak holds above the live bytes is forgotten.</summary>
    public const long DecayMs = 1000;
    /// <summary>
    /// Live + dirty LARGE bytes may pass the recent peak of the live bytes by 1/2^SlackShift
    /// of it: with a little more freed memory kept, more blocks fit a dirty extent whole and
    /// fewer need pages moved in (bench/ large, 8,000 blocks: 274 moves without, 227 with).
    /// </summary>
    public const int SlackShift = 3;
    /// <summary>
    /// In a heap whose live LARGE bytes are fewer than its other bytes in use, dirty bytes
    /// may pass the live bytes only up to this many of its largest LARGE blocks
    /// (LargestBlockBytes): what the next blocks that big take again whole. Free LARGE pages
    /// serve only LARGE blocks; where those are a minor part of the work, keeping their
    /// recent peak resident all the time costs more than the faults it saves (bench/'s
    /// stress: 1.1 to 1.25 MB dirty per thread heap beside about 200 KB live; see
    /// ARCHITECTURE.md, "What stays mapped"). A heap of mostly LARGE blocks (bench/'s large)
    /// keeps the peak rule alone: capped at two blocks, large 8000 took 129K faults, not 7K.
    /// </summary>
    public const int BlockSlack = 2;

    private fixed ulong _start[Capacity];
    private fixed ulong _bytes[Capacity];
    private fixed byte _dirty[Capacity];
    public int Count;
    /// <summary>Bytes of all free extents.</summary>
    public nuint FreeBytes;
    /// <summary>Bytes of the dirty free extents (resident at most).</summary>
    public nuint DirtyBytes;
    /// <summary>Bytes of the heap's live LARGE blocks (whole chunks).</summary>
    public nuint LiveBytes;
    /// <summary>The recent peak of LiveBytes: raised by allocations, decayed over time.</summary>
    public nuint PeakBytes;
    /// <summary>When PeakBytes was last raised or decayed (CLOCK_MONOTONIC_COARSE, ms).</summary>
    public long PeakStampMs;
    /// <summary>The largest LARGE block (whole chunks) the heap has had; it never decays (the peak rule does).</summary>
    public nuint LargestBlockBytes;

    public readonly nuint Start(int i) => (nuint)_start[i];
    public readonly nuint Bytes(int i) => (nuint)_bytes[i];
    public readonly nuint End(int i) => (nuint)(_start[i] + _bytes[i]);
    public readonly bool IsDirty(int i) => _dirty[i] != 0;
    public readonly nuint CleanBytes => FreeBytes - DirtyBytes;

    /// <summary>
    /// Dirty bytes the heap may keep: never so many that live + dirty LARGE bytes pass the
    /// recent peak of the live bytes (peak resident memory stays where the program took it),
    /// never more than FloorBytes beyond the live bytes (freeing everything gives all but
    /// FloorBytes back), and, while the live LARGE bytes are fewer than the heap's other
    /// bytes in use (<paramref name="heapInUse"/>, the in_use_bytes counter, less them), never more than
    /// the live bytes or BlockSlack of the largest blocks, whichever is more. Decays the peak first.
    /// </summary>
    public nuint Budget(long nowMs, ulong heapInUse)
    {
        if (nowMs - PeakStampMs >= DecayMs)
        {
            long periods = (nowMs - PeakStampMs) / DecayMs;
            nuint excess = PeakBytes > LiveBytes ? PeakBytes - LiveBytes : 0;
            PeakBytes = LiveBytes + (periods >= 63 ? 0 : excess >> (int)periods);
            PeakStampMs = nowMs;
        }
        nuint allowed = Allowed;
        nuint overPeak = allowed > LiveBytes ? allowed - LiveBytes : 0;
        nuint floor = LiveBytes + FloorBytes;
        nuint budget = overPeak < floor ? overPeak : floor;
        if (heapInUse > 2 * (ulong)LiveBytes) // the other bytes in use outweigh the live LARGE ones
        {
            nuint blocks = BlockSlack * LargestBlockBytes;
            if (blocks < LiveBytes) blocks = LiveBytes;
            if (budget > blocks) budget = blocks;
        }
        return budget;
    }

    /// <summary>How many live + dirty bytes may be resident: the recent peak of the live bytes and its slack.</summary>
    public readonly nuint Allowed => PeakBytes + (PeakBytes >> SlackShift);

    /// <summary>Counts <paramref name="bytes"/> more live bytes, for a block now <paramref name="blockBytes"/> long, raising the peaks.</summary>
    public void AddLive(nuint bytes, nuint blockBytes, long nowMs)
    {
        if (blockBytes > LargestBlockBytes) LargestBlockBytes = blockBytes;
        LiveBytes += bytes;
        if (LiveBytes > PeakBytes)
        {
            PeakBytes = LiveBytes;
            PeakStampMs = nowMs;
        }
    }

    /// <summary>The first extent that ends after <paramref name="address"/> (Count if none).</summary>
    private readonly int IndexAfter(nuint address)
    {
        int lo = 0, hi = Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (End(mid) <= address) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// Files [start, start + bytes) as free, merging it with neighbours of the same state.
    /// False, and nothing changed, when the table is full and no merge was possible.
    /// </summary>
    public bool Insert(nuint start, nuint bytes, bool dirty)
    {
        int i = IndexAfter(start); // extents [0, i) end at or before start
        bool mergePrev = i > 0 && End(i - 1) == start && IsDirty(i - 1) == dirty;
        bool mergeNext = i < Count && Start(i) == start + bytes && IsDirty(i) == dirty;
        if (mergePrev && mergeNext)
        {
            _bytes[i - 1] += bytes + _bytes[i];
            RemoveAt(i);
        }
        else if (mergePrev) _bytes[i - 1] += bytes;
        else if (mergeNext)
        {
            _start[i] = start;
            _bytes[i] += bytes;
        }
        else
        {
            if (Count == Capacity) return false;
            for (int k = Count; k > i; k--)
            {
                _start[k] = _start[k - 1];
                _bytes[k] = _bytes[k - 1];
                _dirty[k] = _dirty[k - 1];
            }
            _start[i] = start;
            _bytes[i] = bytes;
            _dirty[i] = dirty ? (byte)1 : (byte)0;
            Count++;
        }
        FreeBytes += bytes;
        if (dirty) DirtyBytes += bytes;
        return true;
    }

    private void RemoveAt(int i)
    {
        for (int k = i; k < Count - 1; k++)
        {
            _start[k] = _start[k + 1];
            _bytes[k] = _bytes[k + 1];
            _dirty[k] = _dirty[k + 1];
        }
        Count--;
    }

    /// <summary>Removes extent <paramref name="i"/> whole (the caller unmaps it) and returns its start.</summary>
    public nuint Remove(int i, out nuint bytes)
    {
        nuint start = Start(i);
        bytes = Bytes(i);
        FreeBytes -= bytes;
        if (IsDirty(i)) DirtyBytes -= bytes;
        RemoveAt(i);
        return start;
    }

    /// <summary>Cuts the last <paramref name="bytes"/> off extent <paramref name="i"/> (they leave the table) and returns where they start.</summary>
    public nuint CutTail(int i, nuint bytes)
    {
        if (bytes >= Bytes(i)) return Remove(i, out _);
        _bytes[i] -= bytes;
        FreeBytes -= bytes;
        if (IsDirty(i)) DirtyBytes -= bytes;
        return End(i);
    }

    /// <summary>
    /// Marks the last <paramref name="bytes"/> of dirty extent <paramref name="i"/> clean (the
    /// caller purged them). False, and nothing changed, when a split would overflow the table.
    /// </summary>
    public bool MarkTailClean(int i, nuint bytes)
    {
        if (bytes >= Bytes(i))
        {
            nuint start = Remove(i, out nuint all);
            return Insert(start, all, dirty: false); // one entry out, at most one in
        }
        bool mergeNext = i + 1 < Count && Start(i + 1) == End(i);
        if (!mergeNext && Count == Capacity) return false;
        _bytes[i] -= bytes;
        DirtyBytes -= bytes;
        FreeBytes -= bytes;
        return Insert(End(i), bytes, dirty: false);
    }

    /// <summary>The dirty extent with the highest address, or -1.</summary>
    public readonly int HighestDirty()
    {
        for (int i = Count - 1; i >= 0; i--)
            if (IsDirty(i)) return i;
        return -1;
    }

    /// <summary>The smallest dirty extent of at least <paramref name="bytes"/>, else the largest dirty one, or -1.</summary>
    public readonly int DirtySource(nuint bytes)
    {
        int fit = -1, largest = -1;
        for (int i = 0; i < Count; i++)
        {
            if (!IsDirty(i)) continue;
            nuint b = Bytes(i);
            if (b >= bytes && (fit < 0 || b < Bytes(fit))) fit = i;
            if (largest < 0 || b > Bytes(largest)) largest = i;
        }
        return fit >= 0 ? fit : largest;
    }

    /// <summary>The largest clean extent, or -1.</summary>
    public readonly int LargestClean()
    {
        int best = -1;
        for (int i = 0; i < Count; i++)
            if (!IsDirty(i) && (best < 0 || Bytes(i) > Bytes(best))) best = i;
        return best;
    }

    /// <summary>The smallest extent, or -1.</summary>
    public readonly int Smallest()
    {
        int best = -1;
        for (int i = 0; i < Count; i++)
            if (best < 0 || Bytes(i) < Bytes(best)) best = i;
        return best;
    }

    /// <summary>
    /// Where a block of <paramref name="bytes"/> should go, or 0 if no run of free extents is
    /// long enough: the smallest dirty extent that holds it whole; else the window (starting
    /// at an extent's start or ending at an extent's end) that covers the most dirty bytes.
    /// </summary>
    public readonly nuint FindWindow(nuint bytes)
    {
        if (bytes > FreeBytes) return 0; // no run can hold it (and End(i) - bytes below could wrap around)
        int fit = -1;
        for (int i = 0; i < Count; i++)
            if (IsDirty(i) && Bytes(i) >= bytes && (fit < 0 || Bytes(i) < Bytes(fit))) fit = i;
        if (fit >= 0) return Start(fit);

        nuint best = 0, bestDirty = 0;
        bool found = false;
        for (int i = 0; i < Count; i++)
        {
            // Forward from the start of extent i.
            nuint dirty = DirtyIn(i, Start(i), bytes, forward: true, out bool covers);
            if (covers && (!found || dirty > bestDirty))
            {
                found = true;
                best = Start(i);
                bestDirty = dirty;
            }
            // Backward from the end of extent i.
            if (Bytes(i) >= bytes) continue; // the forward window of i is as good
            if (End(i) < bytes) continue; // the window would start below address 0
            dirty = DirtyIn(i, End(i) - bytes, bytes, forward: false, out covers);
            if (covers && (!found || dirty > bestDirty))
            {
                found = true;
                best = End(i) - bytes;
                bestDirty = dirty;
            }
        }
        return found ? best : 0;
    }

    /// <summary>
    /// Where a block of <paramref name="bytes"/> that arrives as pages moved by mremap should
    /// go: the smallest clean extent that holds it whole (the moved pages would discard the
    /// resident pages of a dirty one), else FindWindow.
    /// </summary>
    public readonly nuint FindMoveWindow(nuint bytes)
    {
        int fit = -1;
        for (int i = 0; i < Count; i++)
            if (!IsDirty(i) && Bytes(i) >= bytes && (fit < 0 || Bytes(i) < Bytes(fit))) fit = i;
        return fit >= 0 ? Start(fit) : FindWindow(bytes);
    }

    /// <summary>Dirty bytes inside [start, start + bytes), walking the run from extent <paramref name="i"/>; <paramref name="covers"/> if the run holds the whole window.</summary>
    private readonly nuint DirtyIn(int i, nuint start, nuint bytes, bool forward, out bool covers)
    {
        nuint end = start + bytes, dirty = 0;
        covers = false;
        int k = i;
        while (true)
        {
            nuint lo = Start(k) > start ? Start(k) : start;
            nuint hi = End(k) < end ? End(k) : end;
            if (IsDirty(k) && hi > lo) dirty += hi - lo;
            if (forward ? End(k) >= end : Start(k) <= start)
            {
                covers = true;
                return dirty;
            }
            int next = forward ? k + 1 : k - 1;
            if (next < 0 || next >= Count) return dirty;
            if (forward ? Start(next) != End(k) : End(next) != Start(k)) return dirty;
            k = next;
        }
    }

    /// <summary>True if free extents cover [start, start + bytes) without a gap; <paramref name="dirty"/>: how many of those bytes are dirty.</summary>
    public readonly bool Covers(nuint start, nuint bytes, out nuint dirty)
    {
        dirty = 0;
        int i = IndexAfter(start);
        if (i >= Count || Start(i) > start) return false;
        dirty = DirtyIn(i, start, bytes, forward: true, out bool covers);
        return covers;
    }

    /// <summary>
    /// Takes [start, start + bytes) (covered by free extents, see FindWindow) out of the table.
    /// Writes the clean pieces inside it to <paramref name="clean"/> (pairs: start, bytes; at
    /// most Capacity pairs) and returns how many; <paramref name="dirtyEnd"/> is the end of the
    /// last dirty byte inside it (start if none).
    /// </summary>
    public int Take(nuint start, nuint bytes, nuint* clean, out nuint dirtyEnd)
    {
        nuint end = start + bytes;
        int first = IndexAfter(start), last = first;
        while (last + 1 < Count && Start(last + 1) < end) last++;
        int pieces = 0;
        dirtyEnd = start;
        for (int k = first; k <= last; k++)
        {
            nuint lo = Start(k) > start ? Start(k) : start;
            nuint hi = End(k) < end ? End(k) : end;
            if (IsDirty(k)) dirtyEnd = hi;
            else
            {
                clean[2 * pieces] = lo;
                clean[2 * pieces + 1] = hi - lo;
                pieces++;
            }
        }
        // What is left of the first and last extents outside the window (at most one of them: windows are extent-aligned).
        nuint headStart = Start(first), headBytes = start - Start(first);
        bool headDirty = IsDirty(first);
        nuint tailStart = end, tailBytes = End(last) > end ? End(last) - end : 0;
        bool tailDirty = IsDirty(last);
        for (int k = last; k >= first; k--) Remove(k, out _);
        if (headBytes != 0) Insert(headStart, headBytes, headDirty);
        if (tailBytes != 0) Insert(tailStart, tailBytes, tailDirty);
        return pieces;
    }

    /// <summary>True if some free extent overlaps [start, start + bytes).</summary>
    public readonly bool Overlaps(nuint start, nuint bytes)
    {
        int i = IndexAfter(start);
        return i < Count && Start(i) < start + bytes;
    }

    /// <summary>Checks every invariant of the table (for HeapValidator).</summary>
    public readonly bool CheckSlow()
    {
        nuint free = 0, dirty = 0;
        for (int i = 0; i < Count; i++)
        {
            if (Bytes(i) == 0 || (Start(i) & (ZoneMap.ChunkBytes - 1)) != 0 || (Bytes(i) & (ZoneMap.ChunkBytes - 1)) != 0) return false;
            if (i > 0 && (End(i - 1) > Start(i) || (End(i - 1) == Start(i) && IsDirty(i - 1) == IsDirty(i)))) return false;
            free += Bytes(i);
            if (IsDirty(i)) dirty += Bytes(i);
        }
        return free == FreeBytes && dirty == DirtyBytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint RoundToChunks(nuint bytes) => (bytes + ZoneMap.ChunkBytes - 1) & ~(ZoneMap.ChunkBytes - 1);
}
