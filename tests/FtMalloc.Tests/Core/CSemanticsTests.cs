// The C rules of the allocation ABI (glibc's behaviour at the edges), run in-process
// against a private heap through the same CAllocator the exported symbols call.
using System;
using FtMalloc.Core.CSemantics;
using FtMalloc.Core.Memory;
using FtMalloc.Core.Os;

namespace FtMalloc.Tests.Core;

[Collection(InProcessCollection.Name)]
public unsafe class CSemanticsTests : IDisposable
{
    private const int ENOMEM = 12, EINVAL = 22;
    private static readonly nuint PtrdiffMax = unchecked((nuint)long.MaxValue);
    private readonly NativeHeap _owner = new();
    private Heap* H => _owner.Handle;

    public void Dispose() => _owner.Dispose();

    [Fact]
    public void Malloc_of_zero_returns_a_unique_pointer_that_free_accepts()
    {
        void* a = CAllocator.Malloc(H, 0), b = CAllocator.Malloc(H, 0);
        Assert.True(a != null && b != null && a != b);
        CAllocator.Free(H, a);
        CAllocator.Free(H, b);
        _owner.Validate();
    }

    [Theory]
    [InlineData(0)] // PTRDIFF_MAX + 1
    [InlineData(1)] // SIZE_MAX
    [InlineData(2)] // PTRDIFF_MAX
    public void Impossible_sizes_return_null_with_ENOMEM(int which)
    {
        nuint size = which switch { 0 => PtrdiffMax + 1, 1 => nuint.MaxValue, _ => PtrdiffMax };
        Libc.Errno = 0;
        Assert.True(CAllocator.Malloc(H, size) == null);
        Assert.Equal(ENOMEM, Libc.Errno);
        Libc.Errno = 0;
        Assert.True(CAllocator.Memalign(H, 64, size) == null);
        Assert.Equal(ENOMEM, Libc.Errno);
    }

    [Fact]
    public void Calloc_and_reallocarray_products_that_overflow_return_null_with_ENOMEM()
    {
        Libc.Errno = 0;
        Assert.True(CAllocator.Calloc(H, nuint.MaxValue / 2, 3) == null);
        Assert.Equal(ENOMEM, Libc.Errno);
        void* p = CAllocator.Malloc(H, 10);
        Libc.Errno = 0;
        Assert.True(CAllocator.ReallocArray(H, p, (nuint)1 << 33, (nuint)1 << 33) == null);
        Assert.Equal(ENOMEM, Libc.Errno);
        CAllocator.Free(H, p); // still valid
    }

    [Fact]
    public void Realloc_of_null_allocates_and_realloc_to_zero_frees()
    {
        void* p = CAllocator.Realloc(H, null, 40);
        Assert.True(p != null);
        Assert.True(CAllocator.Realloc(H, p, 0) == null);
        Assert.Equal(0UL, _owner.Statistics()["in_use_bytes"]);
        Assert.Equal(1UL, _owner.Statistics()["frees"]);
    }

    [Fact]
    public void A_failed_realloc_leaves_the_old_block_intact()
    {
        byte* p = (byte*)CAllocator.Malloc(H, 64);
        for (int i = 0; i < 64; i++) p[i] = (byte)i;
        Libc.Errno = 0;
        Assert.True(CAllocator.Realloc(H, p, PtrdiffMax + 1) == null);
        Assert.Equal(ENOMEM, Libc.Errno);
        Assert.True(CAllocator.Realloc(H, p, (nuint)1 << 46) == null); // 64 TiB: the kernel says no
        Assert.Equal(ENOMEM, Libc.Errno);
        for (int i = 0; i < 64; i++) Assert.Equal((byte)i, p[i]);
        CAllocator.Free(H, p);
        _owner.Validate();
    }

    [Fact]
    public void Free_of_null_does_nothing_and_free_preserves_errno()
    {
        Libc.Errno = 1234;
        CAllocator.Free(H, null);
        Assert.Equal(1234, Libc.Errno);
        void* large = CAllocator.Malloc(H, 1 << 20); // its free calls munmap
        Libc.Errno = 4321;
        CAllocator.Free(H, large);
        Assert.Equal(4321, Libc.Errno);
    }

    [Theory]
    [InlineData(0, EINVAL)]
    [InlineData(4, EINVAL)]   // below sizeof(void*)
    [InlineData(24, EINVAL)]  // not a power of two
    [InlineData(8, 0)]
    [InlineData(16, 0)]
    [InlineData(4096, 0)]
    [InlineData(1 << 20, 0)]
    public void Posix_memalign_accepts_only_power_of_two_multiples_of_the_pointer_size(int alignment, int expected)
    {
        void* result = (void*)0x1;
        Assert.Equal(expected, CAllocator.PosixMemalign(H, &result, (nuint)alignment, 100));
        if (expected == 0)
        {
            Assert.Equal((nuint)0, (nuint)result % (nuint)alignment);
            CAllocator.Free(H, result);
        }
        else
        {
            Assert.True(result == (void*)0x1); // untouched on error
        }
    }

    [Fact]
    public void Aligned_alloc_rejects_non_powers_of_two_and_memalign_rounds_them_up()
    {
        Libc.Errno = 0;
        Assert.True(CAllocator.AlignedAlloc(H, 48, 100) == null);
        Assert.Equal(EINVAL, Libc.Errno);
        void* p = CAllocator.Memalign(H, 48, 100);
        Assert.Equal((nuint)0, (nuint)p % 64);
        void* v = CAllocator.Valloc(H, 10);
        Assert.Equal((nuint)0, (nuint)v % (nuint)Environment.SystemPageSize);
        void* pv = CAllocator.Pvalloc(H, 0);
        Assert.True(CAllocator.UsableSize(H, pv) >= (nuint)Environment.SystemPageSize);
        CAllocator.Free(H, p);
        CAllocator.Free(H, v);
        CAllocator.Free(H, pv);
        _owner.Validate();
    }

    [Fact]
    public void Calloc_memory_is_zero_also_when_a_block_is_reused()
    {
        for (int round = 0; round < 3; round++)
        {
            byte* dirty = (byte*)CAllocator.Malloc(H, 1000);
            new Span<byte>(dirty, 1000).Fill(0xFF);
            CAllocator.Free(H, dirty);
            byte* clean = (byte*)CAllocator.Calloc(H, 10, 100);
            Assert.True(clean == dirty); // the same block came back...
            Assert.True(new Span<byte>(clean, 1000).IndexOfAnyExcept((byte)0) < 0); // ...zeroed
            CAllocator.Free(H, clean);
        }
    }

    [Fact]
    public void Malloc_usable_size_is_at_least_the_request_and_zero_for_null()
    {
        Assert.Equal((nuint)0, CAllocator.UsableSize(H, null));
        foreach (nuint size in new nuint[] { 0, 1, 17, 500, 5000, 100_000 })
        {
            void* p = CAllocator.Malloc(H, size);
            Assert.True(CAllocator.UsableSize(H, p) >= size);
            CAllocator.Free(H, p);
        }
    }
}
