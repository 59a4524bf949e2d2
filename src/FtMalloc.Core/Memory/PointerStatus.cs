// What a heap found when asked about a pointer it was handed back (free, realloc,
// malloc_usable_size). Anything but Valid is misuse by the caller; CSemantics decides
// what to say and do about it.
namespace FtMalloc.Core.Memory;

internal enum PointerStatus
{
    Valid,
    /// <summary>Not 16-byte aligned, so never a pointer this allocator returned.</summary>
    Misaligned,
    /// <summary>No zone covers the address: from the stack, another allocator, or already unmapped.</summary>
    NotOurs,
    /// <summary>Inside a zone, but not the start of a block (a pointer into the middle of one).</summary>
    NotBlockStart,
    /// <summary>The start of a block that is already free.</summary>
    DoubleFree,
    /// <summary>A block of another heap (managed API only).</summary>
    OtherHeap,
}
