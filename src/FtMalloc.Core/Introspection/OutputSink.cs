// Formats text into a buffer on the stack and writes it with write(2): the only way
// the allocator prints, since stdio and string formatting may allocate. Text longer
// than the buffer goes out in pieces; Flush must be called at the end. Every report
// (show_alloc_mem and _ex, the statistics, leaks, malloc_info's XML, the JSON snapshot,
// the trace) is built with these few appenders, so none of them allocates.
using System;
using FtMalloc.Core.Os;

namespace FtMalloc.Core.Introspection;

internal unsafe ref struct OutputSink
{
    private const int Capacity = 1024;
    private fixed byte _buffer[Capacity];
    private int _length;
    private readonly int _fd;
    private bool _failed;

    public OutputSink(int fd)
    {
        _fd = fd;
        _length = 0;
        _failed = false;
    }

    /// <summary>True if a write failed (the descriptor was closed, the disk full...).</summary>
    public readonly bool Failed => _failed;

    public void Append(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (_length == Capacity) Flush();
            _buffer[_length++] = b;
        }
    }

    public void AppendByte(byte b)
    {
        if (_length == Capacity) Flush();
        _buffer[_length++] = b;
    }

    /// <summary>Appends a NUL-terminated C string.</summary>
    public void AppendCString(byte* text)
    {
        for (; *text != 0; text++) AppendByte(*text);
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
        while (n > 0) AppendByte(digits[--n]);
    }

    /// <summary>A decimal right-aligned in <paramref name="width"/> columns.</summary>
    public void AppendDecimal(ulong value, int width)
    {
        int digits = 1;
        for (ulong v = value; v >= 10; v /= 10) digits++;
        AppendSpaces(width - digits);
        AppendDecimal(value);
    }

    /// <summary>Appends 0x followed by uppercase hex digits, no leading zeros.</summary>
    public void AppendHex(nuint value)
    {
        Append("0x"u8);
        byte* digits = stackalloc byte[16];
        int n = 0;
        do
        {
            digits[n++] = HexDigit((int)(value & 15));
            value >>= 4;
        } while (value != 0);
        while (n > 0) AppendByte(digits[--n]);
    }

    /// <summary>Exactly <paramref name="digits"/> uppercase hex digits, no prefix.</summary>
    public void AppendHexDigits(ulong value, int digits)
    {
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) AppendByte(HexDigit((int)((value >> shift) & 15)));
    }

    /// <summary>A fraction numerator/denominator as a percentage with two decimals ("12.34%"); 0.00% when the denominator is 0.</summary>
    public void AppendPercent(ulong numerator, ulong denominator)
    {
        ulong hundredths = Scaled(numerator, denominator);
        AppendDecimal(hundredths / 100);
        AppendByte((byte)'.');
        AppendDecimal(hundredths / 10 % 10);
        AppendDecimal(hundredths % 10);
        AppendByte((byte)'%');
    }

    /// <summary>A fraction numerator/denominator as a decimal number with four places ("0.1234"); 0 when the denominator is 0.</summary>
    public void AppendFraction(ulong numerator, ulong denominator)
    {
        ulong tenThousandths = Scaled(numerator, denominator);
        AppendDecimal(tenThousandths / 10000);
        AppendByte((byte)'.');
        AppendZeroPadded(tenThousandths % 10000, 4);
    }

    /// <summary>numerator * 10000 / denominator, without overflow for any byte count (0 if the denominator is 0).</summary>
    private static ulong Scaled(ulong numerator, ulong denominator)
    {
        while (numerator > ulong.MaxValue / 10000)
        {
            numerator >>= 1;
            denominator >>= 1;
        }
        return denominator == 0 ? 0 : numerator * 10000 / denominator;
    }

    private void AppendZeroPadded(ulong value, int digits)
    {
        ulong divisor = 1;
        for (int i = 1; i < digits; i++) divisor *= 10;
        for (; divisor != 0; divisor /= 10) AppendByte((byte)('0' + value / divisor % 10));
    }

    public void AppendSpaces(int count)
    {
        for (int i = 0; i < count; i++) AppendByte((byte)' ');
    }

    /// <summary>Text left-aligned in <paramref name="width"/> columns.</summary>
    public void AppendPadded(ReadOnlySpan<byte> text, int width)
    {
        Append(text);
        AppendSpaces(width - text.Length);
    }

    /// <summary>A JSON string: quoted, with quotes, backslashes and control characters escaped.</summary>
    public void AppendJsonString(ReadOnlySpan<byte> text)
    {
        AppendByte((byte)'"');
        foreach (byte b in text)
        {
            if (b == '"' || b == '\\')
            {
                AppendByte((byte)'\\');
                AppendByte(b);
            }
            else if (b < 0x20)
            {
                Append("\\u00"u8);
                AppendHexDigits(b, 2);
            }
            else
            {
                AppendByte(b);
            }
        }
        AppendByte((byte)'"');
    }

    /// <summary>An address as a JSON string ("0x7F3A5C2A0250").</summary>
    public void AppendJsonHex(nuint value)
    {
        AppendByte((byte)'"');
        AppendHex(value);
        AppendByte((byte)'"');
    }

    public void Flush()
    {
        fixed (byte* start = _buffer)
        {
            int written = 0;
            while (written < _length)
            {
                nint n = Libc.write(_fd, start + written, (nuint)(_length - written));
                if (n < 0 && Libc.Errno == Libc.EINTR) continue;
                if (n <= 0)
                {
                    _failed = true;
                    break;
                }
                written += (int)n;
            }
        }
        _length = 0;
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'A' + value - 10);
}
