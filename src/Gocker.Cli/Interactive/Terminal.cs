using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Gocker.Cli.Interactive;

/// <summary>
/// The few terminal calls the console's line editor needs (termios on fd 0). Raw mode turns off
/// canonical input, echo, signals from keys (Ctrl-C arrives as a byte and clears the line) and
/// CR→NL mapping, and leaves output processing on so "\n" still moves to the start of the next line.
/// </summary>
internal static partial class Terminal
{
    // struct termios on Linux: 4 × tcflag_t, c_line, c_cc[32], c_ispeed, c_ospeed (60 bytes).
    const int TermiosSize = 64;
    const int IFlag = 0, LFlag = 12, CcOffset = 17, VTIME = 5, VMIN = 6;
    const uint BRKINT = 0x2, INPCK = 0x10, ISTRIP = 0x20, ICRNL = 0x100, IXON = 0x400;
    const uint ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, IEXTEN = 0x8000;
    const int TCSANOW = 0;

    [LibraryImport("libc", SetLastError = true)] private static partial int isatty(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int tcgetattr(int fd, [Out] byte[] termios);
    [LibraryImport("libc", SetLastError = true)] private static partial int tcsetattr(int fd, int actions, [In] byte[] termios);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial nint read(int fd, byte* buf, nint count);

    public static bool IsTty(int fd) => isatty(fd) == 1;

    // The settings to put back if the process ends while in raw mode (SIGTERM, SIGHUP).
    static byte[]? s_saved;
    static bool s_hooked;

    /// <summary>Saves fd 0's settings and switches it to raw mode; null when it is no terminal.</summary>
    public static byte[]? EnterRaw()
    {
        var saved = new byte[TermiosSize];
        if (tcgetattr(0, saved) != 0) return null;
        var raw = (byte[])saved.Clone();
        var iflag = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(IFlag)) & ~(BRKINT | INPCK | ISTRIP | ICRNL | IXON);
        var lflag = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(LFlag)) & ~(ISIG | ICANON | ECHO | IEXTEN);
        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(IFlag), iflag);
        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(LFlag), lflag);
        raw[CcOffset + VMIN] = 1;
        raw[CcOffset + VTIME] = 0;
        if (!s_hooked)
        {
            s_hooked = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { if (s_saved is { } s) tcsetattr(0, TCSANOW, s); };
        }
        if (tcsetattr(0, TCSANOW, raw) != 0) return null;
        s_saved = saved;
        return saved;
    }

    public static void Restore(byte[]? saved)
    {
        if (saved is null) return;
        tcsetattr(0, TCSANOW, saved);
        s_saved = null;
    }

    /// <summary>One byte from fd 0; -1 at end of input or on an error other than EINTR.</summary>
    public static unsafe int ReadByte()
    {
        byte b;
        while (true)
        {
            var n = read(0, &b, 1);
            if (n == 1) return b;
            if (n < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */) continue;
            return -1;
        }
    }
}
