using System.IO.Compression;
using Akka.Actor;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images.ContainerFs;
using Gocker.Syscalls.Spawn;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>
/// Docker's archive API (docker cp, docker-py put_archive/get_archive, Testcontainers'
/// WithResourceMapping/ReadFileAsync): HEAD, GET and PUT /containers/{id}/archive?path=. The HTTP
/// side only: the container's filesystem is reached and changed by Gocker.Images.ContainerFs
/// (ContainerRoot, ContainerArchive), which resolves every path inside the container's root.
/// </summary>
public static class ArchiveRoutes
{
    public static void Map(RouteGroupBuilder containers)
    {
        containers.MapMethods("/{id}/archive", ["HEAD"], Head);
        containers.MapGet("/{id}/archive", Get);
        // The tar is read as it comes (never buffered whole): no JSON body limit.
        containers.MapPut("/{id}/archive", Put).WithMetadata(StreamingBodyAttribute.Instance);
    }

    /// <summary>A container's root for one request, and what ends it (the lease of a stopped container).</summary>
    sealed class Opened(ContainerRoot root, ContainerRecord record, Action release) : IDisposable
    {
        public ContainerRoot Root => root;
        public ContainerRecord Record => record;
        public void Dispose()
        {
            root.Dispose();
            release();
        }
    }

    static async Task<Opened> Open(HttpContext ctx, string id, EngineServices svc)
    {
        // Twice at most: a container seen running may have exited before its root was opened.
        for (int attempt = 0; ; attempt++)
        {
            var a = await AskContainer<ContainerActor.ArchiveAccess>(ctx, id, new ContainerActor.ArchiveOpen());
            var spec = a.Record.Spec;
            if (a.Running)
            {
                if (ContainerRoot.OfProcess(a.Record.Pid, a.Record.PidStartTime, spec.Userns) is { } live)
                    return new Opened(live, a.Record, () => { });
                if (attempt == 0) continue;
                throw new ConflictException($"container {spec.Id[..12]} changed state during the copy; try again");
            }
            var supervisor = Supervisor(ctx);
            void Release() => supervisor.Tell(new ContainerSupervisor.ToContainer(spec.Id, new ContainerActor.ArchiveRelease()));
            try
            {
                int usernsFd = -1;
                if (spec.Userns is { } map)
                    usernsFd = (svc.Spawner as IIdmapNamespaces
                        ?? throw new InvalidOperationException("this engine cannot mount a remapped container's layers")).IdmapNamespace(map, svc.InitPath);
                // Its volumes are bound in a private mount namespace, on the rootfs mount point (which
                // only ever holds mounts inside private namespaces, see the start path).
                var mountPoint = svc.Options.RootfsMountPoint;
                var root = await Task.Run(() =>
                {
                    if (spec.Volumes.Length > 0) Directory.CreateDirectory(mountPoint);
                    return ContainerRoot.OfStopped(spec.ImageLayers, a.UpperDir, a.DataDir, spec.Userns, usernsFd, spec.Volumes, mountPoint);
                });
                return new Opened(root, a.Record, Release);
            }
            catch
            {
                Release();
                throw;
            }
        }
    }

    static IResult Fail(Exception ex) => ex switch
    {
        ArchivePathNotFoundException => Results.Json(new ErrorResponse { Message = ex.Message }, GockerJson.Default.ErrorResponse, statusCode: 404),
        ArchiveForbiddenException => Results.Json(new ErrorResponse { Message = ex.Message }, GockerJson.Default.ErrorResponse, statusCode: 403),
        AggregateException { InnerException: { } inner } => Fail(inner),
        _ => Error(ex),
    };

    static string PathParam(HttpContext ctx)
    {
        var path = ctx.Request.Query["path"].ToString();
        if (path.Length == 0) throw new BadRequestException("path is required (the path=... parameter)");
        return path;
    }

    /// <summary>Docker's BoolValue: "", "0", "no", "false", "none" are false, anything else true.</summary>
    static bool BoolParam(HttpContext ctx, string name) =>
        ctx.Request.Query[name].ToString().Trim().ToLowerInvariant() is not ("" or "0" or "no" or "false" or "none");

