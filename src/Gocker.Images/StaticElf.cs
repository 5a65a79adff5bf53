using System.Buffers.Binary;

namespace Gocker.Images;

/// <summary>Tells whether a file is a statically linked ELF executable: one without a PT_INTERP program
/// header. A dynamic binary copied alone into an image would fail with a confusing ENOENT at exec
/// (its loader is missing), so we check before building.</summary>
internal static class StaticElf
{
    const uint PT_INTERP = 3;

    /// <summary>Null if static; otherwise why not ("not an ELF file", "dynamically linked").</summary>
    public static string? WhyNotStatic(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> ident = stackalloc byte[64];
        if (f.ReadAtLeast(ident, 64, throwOnEndOfStream: false) < 52 ||
            ident[0] != 0x7f || ident[1] != (byte)'E' || ident[2] != (byte)'L' || ident[3] != (byte)'F')
            return "not an ELF file";
        bool is64 = ident[4] == 2;
        bool little = ident[5] == 1;
        ulong U(ReadOnlySpan<byte> s, int size) => size switch
        {
            2 => little ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s),
            4 => little ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s),
            _ => little ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt64BigEndian(s),
        };
        ulong phoff = is64 ? U(ident[32..], 8) : U(ident[28..], 4);
        int phentsize = (int)(is64 ? U(ident[54..], 2) : U(ident[42..], 2));
        int phnum = (int)(is64 ? U(ident[56..], 2) : U(ident[44..], 2));
        if (phnum == 0) return "not an executable (no program headers)";
        if (phentsize < 4 || phentsize > 1024) return "corrupt ELF header";
        var ph = new byte[phentsize];
        for (int i = 0; i < phnum; i++)
        {
            f.Position = (long)phoff + (long)i * phentsize;
            if (f.ReadAtLeast(ph, phentsize, throwOnEndOfStream: false) < phentsize) return "corrupt ELF program headers";
            if (U(ph, 4) == PT_INTERP) return "dynamically linked";
        }
        return null;
    }
}
