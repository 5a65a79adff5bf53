using System.Text;
using System.Text.Json;

namespace Gocker.Actors.Events;

/// <summary>
/// The event ring on disk, so `events --since` reaches back across a daemon restart: one JSON line
/// per event appended to DIR/events.log; when it holds <c>max</c> events it becomes events.log.1
/// (replacing the previous one) and a new file starts. So the disk holds at most 2 × max events and
/// a load gets at least the last max. Not fsynced: events are an observation aid, and a torn last
/// line from a crash is skipped on load.
/// </summary>
public sealed class EventJournal : IDisposable
{
    readonly string _current, _previous;
    readonly int _max;
    FileStream? _out;
    int _count;

    public EventJournal(string dir, int max)
    {
        Directory.CreateDirectory(dir);
        _current = Path.Combine(dir, "events.log");
        _previous = _current + ".1";
        _max = Math.Max(1, max);
    }

    /// <summary>The last <c>max</c> events on disk, oldest first (unreadable lines skipped).</summary>
    public List<GockerEvent> Load()
    {
        var all = new List<GockerEvent>();
        ReadFile(_previous, all);
        _count = ReadFile(_current, all);
        return all.Count > _max ? all.GetRange(all.Count - _max, _max) : all;
    }

    static int ReadFile(string path, List<GockerEvent> into)
    {
        if (!File.Exists(path)) return 0;
        int lines = 0;
        foreach (var line in File.ReadLines(path))
        {
            lines++;
            try
            {
                if (JsonSerializer.Deserialize<Stored>(line) is { Type: not null, Action: not null, Id: not null } s)
                    into.Add(new GockerEvent(s.Type, s.Action, s.Id, s.Attributes ?? new Dictionary<string, string>(), s.Time));
            }
            catch (JsonException) { /* a line torn by a crash */ }
        }
        return lines;
    }

    public void Append(GockerEvent e)
    {
        if (_count >= _max)
        {
            _out?.Dispose();
            _out = null;
            File.Move(_current, _previous, overwrite: true);
            _count = 0;
        }
        // A torn line from a crash is ended first so the next record starts on a line of its own.
        _out ??= OpenForAppend(_current);
        var json = JsonSerializer.Serialize(new Stored(e.Type, e.Action, e.Id, new Dictionary<string, string>(e.Attributes), e.Time));
        _out.Write(Encoding.UTF8.GetBytes(json + "\n"));
        _out.Flush();
        _count++;
    }

    static FileStream OpenForAppend(string path)
    {
        var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (fs.Length > 0)
        {
            using var r = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            r.Seek(-1, SeekOrigin.End);
            if (r.ReadByte() != '\n') fs.Write("\n"u8);
        }
        return fs;
    }

    public void Dispose() => _out?.Dispose();

    sealed record Stored(string? Type, string? Action, string? Id, Dictionary<string, string>? Attributes, DateTimeOffset Time);
}
