using Gocker.Syscalls.IO;
using System.Text.Json;

namespace Gocker.Actors.Containers;

/// <summary>
/// Container records on disk: DataRoot/containers/ID/state.json, written like runc writes
/// state.json (temp file, fsync, rename), so a crash leaves the old or the new record, never half.
/// <para>A reserved record (<c>reserve: true</c>, every container but --rm ones) cannot fail for want
/// of space once it exists: it keeps a spare, <c>.state.json.spare</c>, as big as the record's slot
/// (the record padded with spaces to a multiple of 4 KiB, half as much again as it needs). A save
/// overwrites the spare in place (its blocks are already allocated: no new ones are needed), fsyncs
/// it and swaps it with state.json (renameat2 RENAME_EXCHANGE: atomic, allocates nothing); the old
/// record becomes the next spare. So a container stopped on a full disk still gets its exit on
/// disk, and a daemon restarted before space comes back reads its real exit. Only a record that
/// outgrows its slot, or a filesystem without RENAME_EXCHANGE, takes the temp+rename path (which
/// needs new blocks). The padding is JSON whitespace: readers see the same document.
/// --rm containers skip this (their exit is not recorded at all, and the extra file would cost
/// the start path).</para>
/// </summary>
public static class StateStore
{
    public const string FileName = "state.json";
    public const string SpareName = ".state.json.spare";
    const int Block = 4096;
    static volatile bool exchangeUnsupported;

    public static void Save(string containerDir, ContainerRecord record, bool reserve = false)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(record, StateJson.Default.ContainerRecord);
        var path = Path.Combine(containerDir, FileName);
        if (!reserve || exchangeUnsupported)
        {
            AtomicFile.Write(path, json, syncDirectory: false);
            return;
        }
        var spare = Path.Combine(containerDir, SpareName);
        if (TryRewriteInPlace(spare, json))
        {
            if (DiskSpace.TryExchange(spare, path, out var errno)) return;
            if (errno == 2 /* ENOENT: no state.json yet (or the spare went) */ && File.Exists(spare))
            {
                File.Move(spare, path, overwrite: true);
                return;
            }
            if (errno is 22 or 95 /* EINVAL, EOPNOTSUPP: no RENAME_EXCHANGE on this filesystem */) exchangeUnsupported = true;
        }
        // First save, or the record outgrew its slot: a new slot (this needs space), then its spare.
        var padded = Pad(json, SlotSize(json.Length));
        AtomicFile.Write(path, padded, syncDirectory: false);
        if (exchangeUnsupported) return;
        try
        {
            // Not fsynced: after a crash a short or missing spare only means the next save makes one.
            using var f = new FileStream(spare, FileMode.Create, FileAccess.Write, FileShare.None);
            f.Write(padded);
        }
        catch (IOException)
        {
            // No room for the spare: the record is saved; the next save tries again.
            try { File.Delete(spare); } catch (IOException) { }
        }
    }

    /// <summary>Overwrites the spare with the record padded to the spare's own length (no block
    /// allocated) and fsyncs it. False when there is no spare, it is too small, or writing failed
    /// (state.json is untouched either way).</summary>
    static bool TryRewriteInPlace(string spare, byte[] json)
    {
        try
        {
            using var f = new FileStream(spare, FileMode.Open, FileAccess.Write, FileShare.None);
            var length = f.Length;
            if (length < json.Length + 1 || length > 1 << 24) return false;
            f.Write(Pad(json, (int)length));
            f.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    static int SlotSize(int length) => Math.Max(Block, (length + length / 2 + Block - 1) / Block * Block);

    static byte[] Pad(byte[] json, int size)
    {
        var padded = new byte[size];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        padded[^1] = (byte)'\n';
        return padded;
    }

    /// <summary>Whether the record has its spare (a reserved record written by this daemon version).</summary>
    public static bool HasSpare(string containerDir) => exchangeUnsupported || File.Exists(Path.Combine(containerDir, SpareName));

    public static ContainerRecord? Load(string containerDir)
    {
        var path = Path.Combine(containerDir, FileName);
        if (!File.Exists(path)) return null;
        using var fs = File.OpenRead(path);
        return JsonSerializer.Deserialize(fs, StateJson.Default.ContainerRecord);
    }
}
