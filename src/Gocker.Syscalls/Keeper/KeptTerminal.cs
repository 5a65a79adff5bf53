namespace Gocker.Syscalls.Keeper;

/// <summary>
/// Where a running container's pty master is kept while no daemon holds it: the keeper process
/// (pid and /proc start time, so a reused pid is never mistaken for it), the descriptor number in
/// that process, and the pty's index (TIOCGPTN) to check that the descriptor taken back is that
/// terminal. Persisted in the container's state.json.
/// </summary>
public sealed record KeptTerminal
{
    public int KeeperPid { get; init; }
    public ulong KeeperStartTime { get; init; }
    public int Fd { get; init; }
    public int Pts { get; init; }
}
