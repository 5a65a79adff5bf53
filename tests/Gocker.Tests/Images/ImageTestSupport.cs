using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using Gocker.Images;

namespace Gocker.Tests.Images;

/// <summary>A private images directory (and a sibling "outside" directory that attacks aim at), removed afterwards.</summary>
public sealed class TempImages : IDisposable
{
    public string Base { get; } = Path.Combine(Path.GetTempPath(), "gocker-img-test-" + Guid.NewGuid().ToString("N"));
    public string ImagesDir => Path.Combine(Base, "images");
    public string Outside => Path.Combine(Base, "outside");

    public TempImages()
    {
        Directory.CreateDirectory(ImagesDir);
        Directory.CreateDirectory(Outside);
    }

    public ImageStore Store(ImageStoreOptions? options = null) => new(ImagesDir, options);

    public void Dispose()
    {
        try { Directory.Delete(Base, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}

/// <summary>Builds tar archives in memory with TarWriter (pax format unless told otherwise).</summary>
public sealed class TarBuilder
{
    public static readonly DateTimeOffset T0 = new(2021, 3, 4, 5, 6, 7, TimeSpan.Zero);
    readonly MemoryStream _ms = new();
    readonly TarWriter _writer;
    readonly TarEntryFormat _format;

    public TarBuilder(TarEntryFormat format = TarEntryFormat.Pax)
    {
        _format = format;
        _writer = new TarWriter(_ms, format, leaveOpen: true);
    }

    TarEntry New(TarEntryType type, string name) => _format switch
    {
        TarEntryFormat.Gnu => new GnuTarEntry(type, name),
        TarEntryFormat.Ustar => new UstarTarEntry(type, name),
        _ => new PaxTarEntry(type, name),
    };

    public TarBuilder Add(TarEntry e) { _writer.WriteEntry(e); return this; }

    public TarBuilder Dir(string name, int mode = 0b111_101_101, int uid = 0, int gid = 0)
    {
        var e = New(TarEntryType.Directory, name);
        e.Mode = (UnixFileMode)mode; e.Uid = uid; e.Gid = gid; e.ModificationTime = T0;
        return Add(e);
    }

    public TarBuilder File(string name, string content, int mode = 0b110_100_100, int uid = 0, int gid = 0) =>
        File(name, Encoding.UTF8.GetBytes(content), mode, uid, gid);

    public TarBuilder File(string name, byte[] content, int mode = 0b110_100_100, int uid = 0, int gid = 0)
    {
        var e = New(TarEntryType.RegularFile, name);
        e.Mode = (UnixFileMode)mode; e.Uid = uid; e.Gid = gid; e.ModificationTime = T0;
        e.DataStream = new MemoryStream(content);
        return Add(e);
    }

    public TarBuilder Symlink(string name, string target, int uid = 0, int gid = 0)
    {
        var e = New(TarEntryType.SymbolicLink, name);
        e.LinkName = target; e.Mode = (UnixFileMode)0b111_111_111; e.Uid = uid; e.Gid = gid; e.ModificationTime = T0;
        return Add(e);
    }

    public TarBuilder Hardlink(string name, string target)
    {
        var e = New(TarEntryType.HardLink, name);
        e.LinkName = target; e.ModificationTime = T0;
        return Add(e);
    }

    public TarBuilder Node(TarEntryType type, string name, int major = 0, int minor = 0, int mode = 0b110_100_100)
    {
        var e = (PosixTarEntry)New(type, name);
        e.Mode = (UnixFileMode)mode; e.ModificationTime = T0;
        if (type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice) { e.DeviceMajor = major; e.DeviceMinor = minor; }
        return Add(e);
    }

    public byte[] Bytes()
    {
        _writer.Dispose();
        return _ms.ToArray();
    }

    public MemoryStream Stream() => new(Bytes());
}

/// <summary>lstat through coreutils' stat: owner, mode (octal incl. suid/sgid/sticky), type, mtime.</summary>
public static class Lstat
{
    public sealed record Info(int Uid, int Gid, string Mode, string Type, long Mtime, long Inode, int Links);

    public static Info Of(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-c", "%u %g %a %F|%Y %i %h", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"stat {path}: {err}");
        var bar = output.Split('|');
        var a = bar[0].Split(' ', 4);
        var b = bar[1].Split(' ');
        return new Info(int.Parse(a[0]), int.Parse(a[1]), a[2], a[3], long.Parse(b[0]), long.Parse(b[1]), int.Parse(b[2]));
    }
}
