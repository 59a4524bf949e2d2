// Property test: random sequences of malloc, calloc, realloc, free and memalign. Every
// block is filled with a pattern derived from its seed, over all of malloc_usable_size (a
// program may use every byte of it: the last 8 of a TINY/SMALL block are the next block's
// footer slot), and checked before each free and realloc; the whole heap is validated during and after every sequence, and must be
// back to zero bytes in use at the end. CsCheck draws the seeds and reports a failing one.
using System;
using System.Collections.Generic;
using CsCheck;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Memory;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class RandomOperationTests
{
    private const int OperationsPerSequence = 100_000;

    private struct Live
    {
        public nint Address;
        public nuint Size;
        public byte Tag;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(NativeHeap.DefaultQuickBinLimit)]
    public void Random_operation_sequences_keep_contents_and_invariants(int quickBinLimit) =>
        Gen.Int.Sample(seed => RunSequence(seed, quickBinLimit), iter: 8, threads: 1);

    private static void RunSequence(int seed, int quickBinLimit)
    {
        var random = new Random(seed);
        using var owner = new NativeHeap(quickBinLimit);
        Heap* heap = owner.Handle;
        var live = new List<Live>();
        for (int op = 0; op < OperationsPerSequence; op++)
        {
            int kind = random.Next(100);
            if (kind < 45 || live.Count == 0)
            {
                nuint size = DrawSize(random);
                bool zeroed = kind % 5 == 0;
                byte* p = (byte*)(zeroed ? CAllocator.Calloc(heap, 1, size) : CAllocator.Malloc(heap, size));
                Assert.True(p != null);
                Assert.Equal((nuint)0, (nuint)p % 16);
                if (zeroed) Assert.True(new Span<byte>(p, (int)size).IndexOfAnyExcept((byte)0) < 0, "calloc block not zero");
                live.Add(Fill(heap, p, (byte)random.Next(256)));
            }
            else if (kind < 50)
            {
                nuint alignment = (nuint)1 << random.Next(4, 14);
                nuint size = DrawSize(random);
                byte* p = (byte*)CAllocator.Memalign(heap, alignment, size);
                Assert.Equal((nuint)0, (nuint)p % alignment);
                live.Add(Fill(heap, p, (byte)random.Next(256)));
            }
            else if (kind < 65)
            {
                int i = random.Next(live.Count);
                Live block = live[i];
                Check(block);
                nuint size = DrawSize(random);
                byte* p = (byte*)CAllocator.Realloc(heap, (void*)block.Address, size);
                if (size == 0)
                {
                    Assert.True(p == null, "realloc(p, 0) frees and returns NULL");
                    live[i] = live[^1];
                    live.RemoveAt(live.Count - 1);
                    continue;
                }
                Assert.True(p != null);
                nuint kept = size < block.Size ? size : block.Size;
                Check(new Live { Address = (nint)p, Size = kept, Tag = block.Tag });
                live[i] = Fill(heap, p, block.Tag);
            }
            else
            {
                int i = random.Next(live.Count);
                Check(live[i]);
                CAllocator.Free(heap, (void*)live[i].Address);
                live[i] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            if (op % 25_000 == 0) owner.Validate();
        }
        owner.Validate();
        foreach (Live block in live)
        {
            Check(block);
            CAllocator.Free(heap, (void*)block.Address);
        }
        owner.Validate();
        Assert.Equal(0UL, owner.Statistics()["in_use_bytes"]);
    }

    /// <summary>Mostly TINY, some SMALL, a few LARGE, and zero now and then.</summary>
    private static nuint DrawSize(Random random)
    {
        int r = random.Next(1000);
        if (r < 10) return 0;
        if (r < 700) return (nuint)random.Next(1, 513);
        if (r < 990) return (nuint)random.Next(513, 128 * 1024 + 1);
        return (nuint)random.Next(128 * 1024 + 1, 900_000);
    }

    private static Live Fill(Heap* heap, byte* p, byte tag)
    {
        nuint size = CAllocator.UsableSize(heap, p);
        for (nuint i = 0; i < size; i++) p[i] = (byte)(tag + i * 31);
        return new Live { Address = (nint)p, Size = size, Tag = tag };
    }

    private static void Check(Live block)
    {
        byte* p = (byte*)block.Address;
        for (nuint i = 0; i < block.Size; i++)
            if (p[i] != (byte)(block.Tag + i * 31))
                Assert.Fail($"block 0x{block.Address:X} of {block.Size} bytes corrupted at offset {i}");
    }
}
