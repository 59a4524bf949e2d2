// Frees across threads. A thread that frees a block of another thread's heap never
// touches that heap's lists: it marks the block (compare-and-swap, so a second free of it
// is caught) and pushes it on the owner's remote-free list, a lock-free stack linked
// through the payloads. The owner takes the whole list with one exchange when it next
// needs memory (before it would map a zone) and frees each block as its own.
//
// Invariants
//   a block on Remote has Flags == FlagRemote (TINY/SMALL) or RemoteFreed == 1 (LARGE),
//   and is still counted as in use by its owner until the owner takes it in
//   only the owner (or a thread reclaiming an abandoned heap) pops; anyone pushes
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

/// <summary>The remote-free stack of a heap, alone in its cache line (other threads write it).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct RemoteFreeList
{
    [FieldOffset(64)] public nint Head; // payload address; the next one is in its first word

    public readonly bool IsPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref Unsafe.AsRef(in Head)) != 0;
    }
}

internal unsafe partial struct Heap
{
    /// <summary>A block of another heap may be freed from here only between shared heaps (or by a thread with no heap yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsRemoteFreeAllowed(Heap* heap, Zone* zone) =>
        (heap == null || heap->Kind == HeapKind.Shared) && zone->Owner->Kind == HeapKind.Shared;

    /// <summary>Checks a pointer into a zone of another heap without changing anything: only the start bitmap and the flags are read.</summary>
    private static PointerStatus CheckForeign(Zone* zone, void* pointer, out nuint usable)
    {
        usable = 0;
        if (zone->Category == Category.Large)
        {
            if ((byte*)pointer != zone->AreaStart) return PointerStatus.NotBlockStart;
            if (Volatile.Read(ref zone->RemoteFreed) != 0) return PointerStatus.DoubleFree;
            usable = (nuint)(zone->AreaEnd - zone->AreaStart);
            return PointerStatus.Valid;
        }
        Block* block = Block.FromPayload(pointer);
        if ((byte*)block < zone->AreaStart || !Zone.IsStart(zone, block)) return PointerStatus.NotBlockStart;
        if (Volatile.Read(ref block->Flags) != 0) return PointerStatus.DoubleFree;
        usable = block->Size - Categories.BlockHeaderBytes;
        return PointerStatus.Valid;
    }

    /// <summary>Hands a block of another shared heap back to its owner.</summary>
    private static PointerStatus FreeRemote(Zone* zone, void* pointer)
    {
        if (zone->Category == Category.Large)
        {
            if ((byte*)pointer != zone->AreaStart) return PointerStatus.NotBlockStart;
            if (Interlocked.CompareExchange(ref zone->RemoteFreed, 1, 0) != 0) return PointerStatus.DoubleFree;
        }
        else
        {
            Block* block = Block.FromPayload(pointer);
            if ((byte*)block < zone->AreaStart || !Zone.IsStart(zone, block)) return PointerStatus.NotBlockStart;
            if (Interlocked.CompareExchange(ref block->Flags, Block.FlagRemote, 0) != 0) return PointerStatus.DoubleFree;
        }
        Heap* owner = zone->Owner;
        ref nint head = ref owner->Remote.Head;
        nint seen;
        do
        {
            seen = Volatile.Read(ref head);
            *(nint*)pointer = seen;
        } while (Interlocked.CompareExchange(ref head, (nint)pointer, seen) != seen);
        if (Volatile.Read(ref owner->State) == HeapState.Abandoned) HeapRegistry.TryReclaim(owner);
        return PointerStatus.Valid;
    }

    /// <summary>The owner takes in every block other threads freed. Returns how many.</summary>
    public static nuint DrainRemoteFrees(Heap* heap)
    {
        nint list = Interlocked.Exchange(ref heap->Remote.Head, 0);
        nuint count = 0;
        while (list != 0)
        {
            void* pointer = (void*)list;
            list = *(nint*)pointer;
            Zone* zone = ZoneMap.Lookup(pointer);
            Block* block = null;
            if (zone->Category != Category.Large)
            {
                block = Block.FromPayload(pointer);
                block->Flags = 0; // allocated again, for the moment it takes to free it here
            }
            FreeOwned(heap, zone, block);
            count++;
        }
        return count;
    }
}
