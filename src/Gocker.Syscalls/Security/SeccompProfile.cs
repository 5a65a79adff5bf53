using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gocker.Syscalls.Security;

/// <summary>What a seccomp rule does to a matching call (libseccomp's SCMP_ACT_*).</summary>
public enum SeccompActionKind { KillThread, KillProcess, Trap, Errno, Trace, Log, Allow }

/// <summary>An action with its return value (errno for Errno, the tracer's message for Trace).</summary>
public readonly record struct SeccompAction(SeccompActionKind Kind, uint Value = 0)
{
    /// <summary>libseccomp's (and the kernel's SECCOMP_RET_*) encoding.</summary>
    public uint Encode() => Kind switch
    {
        SeccompActionKind.KillThread => 0x00000000,
        SeccompActionKind.KillProcess => 0x80000000,
        SeccompActionKind.Trap => 0x00030000,
        SeccompActionKind.Errno => 0x00050000 | (Value & 0xffff),
        SeccompActionKind.Trace => 0x7ff00000 | (Value & 0xffff),
        SeccompActionKind.Log => 0x7ffc0000,
        _ => 0x7fff0000,
    };
}

/// <summary>libseccomp's scmp_compare values.</summary>
public enum SeccompOp { NotEqual = 1, LessThan = 2, LessOrEqual = 3, Equal = 4, GreaterOrEqual = 5, GreaterThan = 6, MaskedEqual = 7 }

/// <summary>A condition on argument Index: for MaskedEqual, (arg &amp; Value) == ValueTwo.</summary>
public sealed record SeccompArg(uint Index, ulong Value, ulong ValueTwo, SeccompOp Op);

/// <summary>Docker's includes/excludes: the entry applies only on these arches (Go names: amd64, x86,
/// arm64...), with all of these capabilities, on at least this kernel (includes); not at all if any
/// of them holds (excludes).</summary>
public sealed record SeccompCondition(string[] Caps, string[] Arches, string? MinKernel)
{
    public static readonly SeccompCondition None = new([], [], null);
    /// <summary>Caps as a mask (bit n = capability n).</summary>
    public ulong CapMask { get; init; }
}

/// <summary>One entry of "syscalls".</summary>
public sealed record SeccompRule(string[] Names, SeccompAction Action, SeccompArg[] Args,
    SeccompCondition Includes, SeccompCondition Excludes);

/// <summary>An architecture and the ones the same kernel also runs (x86_64: x86 and x32).</summary>
public sealed record SeccompArchMap(string Arch, string[] SubArches);

/// <summary>
/// A seccomp profile in Docker's JSON format (moby's profiles/seccomp): defaultAction, defaultErrnoRet,
/// architectures or archMap, syscalls[{names, action, errnoRet, args, includes, excludes}]. Parsed with
/// Utf8JsonReader (Gocker.Syscalls must stay AOT-safe). Unknown properties are ignored, as Docker's
/// json.Unmarshal does; unknown values (an action, an op, an arch, a capability) are errors.
/// </summary>
public sealed class SeccompProfile
{
    public required SeccompAction DefaultAction { get; init; }
    /// <summary>SCMP_ARCH_* names from "architectures".</summary>
    public string[] Architectures { get; init; } = [];
    public SeccompArchMap[] ArchMap { get; init; } = [];
    public SeccompRule[] Syscalls { get; init; } = [];
    /// <summary>SHA-256 of the JSON text: compiled programs are cached by it.</summary>
    public required string ContentHash { get; init; }

    static readonly Lazy<SeccompProfile> _default = new(() =>
    {
        using var s = typeof(SeccompProfile).Assembly.GetManifestResourceStream("Gocker.Syscalls.Security.default-seccomp.json")
            ?? throw new InvalidOperationException("embedded resource default-seccomp.json is missing");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return Parse(ms.ToArray());
    });

    /// <summary>Docker's default profile (our copy, embedded: Security/default-seccomp.json).</summary>
    public static SeccompProfile Default => _default.Value;

