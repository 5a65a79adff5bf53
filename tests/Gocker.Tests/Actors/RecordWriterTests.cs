using Akka.Event;
using Gocker.Actors.Containers;
using Xunit;

namespace Gocker.Tests.Actors;

/// <summary>RecordWriter against a real directory: order kept, latest record wins, failures logged.</summary>
public sealed class RecordWriterTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-recordwriter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static ContainerRecord Record(int pid, ContainerStatus status = ContainerStatus.Running)
    {
        var id = ContainerIds.New();
        var spec = new ContainerSpec
        {
            Id = id, Name = "n" + id[..8], Image = "busybox", ImageId = "sha256:x", ImageLayers = ["/fake"],
            Args = ["true"], Env = [], Hostname = id[..12], Created = DateTimeOffset.UtcNow,
        };
        return new ContainerRecord { Spec = spec, Status = status, Pid = pid };
    }

    RecordWriter Writer() => new(_dir, NoLogger.Instance, new string('a', 64));

    [Fact]
    public async Task Records_written_behind_end_with_the_latest_on_disk()
    {
        var w = Writer();
        Task last = Task.CompletedTask;
        for (var pid = 1; pid <= 50; pid++) last = w.SaveBehind(Record(pid));
        await last;
        await w.Flush();
        Assert.Equal(50, StateStore.Load(_dir)!.Pid);
        Assert.Equal(["state.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task An_inline_save_after_a_write_behind_is_the_one_that_stays()
    {
        var w = Writer();
        for (var i = 0; i < 20; i++)
        {
            _ = w.SaveBehind(Record(1000 + i));
            w.Save(Record(i, ContainerStatus.Exited));
            await w.Flush();
            var loaded = StateStore.Load(_dir)!;
            Assert.Equal((i, ContainerStatus.Exited), (loaded.Pid, loaded.Status));
        }
    }

    [Fact]
    public async Task A_failed_write_behind_completes_and_leaves_no_file()
    {
        var gone = Path.Combine(_dir, "removed");
        var w = new RecordWriter(gone, NoLogger.Instance, new string('b', 64));
        await w.SaveBehind(Record(7)); // the directory does not exist: logged, not thrown
        await w.Flush();
        Assert.False(Directory.Exists(gone));
    }

    [Fact]
    public void Reserved_records_keep_a_spare_of_their_slot_and_swap_it_in_without_a_new_file()
    {
        var w = new RecordWriter(_dir, NoLogger.Instance, new string('c', 64), reserve: true);
        w.Save(Record(1));
        var state = Path.Combine(_dir, StateStore.FileName);
        var spare = Path.Combine(_dir, StateStore.SpareName);
        Assert.Equal([StateStore.SpareName, StateStore.FileName], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var slot = new FileInfo(state).Length;
        Assert.True(slot % 4096 == 0 && slot == new FileInfo(spare).Length, $"slot {slot}, spare {new FileInfo(spare).Length}");
        for (var pid = 2; pid <= 20; pid++)
        {
            w.Save(Record(pid, pid % 2 == 0 ? ContainerStatus.Exited : ContainerStatus.Running));
            // The two files swapped names (RENAME_EXCHANGE): the spare holds the previous record, and
            // neither grew (no block was needed).
            Assert.Equal((slot, slot), (new FileInfo(state).Length, new FileInfo(spare).Length));
            var loaded = StateStore.Load(_dir)!;
            Assert.Equal((pid, pid % 2 == 0 ? ContainerStatus.Exited : ContainerStatus.Running), (loaded.Pid, loaded.Status));
            Assert.Equal(pid - 1, (int)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(spare))!["Pid"]!);
        }
    }
}
