using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Syscalls.Spawn;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Actors;

/// <summary>A new supervisor over records left by a previous daemon: re-adoption decisions.</summary>
public class ReadoptSpecs : TestKit
{
    static readonly Config SpecConfig = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon + "akka.loglevel = WARNING");
    readonly FakeEngine _engine = new();

    public ReadoptSpecs() : base(SpecConfig) { }

    protected override void AfterAll()
    {
        base.AfterAll();
        _engine.Dispose();
    }

    ContainerRecord Leave(ContainerStatus status, int pid, ulong startTime)
    {
        var id = ContainerIds.New();
        var spec = new ContainerSpec
        {
            Id = id, Name = "n" + id[..8], Image = "busybox", ImageId = "sha256:x", ImageLayers = ["/fake"],
            Args = ["sleep", "1000"], Env = [], Hostname = id[..12], Created = DateTimeOffset.UtcNow,
        };
        var record = new ContainerRecord { Spec = spec, Status = status, Pid = pid, PidStartTime = startTime, StartedAt = DateTimeOffset.UtcNow };
        ContainerLayout.For(_engine.Services.Options, id).CreateData(record);
        return record;
    }

    ContainerRecord InspectWhenSettled(IActorRef sup, string id, Func<ContainerRecord, bool> settled)
    {
        ContainerRecord r = null!;
        AwaitCondition(() =>
        {
            sup.Tell(new ToContainer(id, new ContainerActor.Inspect()));
            r = ExpectMsg<ContainerRecord>();
            return settled(r);
        }, TimeSpan.FromSeconds(10));
        return r;
    }

    [Fact]
    public void Running_record_with_matching_start_time_is_readopted_and_stoppable()
    {
        var live = new FakeAdoptedProcess(5000);
        _engine.Adopter.Alive[5000] = live;
        var rec = Leave(ContainerStatus.Running, 5000, _engine.Adopter.StartTime(5000));
        _engine.Cgroups.Create("spec", rec.Spec.Id, Gocker.Syscalls.Cgroups.CgroupLimits.None);

        var sup = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers-a");
        // Re-adoption is the actor's first message and suspends its mailbox: Inspect answers after it.
        var r = InspectWhenSettled(sup, rec.Spec.Id, _ => true);
        Assert.Equal(ContainerStatus.Running, r.Status);

        sup.Tell(new ToContainer(rec.Spec.Id, new ContainerActor.Stop(TimeSpan.FromSeconds(5))));
        ExpectMsg<ContainerActor.Ack>(TimeSpan.FromSeconds(10));
        Assert.Equal([15], live.Signals.ToArray());
        var done = InspectWhenSettled(sup, rec.Spec.Id, x => x.Status == ContainerStatus.Exited);
        Assert.Equal(143, done.ExitCode);
        Assert.False(_engine.Cgroups.Exists("spec", rec.Spec.Id));
    }

    [Fact]
    public void Running_record_whose_pid_has_another_start_time_is_marked_exited_and_never_signalled()
    {
        var other = new FakeAdoptedProcess(6000);
        _engine.Adopter.Alive[6000] = other;
        var rec = Leave(ContainerStatus.Running, 6000, 12345);
        _engine.Cgroups.Create("spec", rec.Spec.Id, Gocker.Syscalls.Cgroups.CgroupLimits.None);

        var sup = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers-b");
        var r = InspectWhenSettled(sup, rec.Spec.Id, x => x.Status == ContainerStatus.Exited);
        Assert.Equal(-1, r.ExitCode);
        Assert.Contains("another process", r.Error);
        Assert.Empty(other.Signals);
        // Its cgroup is ours by name: killed and removed there.
        Assert.Contains($"cgroup kill spec/{rec.Spec.Id}", _engine.Log);
        Assert.False(_engine.Cgroups.Exists("spec", rec.Spec.Id));
    }

    [Theory]
    [InlineData("123 (a) b) Z 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 9\n", 'Z', 4242UL, 137)]
    [InlineData("1 (sh) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 1792\n", 'S', 77UL, 7)]
    public void ProcStat_parses_state_start_time_and_exit_status(string line, char state, ulong start, int exit)
    {
        var s = ProcStat.Parse(line)!.Value;
        Assert.Equal(state, s.State);
        Assert.Equal(start, s.StartTime);
        Assert.Equal(exit, ProcStat.Decode(s.WaitStatus).ExitCode);
    }
}
