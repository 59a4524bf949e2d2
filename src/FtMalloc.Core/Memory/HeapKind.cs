// What kind of heap, and where it is in its life. Kept in the heap (Heap.Kind, Heap.State).
namespace FtMalloc.Core.Memory;

internal enum HeapKind : byte
{
    /// <summary>A heap of the managed API: callers serialise its calls; another heap's block is an error.</summary>
    Standalone = 0,
    /// <summary>A thread's heap in the C library: blocks of other shared heaps are freed remotely.</summary>
    Shared = 1,
}

/// <summary>The states of a shared heap (HeapRegistry.cs); transitions are compare-and-swaps.</summary>
internal static class HeapState
{
    /// <summary>A thread owns it (the initial state).</summary>
    public const int Owned = 0;
    /// <summary>Its thread exited; it waits in the registry's pool for a new owner.</summary>
    public const int Abandoned = 1;
    /// <summary>Abandoned, and a thread that freed one of its blocks is taking in its remote frees.</summary>
    public const int Reclaiming = 2;
    /// <summary>Its owner was inside it when the process forked: in the child it is never touched again.</summary>
    public const int Dead = 3;
}
