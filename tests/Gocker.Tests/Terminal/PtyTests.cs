using System.Text;
using Gocker.Syscalls.Terminal;

namespace Gocker.Tests.Terminal;

public class PtyTests
{
    static bool IsCloexec(int fd)
    {
        var flags = File.ReadAllLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:"));
        var value = Convert.ToInt64(flags["flags:".Length..].Trim(), 8);
        return (value & 0x80000) != 0; // O_CLOEXEC (02000000)
    }

    static string ReadUntil(int master, string expected)
    {
        var sb = new StringBuilder();
        var buf = new byte[256];
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!sb.ToString().Contains(expected) && DateTime.UtcNow < deadline)
        {
            int n = Pty.Read(master, buf);
            if (n == 0) break;
            sb.Append(Encoding.UTF8.GetString(buf, 0, n));
        }
        return sb.ToString();
    }

    [Fact]
    public void Both_sides_are_cloexec_and_the_slave_has_a_devpts_name()
    {
        using var pty = Pty.Open();
        Assert.True(IsCloexec(pty.Master));
        Assert.True(IsCloexec(pty.Slave));
        Assert.Matches(@"^/dev/pts/\d+$", pty.SlavePath);
        Assert.True(TerminalMode.IsTerminal(pty.Slave));
        Assert.True(TerminalMode.IsTerminal(pty.Master));
    }

    [Fact]
    public void Bytes_flow_both_ways_and_the_master_sees_end_when_the_slave_closes()
    {
        using var pty = Pty.Open();
        Assert.True(Pty.WriteAll(pty.Slave, "from-slave\n"u8));
        Assert.Contains("from-slave", ReadUntil(pty.Master, "from-slave"));
        // Raw slave: no echo, input arrives as typed.
        using (TerminalMode.MakeRaw(pty.Slave))
        {
            Assert.True(Pty.WriteAll(pty.Master, "typed"u8));
            var buf = new byte[16];
            int n = Pty.Read(pty.Slave, buf);
            Assert.Equal("typed", Encoding.UTF8.GetString(buf, 0, n));
        }
        pty.CloseSlave();
        Assert.Equal(0, Pty.Read(pty.Master, new byte[16]));
    }

    [Fact]
    public void Window_size_set_on_the_master_is_seen_on_the_slave()
    {
        using var pty = Pty.Open(24, 80);
        Assert.Equal(((ushort)24, (ushort)80), Pty.GetWindowSize(pty.Slave));
        Pty.SetWindowSize(pty.Master, 31, 101);
        Assert.Equal(((ushort)31, (ushort)101), TerminalMode.WindowSize(pty.Slave));
    }

    [Fact]
    public void Raw_mode_turns_echo_off_and_restore_turns_it_back_on()
    {
        using var pty = Pty.Open();
        var mode = TerminalMode.MakeRaw(pty.Slave);
        Assert.NotNull(mode);
        Assert.True(Pty.WriteAll(pty.Master, "x"u8));
        Assert.Equal("x", Encoding.UTF8.GetString(ReadSlave(pty.Slave)));
        mode!.Restore();
        mode.Restore(); // idempotent
        // Cooked again: the line discipline echoes what is typed back to the master.
        Assert.True(Pty.WriteAll(pty.Master, "echoed\n"u8));
        Assert.Contains("echoed", ReadUntil(pty.Master, "echoed"));
    }

    static byte[] ReadSlave(int fd)
    {
        var buf = new byte[16];
        int n = Pty.Read(fd, buf);
        return buf.AsSpan(0, n).ToArray();
    }

    [Fact]
    public void Raw_mode_on_a_non_terminal_is_null()
    {
        using var f = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        Assert.Null(TerminalMode.MakeRaw((int)f.DangerousGetHandle()));
        Assert.Null(TerminalMode.WindowSize((int)f.DangerousGetHandle()));
    }
}
