namespace Gocker.Syscalls.Cgroups;

/// <summary>The kernel's count of OOM kills in a memory cgroup (processes the OOM killer killed in
/// it, each one `oom` event), from the file of each hierarchy.</summary>
public static class OomCounts
{
    /// <summary>cgroup v2 memory.events ("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0"):
    /// oom_kill, not oom (an OOM condition, after which a kill may or may not follow). Null without
    /// an oom_kill line.</summary>
    public static long? FromMemoryEvents(string? text) => CgroupValues.KeyedValue(text, "oom_kill");

    /// <summary>cgroup v1 memory.oom_control ("oom_kill_disable 0\nunder_oom 0\noom_kill 2"). Null
    /// without an oom_kill line (kernels before 4.13 count no kills there).</summary>
    public static long? FromOomControl(string? text) => CgroupValues.KeyedValue(text, "oom_kill");
}
