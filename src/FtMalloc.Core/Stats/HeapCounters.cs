// A heap's counters: one ulong per Counter, updated under the heap lock.
using System.Runtime.CompilerServices;

namespace FtMalloc.Core.Stats;

internal unsafe struct HeapCounters
{
    private fixed ulong _values[(int)Counter.Count];

    public ulong this[Counter counter]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _values[(int)counter];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Counter counter, ulong amount) => _values[(int)counter] += amount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Subtract(Counter counter, ulong amount) => _values[(int)counter] -= amount;

    /// <summary>Adds every counter of <paramref name="other"/> to this one.</summary>
    public void AddAll(ref HeapCounters other)
    {
        for (int i = 0; i < (int)Counter.Count; i++) _values[i] += other._values[i];
    }

    /// <summary>Adds to a "now" counter and raises its peak companion.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddWithPeak(Counter now, Counter peak, ulong amount)
    {
        ulong value = _values[(int)now] += amount;
        if (value > _values[(int)peak]) _values[(int)peak] = value;
    }
}
