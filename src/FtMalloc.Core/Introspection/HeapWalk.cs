// Cursors over a heap's zones (by increasing address, from the zone map) and over the
// blocks of one TINY/SMALL zone (physical order). show_alloc_mem, the validator and the
// managed API's Walk all read the heap through these; callers hold the heap lock.
using FtMalloc.Core.Memory;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Introspection;

internal unsafe struct ZoneCursor
{
    private readonly Heap* _heap;
    public Zone* Current;

    /// <summary>Zones of <paramref name="heap"/>, or of every heap when it is null.</summary>
    public ZoneCursor(Heap* heap)
    {
        _heap = heap;
        Current = null;
    }

    public bool MoveNext()
    {
        Current = ZoneMap.NextZoneAbove((nuint)Current, _heap);
        return Current != null;
    }
}

internal unsafe struct BlockCursor
{
    private readonly Zone* _zone;
    public Block* Current;

    /// <summary>Blocks of a TINY/SMALL zone; a LARGE zone has none (its payload is the zone's area).</summary>
    public BlockCursor(Zone* zone)
    {
        _zone = zone;
        Current = null;
    }

    public bool MoveNext()
    {
        if (_zone->Category == Category.Large) return false;
        Block* next = Current == null ? (Block*)_zone->AreaStart : Block.NextOf(Current);
        if ((byte*)next >= _zone->AreaEnd || (Current != null && Current->Size == 0)) return false;
        Current = next;
        return true;
    }
}
