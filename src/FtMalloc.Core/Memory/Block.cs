// A block is a run of granules inside a TINY or SMALL zone. It costs 8 bytes of its own
// (glibc's layout): the first 8 bytes of its 16-byte header are also the last 8 bytes of
// the block before's payload, which that block's caller uses while it is allocated; while
// it is free they hold its size (the footer), so a block reaches its free predecessor
// without a size field of its own, and its own payload runs 8 bytes into the next block.
//
//     block                         block + 16 (payload)               next block
//     | footer | Size|PrevFree | Info |  payload ...  ...  ...  ... | footer | ...
//     \ 8 bytes of the block before /                               \ this block's last 8 bytes:
//                                                                     its caller's while it is allocated
//
// Glossary
//   header    the 16 bytes at the block's address (this struct); its first 8 are the footer
//             of the block before (PrevSize), valid only while that block is free
//   payload   what the caller gets: block + 16, always 16-byte aligned; it runs to the next
//             block + 8, so a block of Size bytes serves Size - 8 (BlockOverheadBytes)
//   free      on a free list of its heap; its payload holds the list links
//   Info      Requested << 4 | Flags, one word, so that a free by another thread marks the
//             block with one compare-and-swap that no write of the owner can undo (the
//             owner writes a neighbour's SizeWord, never its Info)
//
// Invariants (checked by HeapValidator.Validate)
//   Size % 16 == 0 and Size >= MinBlockBytes
//   sum of Size over the zone's blocks == AreaEnd - AreaStart; the last block's payload
//   ends 8 bytes past AreaEnd, inside the zone's tail (Zone.TailBytes)
//   the block before is free  <=>  SizeWord & PrevFree; then PrevSize == its Size (glibc's
//   PREV_INUSE: freeing a block reads its own header to know whether the one before
//   merges, and touches that one only when it does)
//   no two physically adjacent blocks are both free (free merges at once; a block parked
//   in a quick bin or the small cache is Cached, not free, and merges when it leaves them)
//   the start bits (ZoneMap.cs) have a bit set exactly at the payload granule of every
//   block, so a pointer is trusted as a block only after its bit is found set
//   Requested <= Size - BlockOverheadBytes for allocated blocks, 0 for free and cached ones
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal unsafe struct Block
{
    public const uint FlagFree = 1;
    /// <summary>Parked in a quick bin (QuickBins.cs) or the small cache (SmallCache.cs) of its heap: neither allocated nor free.</summary>
    public const uint FlagCached = 2;
    /// <summary>Freed by a thread that does not own it, waiting on its owner's remote-free list (Heap.Remote.cs).</summary>
    public const uint FlagRemote = 4;
    /// <summary>With FlagCached: taken out of its full quick bin to be merged with the others of its batch (Heap.ReleaseBinBatch), for the length of that call only.</summary>
    public const uint FlagReleasing = 8;
    /// <summary>The bits of Info that are flags; the rest is Requested.</summary>
    public const uint FlagMask = 15;
    public const int RequestedShift = 4;

    /// <summary>Bit 0 of SizeWord: the block before is free, and PrevSize is its size (see the invariants).</summary>
    public const uint PrevFreeBit = 1;

    /// <summary>Footer of the block before: its Size while it is free; its caller's bytes otherwise.</summary>
    [FieldOffset(0)] public uint PrevSize;
    /// <summary>Bytes of this block (a multiple of 16) | PrevFree. Written only by the owner.</summary>
    [FieldOffset(8)] public uint SizeWord;
    /// <summary>Requested &lt;&lt; RequestedShift | flags. Other threads change it only by compare-and-swap (remote frees).</summary>
    [FieldOffset(12)] public uint Info;

    /// <summary>Bytes of this block, from its address to the next block's.</summary>
    public readonly uint Size
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => SizeWord & ~FlagMask;
    }

    /// <summary>Bytes the caller asked for; 0 while free or cached.</summary>
    public readonly uint Requested
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Info >> RequestedShift;
    }

    public readonly uint Flags
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Info & FlagMask;
    }

    public readonly bool IsFree
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Info & FlagFree) != 0;
    }

    /// <summary>Handed out and not given back: neither free nor cached nor remote.</summary>
    public readonly bool IsAllocated
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Info & FlagMask) == 0;
    }

    /// <summary>The Info of an allocated block serving <paramref name="request"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint AllocatedInfo(nuint request) => (uint)request << RequestedShift;

    /// <summary>Quick bin of a block of this heap: Size / 16 (PrevFree falls off the shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint BinOf(Block* block) => block->SizeWord >> 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* PayloadOf(Block* block) => (byte*)block + Categories.PayloadOffset;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* FromPayload(void* payload) => (Block*)((byte*)payload - Categories.PayloadOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* NextOf(Block* block) => (Block*)((byte*)block + block->Size);

    /// <summary>The block before, read from the footer: valid only when PrevIsFree.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block* PrevOf(Block* block) => (Block*)((byte*)block - block->PrevSize);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PrevIsFree(Block* block) => (block->SizeWord & PrevFreeBit) != 0;

    /// <summary><paramref name="next"/>'s block before is now free and <paramref name="prevSize"/> bytes long: footer and bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetPrevFree(Block* next, uint prevSize)
    {
        next->PrevSize = prevSize;
        next->SizeWord |= PrevFreeBit;
    }

    /// <summary><paramref name="next"/>'s block before is no longer free (its footer is its caller's again).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearPrevFree(Block* next) => next->SizeWord &= ~PrevFreeBit;

    // Free-list links live in the payload of free blocks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref Block* NextFree(Block* block) => ref ((Block**)PayloadOf(block))[0];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref Block* PrevFree(Block* block) => ref ((Block**)PayloadOf(block))[1];
}
