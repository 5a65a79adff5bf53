using System.Collections.Concurrent;
using Gocker.Syscalls.Security;

namespace Gocker.Actors.Containers;

/// <summary>A container's capabilities and seccomp program, as the init and exec specs carry them.</summary>
public static class ContainerSecurity
{
    /// <summary>The container's capability mask (bit n = capability n): what ContainerSpecFactory
    /// computed from --cap-add/--cap-drop/--privileged (records from before that: Docker's default).
    /// The seccomp program depends on it (entries moby allows only with a capability).</summary>
    public static ulong EffectiveCaps(ContainerSpec s) => s.Capabilities ?? CapabilitySet.DockerDefault;

    // Users' profiles by their text: each JSON is parsed once (the compiled program is cached by
    // SeccompCompiler per content hash and caps).
    static readonly ConcurrentDictionary<string, SeccompProfile> _parsed = new();

    /// <summary>The profile ContainerSpec.Seccomp names: null = Docker's default, "unconfined" = none,
    /// else the profile's JSON text. Throws FormatException for a bad profile.</summary>
    public static SeccompProfile? Profile(ContainerSpec s) => s.Seccomp switch
    {
        null => SeccompProfile.Default,
        "unconfined" => null,
        var json => _parsed.GetOrAdd(json, SeccompProfile.Parse),
    };

    /// <summary>Compiles the default program for the default capabilities now: the first compile costs
    /// ~100 ms (parse, dlopen of libseccomp, JIT; ~13 ms after), which the daemon pays at its start
    /// rather than on its first container's.</summary>
    public static void Prewarm() => SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault);

    /// <summary>The BPF program for the container's init and exec processes; null = unconfined.</summary>
    public static byte[]? SeccompProgram(ContainerSpec s) =>
        Profile(s) is { } p ? SeccompCompiler.Compile(p, EffectiveCaps(s)) : null;
}
