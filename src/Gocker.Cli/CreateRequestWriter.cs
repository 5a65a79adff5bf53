using System.Text.Encodings.Web;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>
/// Writes the `run`/`create` request body with Utf8JsonWriter, as the API's source-generated context
/// would (declaration order, nulls left out; CreateRequestWriterTests compares the two on a request
/// with every property set, so a property added to the model and not here fails the build's tests).
/// Why not the serializer: in NativeAOT its first use per type reads the polymorphism attributes by
/// reflection, which builds array types at run time, and encodes every property name with the default
/// encoder, whose tables are built on first use: 13% of a `run` console's CPU (perf), on every run.
/// </summary>
internal static class CreateRequestWriter
{
    static readonly JsonWriterOptions Options = new() { Encoder = MinimalJsonEncoder.Instance, SkipValidation = true };

    public static byte[] Write(ContainerCreateRequest r)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            String(w, "Image"u8, r.Image);
            Strings(w, "Cmd"u8, r.Cmd);
            Strings(w, "Entrypoint"u8, r.Entrypoint);
            Strings(w, "Env"u8, r.Env);
            String(w, "WorkingDir"u8, r.WorkingDir);
            String(w, "User"u8, r.User);
            String(w, "Hostname"u8, r.Hostname);
            String(w, "Domainname"u8, r.Domainname);
            w.WriteBoolean("AttachStdin"u8, r.AttachStdin);
            w.WriteBoolean("AttachStdout"u8, r.AttachStdout);
            w.WriteBoolean("AttachStderr"u8, r.AttachStderr);
            w.WriteBoolean("Tty"u8, r.Tty);
            w.WriteBoolean("OpenStdin"u8, r.OpenStdin);
            w.WriteBoolean("StdinOnce"u8, r.StdinOnce);
            if (r.ExposedPorts is { } exposed)
            {
                w.WriteStartObject("ExposedPorts"u8);
                foreach (var (port, empty) in exposed)
                {
                    if (empty is null) { w.WriteNull(port); continue; }
                    w.WriteStartObject(port);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            Map(w, "Labels"u8, r.Labels);
            if (r.Volumes is { } volumes)
            {
                w.WriteStartObject("Volumes"u8);
                foreach (var (path, empty) in volumes)
                {
                    if (empty is null) { w.WriteNull(path); continue; }
                    w.WriteStartObject(path);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            if (r.HostConfig is { } h) HostConfig(w, h);
            if (r.NetworkingConfig is { } nc)
            {
                w.WriteStartObject("NetworkingConfig"u8);
                if (nc.EndpointsConfig is { } endpoints)
                {
                    w.WriteStartObject("EndpointsConfig"u8);
                    foreach (var (net, ep) in endpoints)
                    {
                        if (ep is null) { w.WriteNull(net); continue; }
                        w.WriteStartObject(net);
                        Strings(w, "Aliases"u8, ep.Aliases);
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            // Declared in VerbModels.cs (after Models.cs): the generated context writes them last.
            String(w, "StopSignal"u8, r.StopSignal);
            if (r.StopTimeout is { } stopTimeout) w.WriteNumber("StopTimeout"u8, stopTimeout);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    static void HostConfig(Utf8JsonWriter w, HostConfig h)
    {
        w.WriteStartObject("HostConfig"u8);
        Strings(w, "Binds"u8, h.Binds);
        if (h.Mounts is { } mounts)
        {
            w.WriteStartArray("Mounts"u8);
            foreach (var m in mounts) Mount(w, m);
            w.WriteEndArray();
        }
        w.WriteBoolean("AutoRemove"u8, h.AutoRemove);
        w.WriteNumber("Memory"u8, h.Memory);
        w.WriteNumber("NanoCpus"u8, h.NanoCpus);
        w.WriteNumber("CpuShares"u8, h.CpuShares);
        String(w, "CpusetCpus"u8, h.CpusetCpus);
        if (h.PidsLimit is { } pids) w.WriteNumber("PidsLimit"u8, pids);
        String(w, "NetworkMode"u8, h.NetworkMode);
        if (h.PortBindings is { } bindings)
        {
            w.WriteStartObject("PortBindings"u8);
            foreach (var (port, list) in bindings)
            {
                if (list is null) { w.WriteNull(port); continue; }
                w.WriteStartArray(port);
                foreach (var b in list)
                {
                    if (b is null) { w.WriteNullValue(); continue; }
                    w.WriteStartObject();
                    String(w, "HostIp"u8, b.HostIp);
                    String(w, "HostPort"u8, b.HostPort);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteBoolean("PublishAllPorts"u8, h.PublishAllPorts);
        if (h.RestartPolicy is { } policy)
        {
            w.WriteStartObject("RestartPolicy"u8);
            String(w, "Name"u8, policy.Name);
            w.WriteNumber("MaximumRetryCount"u8, policy.MaximumRetryCount);
            w.WriteEndObject();
        }
        if (h.GockerRestartBackoff is { } backoff)
        {
            w.WriteStartObject("GockerRestartBackoff"u8);
            if (backoff.DelayMs is { } delay) w.WriteNumber("DelayMs"u8, delay);
            if (backoff.MaxDelayMs is { } max) w.WriteNumber("MaxDelayMs"u8, max);
            if (backoff.Multiplier is { } multiplier) w.WriteNumber("Multiplier"u8, multiplier);
            if (backoff.ResetAfterMs is { } reset) w.WriteNumber("ResetAfterMs"u8, reset);
            if (backoff.Jitter is { } jitter) w.WriteNumber("Jitter"u8, jitter);
            w.WriteEndObject();
        }
        String(w, "GockerGroup"u8, h.GockerGroup);
        Strings(w, "CapAdd"u8, h.CapAdd);
        Strings(w, "CapDrop"u8, h.CapDrop);
        w.WriteBoolean("Privileged"u8, h.Privileged);
        w.WriteBoolean("ReadonlyRootfs"u8, h.ReadonlyRootfs);
        Strings(w, "SecurityOpt"u8, h.SecurityOpt);
        Map(w, "Tmpfs"u8, h.Tmpfs);
        if (h.Ulimits is { } ulimits)
        {
            w.WriteStartArray("Ulimits"u8);
            foreach (var u in ulimits)
            {
                w.WriteStartObject();
                w.WriteString("Name"u8, u.Name);
                w.WriteNumber("Soft"u8, u.Soft);
                w.WriteNumber("Hard"u8, u.Hard);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (h.Devices is { } devices)
        {
            w.WriteStartArray("Devices"u8);
            foreach (var d in devices)
            {
                w.WriteStartObject();
                w.WriteString("PathOnHost"u8, d.PathOnHost);
                w.WriteString("PathInContainer"u8, d.PathInContainer);
                w.WriteString("CgroupPermissions"u8, d.CgroupPermissions);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        Map(w, "Sysctls"u8, h.Sysctls);
        w.WriteNumber("ShmSize"u8, h.ShmSize);
        Strings(w, "GroupAdd"u8, h.GroupAdd);
        w.WriteNumber("OomScoreAdj"u8, h.OomScoreAdj);
        String(w, "UsernsMode"u8, h.UsernsMode);
        String(w, "CgroupnsMode"u8, h.CgroupnsMode);
        if (h.LogConfig is { } log)
        {
            w.WriteStartObject("LogConfig"u8);
            w.WriteString("Type"u8, log.Type);
            Map(w, "Config"u8, log.Config);
            w.WriteEndObject();
        }
        if (h.ConsoleSize is { } size)
        {
            w.WriteStartArray("ConsoleSize"u8);
            foreach (var n in size) w.WriteNumberValue(n);
            w.WriteEndArray();
        }
        Strings(w, "ExtraHosts"u8, h.ExtraHosts);
        Strings(w, "Dns"u8, h.Dns);
        Strings(w, "DnsSearch"u8, h.DnsSearch);
        Strings(w, "DnsOptions"u8, h.DnsOptions);
        if (h.Init is { } init) w.WriteBoolean("Init"u8, init);
        w.WriteEndObject();
    }

    static void Mount(Utf8JsonWriter w, MountRequest? m)
    {
        if (m is null) { w.WriteNullValue(); return; }
        w.WriteStartObject();
        String(w, "Type"u8, m.Type);
        String(w, "Source"u8, m.Source);
        String(w, "Target"u8, m.Target);
        w.WriteBoolean("ReadOnly"u8, m.ReadOnly);
        String(w, "Consistency"u8, m.Consistency);
        if (m.BindOptions is { } b)
        {
            w.WriteStartObject("BindOptions"u8);
            String(w, "Propagation"u8, b.Propagation);
            w.WriteBoolean("NonRecursive"u8, b.NonRecursive);
            w.WriteBoolean("CreateMountpoint"u8, b.CreateMountpoint);
            w.WriteEndObject();
        }
        if (m.VolumeOptions is { } v)
        {
            w.WriteStartObject("VolumeOptions"u8);
            w.WriteBoolean("NoCopy"u8, v.NoCopy);
            Map(w, "Labels"u8, v.Labels);
            if (v.DriverConfig is { } d)
            {
                w.WriteStartObject("DriverConfig"u8);
                String(w, "Name"u8, d.Name);
                Map(w, "Options"u8, d.Options);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        if (m.TmpfsOptions is { } t)
        {
            w.WriteStartObject("TmpfsOptions"u8);
            w.WriteNumber("SizeBytes"u8, t.SizeBytes);
            w.WriteNumber("Mode"u8, t.Mode);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    static void Map(Utf8JsonWriter w, ReadOnlySpan<byte> name, Dictionary<string, string>? map)
    {
        if (map is null) return;
        w.WriteStartObject(name);
        foreach (var (k, v) in map)
        {
            if (v is null) w.WriteNull(k);
            else w.WriteString(k, v);
        }
        w.WriteEndObject();
    }

    static void String(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    static void Strings(Utf8JsonWriter w, ReadOnlySpan<byte> name, List<string>? values)
    {
        if (values is null) return;
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            if (v is null) w.WriteNullValue();
            else w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }
}

/// <summary>
/// JSON string escaping without the default encoder's start-up cost (its allow-list tables are
/// built on first use, ~4% of a `run` console's CPU): everything outside printable ASCII, and `"`
/// and `\`, becomes \uXXXX (a supplementary character its surrogate pair). Only our own daemon
/// reads what it escapes, and any JSON reader decodes it to the same string.
/// </summary>
internal sealed class MinimalJsonEncoder : JavaScriptEncoder
{
    public static readonly MinimalJsonEncoder Instance = new();

    public override int MaxOutputCharactersPerInputCharacter => 6;

    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar < 0x20 || unicodeScalar == '"' || unicodeScalar == '\\' || unicodeScalar >= 0x7F;

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (int i = 0; i < textLength; i++)
            if (WillEncode(text[i])) return i;
        return -1;
    }

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        numberOfCharactersWritten = 0;
        if (unicodeScalar < 0x10000)
        {
            if (bufferLength < 6) return false;
            Escape(buffer, unicodeScalar);
            numberOfCharactersWritten = 6;
            return true;
        }
        if (bufferLength < 12) return false;
        int v = unicodeScalar - 0x10000;
        Escape(buffer, 0xD800 + (v >> 10));
        Escape(buffer + 6, 0xDC00 + (v & 0x3FF));
        numberOfCharactersWritten = 12;
        return true;
    }

    static unsafe void Escape(char* p, int code)
    {
        const string hex = "0123456789ABCDEF";
        p[0] = '\\';
        p[1] = 'u';
        p[2] = hex[(code >> 12) & 0xF];
        p[3] = hex[(code >> 8) & 0xF];
        p[4] = hex[(code >> 4) & 0xF];
        p[5] = hex[code & 0xF];
    }
}
