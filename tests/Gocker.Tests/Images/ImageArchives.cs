using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Gocker.Tests.Images;

/// <summary>Builds `docker save` archives and OCI image layouts in memory (System.Formats.Tar).</summary>
public static class ImageArchives
{
    public static string Hex(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>The three-layer test image: a base, a layer deleting "gone" and making "opq" opaque,
    /// and a top layer deleting keep/a. withBusybox adds /bin/busybox and sh/cat/ls links (for running).</summary>
    public static byte[][] ThreeLayers(bool withBusybox = false)
    {
        var l1 = new TarBuilder().Dir("etc").File("etc/base", "base").Dir("keep").File("keep/a", "a").File("keep/b", "b")
            .File("gone", "x").Dir("opq").File("opq/old", "old").File("opq/old2", "old2");
        if (withBusybox)
        {
            l1.Dir("bin").File("bin/busybox", File.ReadAllBytes("/bin/busybox"), 0b111_101_101);
            foreach (var app in new[] { "sh", "cat", "ls", "echo", "test", "mkdir", "rm", "dd", "head", "sleep", "true", "wc", "pwd" })
                l1.Symlink("bin/" + app, "busybox");
            l1.Dir("tmp", 0b1_111_111_111);
        }
        var l2 = new TarBuilder().File("etc/l2", "two").File(".wh.gone", "").Dir("opq").File("opq/.wh..wh..opq", "").File("opq/new", "new");
        var l3 = new TarBuilder().File("keep/.wh.a", "").File("top", "3");
        return [l1.Bytes(), l2.Bytes(), l3.Bytes()];
    }

    public static JsonObject Config(byte[][] layers, string[]? cmd = null, string[]? entrypoint = null, string? workdir = null,
        string[]? env = null, string? user = null)
    {
        var c = new JsonObject();
        if (env is not null) c["Env"] = new JsonArray(env.Select(e => (JsonNode)e!).ToArray());
        if (cmd is not null) c["Cmd"] = new JsonArray(cmd.Select(e => (JsonNode)e!).ToArray());
        if (entrypoint is not null) c["Entrypoint"] = new JsonArray(entrypoint.Select(e => (JsonNode)e!).ToArray());
        if (workdir is not null) c["WorkingDir"] = workdir;
        if (user is not null) c["User"] = user;
        c["ExposedPorts"] = new JsonObject { ["80/tcp"] = new JsonObject() };
        return new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "2024-01-02T03:04:05Z",
            ["config"] = c,
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode)("sha256:" + Hex(l))).ToArray()),
            },
        };
    }

    static void Add(TarWriter w, string name, byte[] data)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data), Mode = (UnixFileMode)0b110_100_100 };
        w.WriteEntry(e);
    }

    /// <summary>Classic docker save layout: &lt;id&gt;/layer.tar, &lt;config hex&gt;.json, manifest.json at the end.
    /// storedLayers: what is actually written for each layer (defaults to layers; lets tests tamper).</summary>
    public static byte[] DockerSave(byte[][] layers, JsonObject config, string[]? repoTags, byte[][]? storedLayers = null, bool gzipLayers = false)
    {
        var ms = new MemoryStream();
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configHex = Hex(configBytes);
        var paths = new List<string>();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            for (int i = 0; i < layers.Length; i++)
            {
                var data = (storedLayers ?? layers)[i];
                if (gzipLayers) data = Gzip(data);
                var path = $"{Hex(layers[i])[..20]}{i}/layer.tar";
                Add(w, path, data);
                paths.Add(path);
            }
            Add(w, configHex + ".json", configBytes);
            var manifest = new JsonArray(new JsonObject
            {
                ["Config"] = configHex + ".json",
                ["RepoTags"] = repoTags is null ? null : new JsonArray(repoTags.Select(t => (JsonNode)t!).ToArray()),
                ["Layers"] = new JsonArray(paths.Select(p => (JsonNode)p!).ToArray()),
            });
            Add(w, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        }
        return ms.ToArray();
    }

    /// <summary>An OCI image layout as a tar: oci-layout, index.json, blobs/sha256/* (gzip layers by default).</summary>
    public static byte[] Oci(byte[][] layers, JsonObject config, string? name, bool gzipLayers = true, Func<byte[], byte[]>? compress = null)
    {
        var blobs = new Dictionary<string, byte[]>();
        string Put(byte[] b) { var h = Hex(b); blobs[h] = b; return h; }
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configHex = Put(configBytes);
        var layerDescs = new JsonArray();
        foreach (var l in layers)
        {
            var stored = compress is not null ? compress(l) : gzipLayers ? Gzip(l) : l;
            var h = Put(stored);
            layerDescs.Add(new JsonObject
            {
                ["mediaType"] = gzipLayers ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar",
                ["digest"] = "sha256:" + h, ["size"] = stored.Length,
            });
        }
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = "sha256:" + configHex, ["size"] = configBytes.Length },
            ["layers"] = layerDescs,
        }.ToJsonString());
        var manifestHex = Put(manifest);
        var desc = new JsonObject { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = "sha256:" + manifestHex, ["size"] = manifest.Length };
        if (name is not null) desc["annotations"] = new JsonObject { ["io.containerd.image.name"] = name, ["org.opencontainers.image.ref.name"] = "latest" };
        var index = new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(desc) };
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            Add(w, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray());
            Add(w, "index.json", Encoding.UTF8.GetBytes(index.ToJsonString()));
            foreach (var (h, b) in blobs) Add(w, "blobs/sha256/" + h, b);
        }
        return ms.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Extracts an OCI layout tar into a directory (for the directory form of load).</summary>
    public static void ExtractTo(byte[] archive, string dir)
    {
        Directory.CreateDirectory(dir);
        TarFile.ExtractToDirectory(new MemoryStream(archive), dir, overwriteFiles: false);
    }
}
