using System.Text.Json.Serialization;

namespace Gocker.Images.Build;

/// <summary>An image config as a build changes it, step by step.</summary>
public sealed record BuildImageConfig
{
    public List<string> Env { get; set; } = [];
    public List<string>? Cmd { get; set; }
    public List<string>? Entrypoint { get; set; }
    /// <summary>"" = not set ("/").</summary>
    public string WorkingDir { get; set; } = "";
    public string User { get; set; } = "";
    public SortedSet<string> ExposedPorts { get; set; } = new(StringComparer.Ordinal);
    public SortedSet<string> Volumes { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    public string? StopSignal { get; set; }
    public HealthConfig? Healthcheck { get; set; }
    /// <summary>SHELL (null: ["/bin/sh", "-c"]).</summary>
    public List<string>? Shell { get; set; }
    public List<string> OnBuild { get; set; } = [];

    public BuildImageConfig Copy() => this with
    {
        Env = [.. Env], Cmd = Cmd?.ToList(), Entrypoint = Entrypoint?.ToList(),
        ExposedPorts = new(ExposedPorts, StringComparer.Ordinal), Volumes = new(Volumes, StringComparer.Ordinal),
        Labels = new(Labels, StringComparer.Ordinal), Shell = Shell?.ToList(), OnBuild = [.. OnBuild],
    };

    public string? GetEnv(string name)
    {
        for (int i = Env.Count - 1; i >= 0; i--)
            if (Env[i].StartsWith(name + "=", StringComparison.Ordinal)) return Env[i][(name.Length + 1)..];
        return null;
    }

    public void SetEnv(string name, string value)
    {
        Env.RemoveAll(e => e.StartsWith(name + "=", StringComparison.Ordinal) || e == name);
        Env.Add(name + "=" + value);
    }
}

/// <summary>Docker's HealthConfig (durations in nanoseconds).</summary>
public sealed class HealthConfig
{
    public List<string>? Test { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Interval { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Timeout { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long StartPeriod { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long StartInterval { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int Retries { get; set; }
}

/// <summary>One history entry of a built image.</summary>
public sealed record BuildHistory(DateTimeOffset Created, string CreatedBy, bool EmptyLayer, string? Comment = null);

/// <summary>What <see cref="ImageStore.CommitBuildStep"/> stores.</summary>
public sealed record BuildCommit
{
    /// <summary>The image of the step before; null: scratch.</summary>
    public string? ParentId { get; init; }
    /// <summary>The step's changes (a build container's upper dir, or a COPY's); null: no layer.</summary>
    public string? UpperDir { get; init; }
    public Gocker.Syscalls.Security.IdMap? Userns { get; init; }
    public required BuildImageConfig Config { get; init; }
    public required List<BuildHistory> History { get; init; }
    public string? CacheKey { get; init; }
}
