// Formats text into a buffer on the stack and writes it with write(2): the only way
// the allocator prints, since stdio and string formatting may allocate. Lines longer
// than the buffer are flushed in pieces; Flush must be called at the end.
using System;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.Introspection;

internal unsafe ref struct OutputSink
{
    private const int Capacity = 512;
    private fixed byte _buffer[Capacity];
    private int _length;
    private readonly int _fd;

    public OutputSink(int fd)
    {
        _fd = fd;
        _length = 0;
    }

    public void Append(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (_length == Capacity) Flush();
            _buffer[_length++] = b;
        }
    }

    /// <summary>Appends a NUL-terminated C string.</summary>
    public void AppendCString(byte* text)
    {
        for (; *text != 0; text++)
        {
            if (_length == Capacity) Flush();
            _buffer[_length++] = *text;
        }
    }

    public void AppendDecimal(ulong value)
    {
        byte* digits = stackalloc byte[20];
        int n = 0;
        do
        {
            digits[n++] = (byte)('0' + value % 10);
            value /= 10;
        } while (value != 0);
        while (n > 0) Append(new ReadOnlySpan<byte>(&digits[--n], 1));
    }

    /// <summary>Appends 0x followed by uppercase hex digits, no leading zeros.</summary>
    public void AppendHex(nuint value)
    {
        Append("0x"u8);
        byte* digits = stackalloc byte[16];
        int n = 0;
        do
        {
            digits[n++] = (byte)"0123456789ABCDEF"u8[(int)(value & 15)];
            value >>= 4;
        } while (value != 0);
        while (n > 0) Append(new ReadOnlySpan<byte>(&digits[--n], 1));
    }

    public void Flush()
    {
        fixed (byte* start = _buffer)
        {
            int written = 0;
            while (written < _length)
            {
                nint n = Libc.write(_fd, start + written, (nuint)(_length - written));
                if (n <= 0) break;
                written += (int)n;
            }
        }
        _length = 0;
    }
}
