// glibc's MALLOC_PERTURB_ (FT_MALLOC_PERTURB, mallopt(M_PERTURB)): with a perturb byte N
// set, every new block is filled with N ^ 0xFF before the program sees it, and every
// freed block with N, so code that reads memory it never wrote, or reads a block after
// freeing it, sees a recognisable pattern instead of plausible old data.
//   filled on allocation  the requested bytes of malloc and the aligned allocators, and
//                         realloc's bytes past the old block (CAllocator); never calloc's
//   filled on free        the usable bytes of a TINY/SMALL block, checked first as free
//                         checks it (CAllocator's free, before the heap takes the block;
//                         realloc's old block when it moves, here); then the first 8 or 16
//                         bytes hold list links, as glibc's fd/bk do. LARGE blocks are
//                         unmapped (or cached for reuse), not filled.
// Off (0) costs a load and a branch never taken; the fill on free is kept out of the
// heap's own free path so that its fast path stays a leaf function.
using System.Runtime.CompilerServices;
using FtMalloc.Core.Os;
using FtMalloc.Core.SizeClasses;

namespace FtMalloc.Core.Memory;

internal unsafe partial struct Heap
{
    private static int s_perturbByte; // 0: off

    /// <summary>The perturb byte, 0..255 (0: off). Process-wide, as glibc's.</summary>
    public static int PerturbByte
    {
        get => s_perturbByte;
        set => s_perturbByte = value & 0xFF;
    }

    /// <summary>Fills a new block's first <paramref name="bytes"/> with ~N when perturbing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PerturbNew(void* payload, nuint bytes)
    {
        if (s_perturbByte != 0) Libc.memset(payload, s_perturbByte ^ 0xFF, bytes);
    }

    /// <summary>Before free: fills the block at <paramref name="pointer"/> with N if it is a live TINY/SMALL block (of any heap); does nothing for anything else.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void PerturbBeforeFree(Heap* heap, void* pointer)
    {
        if (UsableSize(heap, pointer, out nuint usable) != PointerStatus.Valid) return;
        Zone* zone = ZoneMap.Lookup(pointer);
        if (zone != null && zone->Category != Category.Large) Libc.memset(pointer, s_perturbByte, usable);
    }

    /// <summary>Fills a valid block about to be freed (realloc moved it) with N.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PerturbFreed(Zone* zone, void* pointer)
    {
        if (s_perturbByte != 0 && zone->Category != Category.Large)
            Libc.memset(pointer, s_perturbByte, Block.FromPayload(pointer)->Size - Categories.BlockOverheadBytes);
    }
}
