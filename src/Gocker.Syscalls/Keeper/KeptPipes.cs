namespace Gocker.Syscalls.Keeper;

/// <summary>
/// Where a running non-tty container's stdout and stderr pipe read ends are kept while no daemon
/// holds them: the keeper process (pid and /proc start time, so a reused pid is never mistaken for
/// it), the descriptor numbers in that process, and the pipes' inodes (to check that a descriptor
/// taken back is that pipe). Persisted in the container's state.json.
/// </summary>
public sealed record KeptPipes
{
    public int KeeperPid { get; init; }
    public ulong KeeperStartTime { get; init; }
    public int StdoutFd { get; init; }
    public int StderrFd { get; init; }
    public ulong StdoutInode { get; init; }
    public ulong StderrInode { get; init; }
}
