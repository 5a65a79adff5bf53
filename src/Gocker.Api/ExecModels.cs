namespace Gocker.Api;

// `exec` bodies, in the Docker Engine API's shapes (POST /containers/{id}/exec, POST /exec/{id}/start,
// GET /exec/{id}/json).

public sealed class ExecCreateRequest
{
    public List<string>? Cmd { get; set; }
    /// <summary>K=V entries laid over the container's environment.</summary>
    public List<string>? Env { get; set; }
    /// <summary>null/"" = the container's working dir.</summary>
    public string? WorkingDir { get; set; }
    /// <summary>null/"" = the container's user.</summary>
    public string? User { get; set; }
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public bool Tty { get; set; }
    public bool Privileged { get; set; }
    public string? DetachKeys { get; set; }
    /// <summary>Docker's initial [rows, columns] of a -t exec (the start's body may say it again).</summary>
    public List<int>? ConsoleSize { get; set; }
    /// <summary>The container again (docker-py sends it): the path names the container, as in Docker,
    /// which reads only the path.</summary>
    public string? Container { get; set; }
    /// <summary>Every property Gocker does not know: refused unless its value is empty.</summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class ExecCreateResponse
{
    public string Id { get; set; } = "";
}

public sealed class ExecStartRequest
{
    public bool Detach { get; set; }
    public bool Tty { get; set; }
    /// <summary>Docker's initial [rows, columns] of a -t exec.</summary>
    public List<int>? ConsoleSize { get; set; }
}

/// <summary>Docker writes these keys in lower case (its Go struct's json tags), unlike the rest of exec inspect.</summary>
public sealed class ExecProcessConfig
{
    [System.Text.Json.Serialization.JsonPropertyName("tty")] public bool Tty { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("entrypoint")] public string Entrypoint { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("arguments")] public List<string> Arguments { get; set; } = [];
    [System.Text.Json.Serialization.JsonPropertyName("user")] public string User { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("privileged")] public bool Privileged { get; set; }
}

public sealed class ExecInspect
{
    public string ID { get; set; } = "";
    public bool Running { get; set; }
    /// <summary>null until the process has exited (Docker's shape: written as null, never left out;
    /// clients such as Testcontainers poll it while the exec runs).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
    public int? ExitCode { get; set; }
    public ExecProcessConfig ProcessConfig { get; set; } = new();
    public bool OpenStdin { get; set; }
    public bool OpenStdout { get; set; }
    public bool OpenStderr { get; set; }
    public bool CanRemove { get; set; }
    public string DetachKeys { get; set; } = "";
    public string ContainerID { get; set; } = "";
    public int Pid { get; set; }
    /// <summary>Gocker extension: why the command could not be started (e.g. not found), if so.</summary>
    public string? Error { get; set; }
}