    /// <summary>The SCMP_ARCH_* name of the architecture this process runs on.</summary>
    public static string NativeArch => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "SCMP_ARCH_X86_64",
        Architecture.X86 => "SCMP_ARCH_X86",
        Architecture.Arm64 => "SCMP_ARCH_AARCH64",
        Architecture.Arm => "SCMP_ARCH_ARM",
        Architecture.S390x => "SCMP_ARCH_S390X",
        Architecture.RiscV64 => "SCMP_ARCH_RISCV64",
        Architecture.Ppc64le => "SCMP_ARCH_PPC64LE",
        Architecture.LoongArch64 => "SCMP_ARCH_LOONGARCH64",
        var a => throw new PlatformNotSupportedException($"seccomp: no SCMP_ARCH for {a}"),
    };

    /// <summary>The Go name Docker's includes/excludes "arches" use for this architecture.</summary>
    public static string NativeGoArch => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.X86 => "x86",
        Architecture.Arm64 => "arm64",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.RiscV64 => "riscv64",
        Architecture.Ppc64le => "ppc64le",
        Architecture.LoongArch64 => "loong64",
        var a => throw new PlatformNotSupportedException($"seccomp: no arch name for {a}"),
    };

    static readonly HashSet<string> ScmpArches =
    [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    ];

    static readonly HashSet<string> GoArches =
    [
        "x86", "386", "amd64", "x32", "arm", "arm64", "mips", "mipsle", "mipsel", "mips64", "mips64n32", "mipsel64",
        "mipsel64n32", "mips3l64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "riscv64", "loong64",
    ];

    public static SeccompProfile Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <exception cref="FormatException">Not a profile; the message names the field and the value.</exception>
    public static SeccompProfile Parse(ReadOnlySpan<byte> json)
    {
        var r = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            Next(ref r, "profile");
            if (r.TokenType != JsonTokenType.StartObject) throw Bad("profile", "must be a JSON object");
            string? defaultAction = null;
            uint? defaultErrno = null;
            string[] architectures = [];
            SeccompArchMap[] archMap = [];
            List<(string? Name, string[] Names, string Action, uint? Errno, SeccompArg[] Args, SeccompCondition Inc, SeccompCondition Exc, int Index)> raw = [];
            while (Next(ref r, "profile") && r.TokenType == JsonTokenType.PropertyName)
            {
                string prop = r.GetString()!;
                Next(ref r, prop);
                switch (prop)
                {
                    case "defaultAction": defaultAction = Str(ref r, prop); break;
                    case "defaultErrnoRet": defaultErrno = OptUInt(ref r, prop); break;
                    case "architectures": architectures = Arches(ref r, prop); break;
                    case "archMap": archMap = ArchMaps(ref r); break;
                    case "syscalls":
                        if (r.TokenType == JsonTokenType.Null) break;
                        if (r.TokenType != JsonTokenType.StartArray) throw Bad("syscalls", "must be an array");
                        int i = 0;
                        while (Next(ref r, "syscalls") && r.TokenType != JsonTokenType.EndArray)
                            raw.Add(Syscall(ref r, i++));
                        break;
                    default: r.Skip(); break; // "comment", "flags", "listenerPath"...: Docker ignores unknown keys too
                }
            }
            if (architectures.Length > 0 && archMap.Length > 0)
                throw Bad("architectures", "'architectures' and 'archMap' both given: use one of them");
            if (defaultAction is null) throw Bad("defaultAction", "missing");
            var def = Action(defaultAction, "defaultAction", defaultErrno);
            var rules = raw.Select(s =>
            {
                string where = $"syscalls[{s.Index}]";
                if (s.Name is not null && s.Names.Length > 0) throw Bad(where, "'name' and 'names' both given: use one of them");
                string[] names = s.Name is not null ? [s.Name] : s.Names;
                if (names.Length == 0) throw Bad(where + ".names", "no syscall named");
                return new SeccompRule(names, Action(s.Action, where + ".action", s.Errno), s.Args, s.Inc, s.Exc);
            }).ToArray();
            return new SeccompProfile
            {
                DefaultAction = def, Architectures = architectures, ArchMap = archMap, Syscalls = rules,
                ContentHash = Convert.ToHexStringLower(SHA256.HashData(json)),
            };
        }
        catch (JsonException e) { throw new FormatException($"seccomp profile: invalid JSON: {e.Message}", e); }
        catch (InvalidOperationException e) { throw new FormatException($"seccomp profile: invalid JSON: {e.Message}", e); }
    }

    static (string?, string[], string, uint?, SeccompArg[], SeccompCondition, SeccompCondition, int) Syscall(ref Utf8JsonReader r, int index)
    {
        string where = $"syscalls[{index}]";
        if (r.TokenType != JsonTokenType.StartObject) throw Bad(where, "must be an object");
        string? name = null, action = null;
        string[] names = [];
        uint? errno = null;
        SeccompArg[] args = [];
        var inc = SeccompCondition.None;
        var exc = SeccompCondition.None;
        while (Next(ref r, where) && r.TokenType == JsonTokenType.PropertyName)
        {
            string prop = r.GetString()!;
            string at = where + "." + prop;
            Next(ref r, at);
            switch (prop)
            {
                case "name": name = Str(ref r, at); break;
                case "names": names = Strings(ref r, at); break;
                case "action": action = Str(ref r, at); break;
                case "errnoRet": errno = OptUInt(ref r, at); break;
                case "args": args = Args(ref r, at); break;
                case "includes": inc = Condition(ref r, at); break;
                case "excludes": exc = Condition(ref r, at); break;
                default: r.Skip(); break; // "comment"
            }
        }
        if (action is null) throw Bad(where + ".action", "missing");
        return (name, names, action, errno, args, inc, exc, index);
    }

    static SeccompAction Action(string name, string where, uint? errno)
    {
        var kind = name switch
        {
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompActionKind.KillThread,
            "SCMP_ACT_KILL_PROCESS" => SeccompActionKind.KillProcess,
            "SCMP_ACT_TRAP" => SeccompActionKind.Trap,
            "SCMP_ACT_ERRNO" => SeccompActionKind.Errno,
            "SCMP_ACT_TRACE" => SeccompActionKind.Trace,
            "SCMP_ACT_LOG" => SeccompActionKind.Log,
            "SCMP_ACT_ALLOW" => SeccompActionKind.Allow,
            "SCMP_ACT_NOTIFY" => throw Bad(where, "SCMP_ACT_NOTIFY is not supported (no seccomp agent)"),
            _ => throw Bad(where, $"unknown action '{name}'"),
        };
        // As runc: an ERRNO without a value is EPERM; TRACE's default message is EPERM too.
        uint value = errno ?? (kind is SeccompActionKind.Errno or SeccompActionKind.Trace ? 1u : 0u);
        if (value > 0xffff) throw Bad(where, $"return value {value} does not fit 16 bits");
        return new SeccompAction(kind, value);
    }

    static SeccompArg[] Args(ref Utf8JsonReader r, string where)
    {
        if (r.TokenType == JsonTokenType.Null) return [];
        if (r.TokenType != JsonTokenType.StartArray) throw Bad(where, "must be an array");
        var list = new List<SeccompArg>();
        while (Next(ref r, where) && r.TokenType != JsonTokenType.EndArray)
        {
            string at = $"{where}[{list.Count}]";
            if (r.TokenType != JsonTokenType.StartObject) throw Bad(at, "must be an object");
            uint? index = null;
            ulong value = 0, valueTwo = 0;
            string? op = null;
            while (Next(ref r, at) && r.TokenType == JsonTokenType.PropertyName)
            {
                string prop = r.GetString()!;
                Next(ref r, at + "." + prop);
                switch (prop)
                {
                    case "index": index = UInt(ref r, at + ".index"); break;
                    case "value": value = ULong(ref r, at + ".value"); break;
                    case "valueTwo": valueTwo = ULong(ref r, at + ".valueTwo"); break;
                    case "op": op = Str(ref r, at + ".op"); break;
                    default: r.Skip(); break;
                }
            }
            if (index is null) throw Bad(at + ".index", "missing");
            if (index > 5) throw Bad(at + ".index", $"{index} is not a syscall argument (0-5)");
            var o = op switch
            {
                "SCMP_CMP_NE" => SeccompOp.NotEqual,
                "SCMP_CMP_LT" => SeccompOp.LessThan,
                "SCMP_CMP_LE" => SeccompOp.LessOrEqual,
                "SCMP_CMP_EQ" => SeccompOp.Equal,
                "SCMP_CMP_GE" => SeccompOp.GreaterOrEqual,
                "SCMP_CMP_GT" => SeccompOp.GreaterThan,
                "SCMP_CMP_MASKED_EQ" => SeccompOp.MaskedEqual,
                null => throw Bad(at + ".op", "missing"),
                _ => throw Bad(at + ".op", $"unknown op '{op}'"),
            };
            list.Add(new SeccompArg(index.Value, value, valueTwo, o));
        }
        return list.ToArray();
    }

    static SeccompCondition Condition(ref Utf8JsonReader r, string where)
    {
        if (r.TokenType == JsonTokenType.Null) return SeccompCondition.None;
        if (r.TokenType != JsonTokenType.StartObject) throw Bad(where, "must be an object");
        string[] caps = [], arches = [];
        string? minKernel = null;
        while (Next(ref r, where) && r.TokenType == JsonTokenType.PropertyName)
        {
            string prop = r.GetString()!;
            string at = where + "." + prop;
            Next(ref r, at);
            switch (prop)
            {
                case "caps": caps = Strings(ref r, at); break;
                case "arches": arches = Strings(ref r, at); break;
                case "minKernel": minKernel = Str(ref r, at); break;
                default: r.Skip(); break;
            }
        }
        ulong mask = 0;
        foreach (var c in caps)
        {
            int n = CapabilitySet.Parse(c);
            if (n < 0) throw Bad(where + ".caps", $"unknown capability '{c}'");
            mask |= 1UL << n;
        }
        foreach (var a in arches)
            if (!GoArches.Contains(a)) throw Bad(where + ".arches", $"unknown arch '{a}'");
        if (minKernel is not null && ParseKernel(minKernel) is null) throw Bad(where + ".minKernel", $"'{minKernel}' is not a kernel version (like 4.8)");
        return new SeccompCondition(caps, arches, minKernel) { CapMask = mask };
    }

    /// <summary>"4.8", "5.10.1" or "6.1-rc2" → (major, minor); null if not a version.</summary>
    public static (int Major, int Minor)? ParseKernel(string v)
    {
        var parts = v.Split('.', '-', '+');
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major)) return null;
        // "6.18.0-1-amd64": the minor number's digits only
        string minorText = new(parts[1].TakeWhile(char.IsAsciiDigit).ToArray());
        if (!int.TryParse(minorText, NumberStyles.None, CultureInfo.InvariantCulture, out int minor)) return null;
        return (major, minor);
    }

    static string[] Arches(ref Utf8JsonReader r, string where)
    {
        var list = Strings(ref r, where);
        foreach (var a in list)
            if (!ScmpArches.Contains(a)) throw Bad(where, $"unknown arch '{a}'");
        return list;
    }

    static SeccompArchMap[] ArchMaps(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return [];
        if (r.TokenType != JsonTokenType.StartArray) throw Bad("archMap", "must be an array");
        var list = new List<SeccompArchMap>();
        while (Next(ref r, "archMap") && r.TokenType != JsonTokenType.EndArray)
        {
            string at = $"archMap[{list.Count}]";
            if (r.TokenType != JsonTokenType.StartObject) throw Bad(at, "must be an object");
            string? arch = null;
            string[] subs = [];
            while (Next(ref r, at) && r.TokenType == JsonTokenType.PropertyName)
            {
                string prop = r.GetString()!;
                Next(ref r, at + "." + prop);
                switch (prop)
                {
                    case "architecture": arch = Str(ref r, at + ".architecture"); break;
                    case "subArchitectures": subs = Arches(ref r, at + ".subArchitectures"); break;
                    default: r.Skip(); break;
                }
            }
            if (arch is null) throw Bad(at + ".architecture", "missing");
            if (!ScmpArches.Contains(arch)) throw Bad(at + ".architecture", $"unknown arch '{arch}'");
            list.Add(new SeccompArchMap(arch, subs));
        }
        return list.ToArray();
    }

    static bool Next(ref Utf8JsonReader r, string where) =>
        r.Read() ? true : throw Bad(where, "unexpected end of the JSON");

    static string Str(ref Utf8JsonReader r, string where) =>
        r.TokenType == JsonTokenType.String ? r.GetString()! : throw Bad(where, $"must be a string, not {r.TokenType}");

    static string[] Strings(ref Utf8JsonReader r, string where)
    {
        if (r.TokenType == JsonTokenType.Null) return [];
        if (r.TokenType != JsonTokenType.StartArray) throw Bad(where, $"must be an array of strings, not {r.TokenType}");
        var list = new List<string>();
        while (Next(ref r, where) && r.TokenType != JsonTokenType.EndArray) list.Add(Str(ref r, where));
        return list.ToArray();
    }

    static uint? OptUInt(ref Utf8JsonReader r, string where) => r.TokenType == JsonTokenType.Null ? null : UInt(ref r, where);

    static uint UInt(ref Utf8JsonReader r, string where) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt32(out uint v) ? v : throw Bad(where, $"must be a non-negative 32-bit integer");

    static ulong ULong(ref Utf8JsonReader r, string where) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt64(out ulong v) ? v : throw Bad(where, $"must be a non-negative 64-bit integer");

    static FormatException Bad(string where, string what) => new($"seccomp profile: {where}: {what}");
}
