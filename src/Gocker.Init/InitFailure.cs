namespace Gocker.Init;

/// <summary>A failure with its own exit code (126/127 for the command, 125 for setup).</summary>
sealed class InitFailure(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}
