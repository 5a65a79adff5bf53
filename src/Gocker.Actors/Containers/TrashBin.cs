using System.Collections.Concurrent;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// Takes the deletion of a removed container's directories off the path of `rm` and `run --rm`.
/// A directory is renamed into a trash directory on the same filesystem (ROOT/trash: one rename,
/// atomic, so the container is out of ROOT/containers at once and a crash leaves it whole in the
/// trash, never half in containers/), and a background thread deletes it. Whatever a previous
/// daemon left in the trash is deleted at start.
///
/// Why: deleting a container's files and directories costs ~0.6 ms per `run --rm` on an ext4
/// mounted with `discard` (each freed block is discarded synchronously), and the console waited for
/// it (bench/RESULTS.md, "The removal off the path").
/// </summary>
public sealed class TrashBin
{
    readonly BlockingCollection<string> _queue = new();
    readonly Action<string>? _log;
    int _pending;

    /// <param name="trashDirs">One trash dir per root whose directories are discarded (data root,
    /// exec root); each must be on the same filesystem as the directories renamed into it.</param>
    public TrashBin(IEnumerable<string> trashDirs, Action<string>? log = null)
    {
        _log = log;
        foreach (var t in trashDirs)
        {
            // Private to root, as the container dirs it receives (upper dirs can hold setuid files).
            Directory.CreateDirectory(t, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var left in Directory.EnumerateFileSystemEntries(t)) Enqueue(left);
        }
        new Thread(Run) { IsBackground = true, Name = "gocker-trash" }.Start();
    }

    /// <summary>Directories renamed into the trash and not yet deleted.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Moves <paramref name="dir"/> into <paramref name="trashDir"/> to be deleted in the
    /// background; deletes it here if it cannot be moved (e.g. another filesystem). A missing dir is
    /// nothing to do.</summary>
    public void Discard(string dir, string trashDir)
    {
        if (!Directory.Exists(dir)) return;
        var target = Path.Combine(trashDir, Path.GetFileName(dir) + "." + Guid.NewGuid().ToString("N")[..8]);
        try { Directory.Move(dir, target); }
        catch (IOException) when (Directory.Exists(dir))
        {
            Delete(dir);
            return;
        }
        Enqueue(target);
    }

    void Enqueue(string path)
    {
        Interlocked.Increment(ref _pending);
        _queue.Add(path);
    }

    void Run()
    {
        // Behind every container's work: the deletion waits on the disk, and its CPU is nobody's hurry.
        ThreadNice.LowerCurrentThread(19);
        foreach (var path in _queue.GetConsumingEnumerable())
        {
            try { Delete(path); }
            catch (Exception ex) { _log?.Invoke($"trash: cannot delete {path}: {ex.Message} (retried at the next daemon start)"); }
            finally { Interlocked.Decrement(ref _pending); }
        }
    }

    /// <summary>Directory.Delete unlinks symlinks without following them, so a symlink planted in an
    /// upper dir cannot redirect the deletion to a host path.</summary>
    static void Delete(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        else File.Delete(path);
    }
}
