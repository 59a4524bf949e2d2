// A block is a run of granules inside a TINY or SMALL zone, led by a 16-byte header.
// Blocks tile their zone's area exactly, in address order ("physical" order).
//
// Glossary
//   header    the 16 bytes in front of the payload (this struct)
//   payload   what the caller gets: header + 16, always 16-byte aligned
//   free      on a free list of its heap; its payload holds the list links
//
// Invariants (checked by HeapValidator.Validate)
//   Size % 16 == 0 and Size >= MinBlockBytes
//   PrevSize & ~15 == Size of the block physically before it, 0 for the first block of a zone
//   the block before is free  =>  PrevSize & PrevFreeHint (a hint: the bit may stay set
//   after that block is taken; free reads the block before only when it is set, so freeing
//   a block whose neighbour is in use does not touch the neighbour's cache line)
//   sum of Size over the zone's blocks == AreaEnd - AreaStart
//   no two physically adjacent blocks are both free (free merges at once; a block parked
//   in a quick bin is Cached, not free, and merges when it leaves the bin)
//   the zone's start bitmap has a bit set exactly at the first granule of every block,
//   so a pointer is trusted as a block only after its bit is found set
//   Requested <= Size - BlockHeaderBytes for allocated blocks, 0 for free and cached ones
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

[StructLayout(LayoutKind.Sequential, Size = 16)]
internal unsafe struct Block
{
    public const uint FlagFree = 1;
    /// <summary>Parked in a quick bin of its heap (QuickBins.cs): neither allocated nor free.</summary>
    public const uint FlagCached = 2;
    /// <summary>Freed by a thread that does not own it, waiting on its owner's remote-free list (Heap.Remote.cs).</summary>
    public const uint FlagRemote = 4;

    /// <summary>Bit 0 of PrevSize: the block before may be free (see the invariants). Sizes are multiples of 16, so the low bits are spare.</summary>
    public const uint PrevFreeHint = 1;

    /// <summary>Bytes of the physically previous block (0 for the first block of the zone), plus PrevFreeHint; read it through PrevBytes.</summary>
    public uint PrevSize;
    /// <summary>Bytes of this block, header included.</summary>
    public uint Size;
    /// <summary>Bytes the caller asked for; 0 while free.</summary>
    public uint Requested;
    public uint Flags;

    public readonly bool IsFree
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Flags & FlagFree) != 0;
    }

    /// <summary>Handed out and not given back: neither free nor cached.</summary>
    public readonly bool IsAllocated
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Flags == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* PayloadOf(Block* block) => (byte*)block + Categories.BlockHeaderBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* FromPayload(void* payload) => (Block*)((byte*)payload - Categories.BlockHeaderBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* NextOf(Block* block) => (Block*)((byte*)block + block->Size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* PrevOf(Block* block) => (Block*)((byte*)block - PrevBytes(block));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint PrevBytes(Block* block) => block->PrevSize & ~(uint)15;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PrevMayBeFree(Block* block) => (block->PrevSize & PrevFreeHint) != 0;

    // Free-list links live in the payload of free blocks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref Block* NextFree(Block* block) => ref ((Block**)PayloadOf(block))[0];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref Block* PrevFree(Block* block) => ref ((Block**)PayloadOf(block))[1];
}
