// Quick bins: per heap, a short LIFO of recently freed blocks of each exact size up to
// MaxBlockBytes (all TINY sizes and the first SMALL ones).
// The next malloc of that size pops one without searching, splitting or merging, so the
// common malloc/free pair is a pop and a push (glibc's tcache does the same).
//
// A block in a quick bin is neither allocated nor free: its flags say Cached, it is not
// on the free lists, and it does not merge with its neighbours. Free blocks still merge
// at once; cached blocks are released (merged and filed) when their bin is full, when a
// search of the free lists fails (before a new zone is mapped), and on trim or destroy.
//
// Invariants
//   every block on bin i is Cached, in a TINY or SMALL zone of this heap, and Size == 16 * i
//   _counts[i] == length of bin i <= Capacity(i): Limit up to 256-byte blocks, Limit / 4 above
//   (about 250 KB at the default Limit; the slow path may raise Limit while the heap is
//   big, Heap.GrowQuickBins, and ReleaseQuickBins puts it back)
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.Memory;

internal unsafe struct QuickBins
{
    /// <summary>Largest block a bin takes: TINY blocks (32 to 544 bytes) and SMALL ones up to 1 KiB requests.</summary>
    public const uint MaxBlockBytes = 1040;

    /// <summary>Bins by block size / 16.</summary>
    public const int Count = (int)(MaxBlockBytes >> 4) + 1;

    /// <summary>Blocks per bin the process heap keeps (measured: bench/ fast path and churn).</summary>
    public const uint DefaultLimit = 32;

    /// <summary>Blocks per bin; 0 turns the bins off.</summary>
    public uint Limit;
    private fixed uint _counts[Count];
    private fixed ulong _heads[Count];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref Block* NextCached(Block* block) => ref *(Block**)Block.PayloadOf(block);

    /// <summary>A cached block of exactly <paramref name="blockBytes"/>, unlinked, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Block* Pop(nuint blockBytes)
    {
        nuint i = blockBytes >> 4;
        Block* block = (Block*)_heads[i];
        if (block == null) return null;
        _heads[i] = (ulong)NextCached(block);
        _counts[i]--;
        return block;
    }

    /// <summary>Caches an allocated TINY block; false if its bin is full (the caller then frees it for real).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(Block* block)
    {
        if (!HasRoom(block->Size)) return false;
        Push(block);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool HasRoom(uint blockBytes)
    {
        uint i = blockBytes >> 4;
        return i < Count && _counts[i] < (i <= 16 ? Limit : Limit >> 2);
    }

    /// <summary>Caches a block whose bin has room (<see cref="HasRoom"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(Block* block)
    {
        nuint i = block->Size >> 4;
        block->Flags = Block.FlagCached;
        block->Requested = 0;
        NextCached(block) = (Block*)_heads[i];
        _heads[i] = (ulong)block;
        _counts[i]++;
    }

    /// <summary>Unlinks and returns any cached block, or null when every bin is empty.</summary>
    public Block* PopAny()
    {
        for (int i = 0; i < Count; i++)
            if (_heads[i] != 0) return Pop((nuint)i << 4);
        return null;
    }

    /// <summary>Number of cached blocks (validation only: walks every bin and checks its count).</summary>
    public nuint CountSlow(out bool consistent)
    {
        consistent = true;
        nuint total = 0;
        for (int i = 0; i < Count; i++)
        {
            uint n = 0;
            for (Block* b = (Block*)_heads[i]; b != null; b = NextCached(b))
            {
                if (b->Flags != Block.FlagCached || b->Size != (uint)i << 4) consistent = false;
                n++;
            }
            if (n != _counts[i] || n > (i <= 16 ? Limit : Limit >> 2)) consistent = false;
            total += n;
        }
        return total;
    }
}
