using Gocker.Syscalls.IO;

namespace Gocker.Host;

/// <summary>New work refused for want of space on the data root: 507 Insufficient Storage.</summary>
public sealed class InsufficientStorageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// New work on a full data root (container create, which `run` is; commit; image load and import)
/// is refused before anything is made, with a message naming the data root and its free space
/// (Docker's answer is a 500 "no space left on device" from wherever it failed, often half-way).
/// A request that still meets ENOSPC half-way (the space went meanwhile) gets the same answer, after
/// what it made was undone by its own clean-up (ContainerLayout.CreateData, the image store). The
/// check is a statvfs per such request, so work is accepted again as soon as space is back.
/// Status 507: the docker CLI prints the message as it does any error's ("Error response from
/// daemon: ..."), docker-py and Docker.DotNet raise their API error with it, and the status says
/// what a retry needs, which a 500 does not.
/// </summary>
public sealed class StorageGuard
{
    /// <summary>gocker.storage.min-free as shipped: room for a container's dirs, record and first log
    /// writes, or an image's metadata, beyond which a create would fail half-way.</summary>
    public const long DefaultMinFree = 4L << 20;
    /// <summary>Inodes a create needs (dirs, record, spare, log files) with a margin.</summary>
    const long MinInodes = 64;

    /// <summary>The daemon's guard, for errors met outside a route that knows it (ErrorMapping.Error).</summary>
    static StorageGuard? current;

    public string DataRoot { get; }
    public long MinFree { get; }

    public StorageGuard(string dataRoot, long minFree)
    {
        DataRoot = dataRoot;
        MinFree = minFree;
        current = this;
    }

    static readonly string[] guarded = ["/containers/create", "/commit", "/images/load", "/images/create"];

    /// <summary>Throws InsufficientStorageException when the data root has less than MinFree.</summary>
    public void Check()
    {
        long bytes, inodes;
        try { (bytes, inodes) = DiskSpace.Available(DataRoot); }
        catch (Gocker.Syscalls.SyscallException) { return; } // no answer from statvfs: the work itself will tell
        if (bytes < MinFree || inodes < MinInodes) throw Full(bytes, inodes);
    }

    InsufficientStorageException Full(long? bytes = null, long? inodes = null, Exception? inner = null)
    {
        if (bytes is null)
        {
            try { (var b, var i) = DiskSpace.Available(DataRoot); bytes = b; inodes = i; }
            catch (Gocker.Syscalls.SyscallException) { }
        }
        var free = bytes is { } f ? DiskSpace.Describe(f) : "unknown";
        var files = inodes is < MinInodes ? $" and {inodes} free inodes" : "";
        return new InsufficientStorageException(
            $"no space left on device: the data root {DataRoot} has {free} free{files}; new containers and images need at least " +
            $"{DiskSpace.Describe(MinFree)} (gocker.storage.min-free). Free some space (remove containers, images, logs) and retry.", inner);
    }

    /// <summary>An ENOSPC/EDQUOT met while working becomes the same clear error; anything else is as it was.</summary>
    public static Exception Translate(Exception ex) =>
        ex is not InsufficientStorageException && current is { } g && DiskSpace.IsNoSpace(ex) ? g.Full(inner: ex) : ex;

    /// <summary>After routing: the guarded POSTs are checked before their handlers run.</summary>
    public static void Use(WebApplication app)
    {
        var guard = app.Services.GetService<StorageGuard>();
        if (guard is null) return;
        app.Use(async (ctx, next) =>
        {
            if (HttpMethods.IsPost(ctx.Request.Method) && Array.IndexOf(guarded, ctx.Request.Path.Value) >= 0 && guard.MinFree > 0)
            {
                try { guard.Check(); }
                catch (InsufficientStorageException ex)
                {
                    // The body (maybe an archive being uploaded) is read and dropped (memory only, no
                    // disk): a client that writes its whole body before it reads the answer would
                    // otherwise meet a closed connection instead of the message.
                    try { await ctx.Request.Body.CopyToAsync(Stream.Null, ctx.RequestAborted); }
                    catch (Exception drain) when (drain is IOException or OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException) { }
                    await ErrorMapping.Error(ex).ExecuteAsync(ctx);
                    return;
                }
            }
            await next(ctx);
        });
    }
}