    /// <summary>HEAD: only the X-Docker-Container-Path-Stat header (and the status).</summary>
    static async Task Head(HttpContext ctx, string id, EngineServices svc)
    {
        try
        {
            var path = PathParam(ctx);
            using var o = await Open(ctx, id, svc);
            var stat = await Task.Run(() => ContainerArchive.Stat(o.Root, path, o.Record.Spec.Id));
            ctx.Response.Headers[PathStat.HeaderName] = stat.ToHeader();
            ctx.Response.StatusCode = 200;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await Fail(ex).ExecuteAsync(ctx);
        }
    }

    /// <summary>GET: the stat header and a tar of the path, streamed.</summary>
    static async Task Get(HttpContext ctx, string id, EngineServices svc)
    {
        Opened o;
        PathStat stat;
        Action<Stream> write;
        try
        {
            var path = PathParam(ctx);
            o = await Open(ctx, id, svc);
            try { (stat, write) = await Task.Run(() => ContainerArchive.Archive(o.Root, path, o.Record.Spec.Id)); }
            catch
            {
                o.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await Fail(ex).ExecuteAsync(ctx);
            return;
        }
        using (o)
        {
            ctx.Response.Headers[PathStat.HeaderName] = stat.ToHeader();
            ctx.Response.ContentType = "application/x-tar";
            await ctx.Response.StartAsync(ctx.RequestAborted);
            try
            {
                await Task.Run(() =>
                {
                    using var sync = new SyncOverAsyncStream(ctx.Response.Body, ctx.RequestAborted);
                    write(sync);
                    sync.Flush();
                });
            }
            catch (Exception)
            {
                ctx.Abort(); // a truncated stream, never a tar that looks complete
            }
        }
    }

    /// <summary>PUT: a tar (plain or gzip) as the body, unpacked into the directory at path.</summary>
    static async Task<IResult> Put(HttpContext ctx, string id, EngineServices svc)
    {
        try
        {
            var path = PathParam(ctx);
            var noOverwrite = BoolParam(ctx, "noOverwriteDirNonDir");
            var copyIds = BoolParam(ctx, "copyUIDGID");
            using var o = await Open(ctx, id, svc);
            var spec = o.Record.Spec;
            var body = ctx.Request.Body;
            await Task.Run(() =>
            {
                var options = new ExtractOptions
                {
                    NoOverwriteDirNonDir = noOverwrite,
                    ReadonlyRootfs = spec.ReadonlyRootfs,
                    // copyUIDGID: Docker gives the files to the container's user (Config.User), when it has one.
                    Owner = copyIds && spec.User.Length > 0 ? ContainerArchive.ResolveUser(o.Root, spec.User) : null,
                };
                using var tar = Decompressed(body);
                ContainerArchive.Extract(o.Root, path, spec.Id, tar, options);
            });
            return Results.Ok();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Fail(ex);
        }
    }

    /// <summary>Docker takes the archive plain or compressed: gzip is read here; bzip2, xz and zstd are refused by name.</summary>
    static Stream Decompressed(Stream body)
    {
        var head = new byte[6];
        int n = 0;
        while (n < head.Length)
        {
            int r = body.Read(head, n, head.Length - n);
            if (r == 0) break;
            n += r;
        }
        Stream joined = new PrefixedStream(head.AsMemory(0, n), body);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return new GZipStream(joined, CompressionMode.Decompress);
        if (n >= 3 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h') throw new BadRequestException("bzip2-compressed archives are not supported: send a plain or gzip tar");
        if (n >= 6 && head[0] == 0xfd && head[1] == (byte)'7' && head[2] == (byte)'z') throw new BadRequestException("xz-compressed archives are not supported: send a plain or gzip tar");
        if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) throw new BadRequestException("zstd-compressed archives are not supported: send a plain or gzip tar");
        return joined;
    }

    sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        ReadOnlyMemory<byte> _prefix = prefix;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_prefix.Length > 0)
            {
                int n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }
            return inner.Read(buffer);
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { } // the request body belongs to the server
    }
}
