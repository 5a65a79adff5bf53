using System.Globalization;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Cgroups;

/// <summary>
/// One rule of a container's device allow-list, as the v1 devices controller writes it
/// ("c 1:3 rwm"): <see cref="Type"/> 'a' (all), 'b' (block) or 'c' (char); <see cref="Major"/> and
/// <see cref="Minor"/> a number or <see cref="Any"/> ('*'); <see cref="Access"/> a non-empty subset
/// of "rwm" (read, write, mknod) kept in that order; <see cref="Allow"/> false for a deny rule.
/// A list of rules starts from "deny everything"; later rules win over earlier ones for the
/// requests they match (eBPF: last match decides; v1: the kernel's own list semantics, which agree
/// for allow rules and for deny rules that repeat an allowed entry exactly).
/// </summary>
public sealed record DeviceRule
{
    public const long Any = -1;

    public char Type { get; }
    public long Major { get; }
    public long Minor { get; }
    public string Access { get; }
    public bool Allow { get; }

    public DeviceRule(char type, long major, long minor, string access, bool allow = true)
    {
        if (type is not ('a' or 'b' or 'c')) throw new ArgumentException($"device rule: type '{type}' is not a, b or c");
        if (major < Any || major > uint.MaxValue) throw new ArgumentException($"device rule: major {major} out of range");
        if (minor < Any || minor > uint.MaxValue) throw new ArgumentException($"device rule: minor {minor} out of range");
        // The v1 kernel reads "a" as "everything" whatever follows it, so "a 8:* r" would silently
        // allow every device: refuse anything but the full form.
        if (type == 'a' && (major != Any || minor != Any || NormalizeAccess(access) != "rwm"))
            throw new ArgumentException("device rule: type 'a' stands for every device: only \"a *:* rwm\" (or \"a\") is accepted");
        Type = type;
        Major = major;
        Minor = minor;
        Access = NormalizeAccess(access);
        Allow = allow;
    }

    static string NormalizeAccess(string access)
    {
        if (string.IsNullOrEmpty(access) || access.Length > 3 || access.Any(c => c is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length)
            throw new ArgumentException($"device rule: access \"{access}\" is not a non-empty subset of rwm");
        return (access.Contains('r') ? "r" : "") + (access.Contains('w') ? "w" : "") + (access.Contains('m') ? "m" : "");
    }

    /// <summary>The v1 devices.allow / devices.deny line: "c 1:3 rwm", "b 8:* m", "a *:* rwm".</summary>
    public string ToV1Text() => $"{Type} {Num(Major)}:{Num(Minor)} {Access}";

    static string Num(long n) => n == Any ? "*" : n.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => (Allow ? "" : "deny ") + ToV1Text();

    /// <summary>
    /// Parses the v1 text form (Docker's --device-cgroup-rule): "TYPE MAJOR:MINOR ACCESS" with TYPE
    /// a, b or c, MAJOR and MINOR decimal or '*', ACCESS a subset of rwm; "a" alone means
    /// "a *:* rwm" (as the kernel reads it). Throws ArgumentException naming the text otherwise.
    /// </summary>
    public static DeviceRule Parse(string text, bool allow = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            var t = text.Trim();
            if (t == "a") return new DeviceRule('a', Any, Any, "rwm", allow);
            var parts = t.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || parts[0].Length != 1) throw new ArgumentException("expected \"TYPE MAJOR:MINOR ACCESS\", e.g. \"c 1:3 rwm\"");
            var mm = parts[1].Split(':');
            if (mm.Length != 2) throw new ArgumentException($"\"{parts[1]}\" is not MAJOR:MINOR");
            return new DeviceRule(parts[0][0], ParseNum(mm[0], "major"), ParseNum(mm[1], "minor"), parts[2], allow);
        }
        catch (ArgumentException e)
        {
            var why = e.Message.StartsWith("device rule: ", StringComparison.Ordinal) ? e.Message["device rule: ".Length..] : e.Message;
            throw new ArgumentException($"invalid device cgroup format '{text}': {why}", e);
        }
    }

    static long ParseNum(string s, string what)
    {
        if (s == "*") return Any;
        if (s.Length == 0 || s.Any(c => c is < '0' or > '9') || !uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new ArgumentException($"{what} \"{s}\" is not a number or *");
        return n;
    }

    /// <summary>
    /// The rule for a host device node, for `--device HOST[:CONTAINER[:PERMS]]`: stats
    /// <paramref name="hostPath"/> (symlinks followed, as Docker resolves /dev/disk/by-id links) and
    /// takes its type and numbers. Throws if it is not a character or block device.
    /// </summary>
    public static DeviceRule ForHostDevice(string hostPath, string access = "rwm")
    {
        int fd = Sys.Open(hostPath, O_PATH);
        try
        {
            if (!Sys.TryStatDevice(fd, out var mode, out var rdev)) throw new SyscallException("stat", hostPath, Libc.Errno);
            const int S_IFMT = 0xF000, S_IFCHR = 0x2000, S_IFBLK = 0x6000;
            char type = (mode & S_IFMT) switch
            {
                S_IFCHR => 'c',
                S_IFBLK => 'b',
                _ => throw new SyscallException("--device", hostPath, "not a character or block device"),
            };
            // glibc's makedev: major in bits 8-19 (and 32-43), minor in bits 0-7 (and 12-31).
            var major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffUL);
            var minor = (rdev & 0xff) | ((rdev >> 12) & ~0xffUL);
            return new DeviceRule(type, (long)major, (long)minor, access);
        }
        finally { Sys.Close(fd); }
    }
}

/// <summary>Ready-made rule lists for <see cref="CgroupLimits.Devices"/>.</summary>
public static class DeviceRules
{
    static DeviceRule C(long major, long minor) => new('c', major, minor, "rwm");

    /// <summary>
    /// What a Docker container gets (moby's spec starts with "deny all"; runc, which Docker runs,
    /// appends its built-in allow-list to every container): mknod of any node (opening one is a
    /// separate check, so a container may create /dev/sda but not read it), and the devices every
    /// container has. tun (10:200): runc removed it in 1.2.0 and put it back in 1.2.4 (Dec 2024,
    /// opencontainers/runc#4555) because workloads relied on it; current Docker releases ship a runc
    /// with it, so it is here too (creating an interface still needs CAP_NET_ADMIN in the container).
    /// </summary>
    public static readonly IReadOnlyList<DeviceRule> DockerDefault =
    [
        new('c', DeviceRule.Any, DeviceRule.Any, "m"),
        new('b', DeviceRule.Any, DeviceRule.Any, "m"),
        C(1, 3),   // /dev/null
        C(1, 5),   // /dev/zero
        C(1, 7),   // /dev/full
        C(1, 8),   // /dev/random
        C(1, 9),   // /dev/urandom
        C(5, 0),   // /dev/tty
        C(5, 1),   // /dev/console
        C(5, 2),   // /dev/ptmx
        C(136, DeviceRule.Any), // /dev/pts/*
        C(10, 200), // /dev/net/tun
    ];

    /// <summary>--privileged: every device, every access.</summary>
    public static readonly IReadOnlyList<DeviceRule> AllowAll = [new('a', DeviceRule.Any, DeviceRule.Any, "rwm")];

    /// <summary>Parses one rule per entry (allow rules, as --device-cgroup-rule gives them).</summary>
    public static IReadOnlyList<DeviceRule> Parse(IEnumerable<string> texts) => texts.Select(t => DeviceRule.Parse(t)).ToList();
}
