using System.Globalization;
using System.Text;

namespace Gocker.Cli.Interactive;

/// <summary>
/// A small raw-mode line editor for the console: cursor keys, Home/End, Backspace/Delete, Ctrl-A/E/
/// B/F/K/U/W/L, history on Up/Down, Ctrl-C drops the line, Ctrl-D on an empty line is end of input.
/// Other output (events) goes through <see cref="PrintAbove"/>, which prints it on its own line above
/// the prompt and redraws the prompt and the input, so typing is never garbled. Characters count as
/// one column each, and a line wider than the terminal is not re-wrapped (kept simple).
/// </summary>
internal sealed class LineEditor(ConsoleOutput output, History history)
{
    readonly StringBuilder _buf = new();
    int _cursor;
    string _prompt = "";
    bool _active;

    /// <summary>Reads one line with the terminal in raw mode; null at end of input (Ctrl-D).</summary>
    public string? ReadLine(string prompt)
    {
        var saved = Terminal.EnterRaw();
        if (saved is null) return null;
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[4];
        int hist = history.Count;
        string draft = "";
        try
        {
            lock (output.Lock)
            {
                _prompt = prompt;
                _buf.Clear();
                _cursor = 0;
                _active = true;
                Redraw();
            }
            while (true)
            {
                int b = Terminal.ReadByte();
                if (b < 0) { lock (output.Lock) { _active = false; output.Write("\n"); } return null; }
                lock (output.Lock)
                {
                    switch (b)
                    {
                        case '\r' or '\n':
                            _active = false;
                            output.Write("\n");
                            return _buf.ToString();
                        case 3: // Ctrl-C: drop the line, as a shell does
                            output.Write("^C\n");
                            _buf.Clear();
                            _cursor = 0;
                            hist = history.Count;
                            break;
                        case 4: // Ctrl-D
                            if (_buf.Length == 0) { _active = false; output.Write("\n"); return null; }
                            if (_cursor < _buf.Length) _buf.Remove(_cursor, 1);
                            break;
                        case 1: _cursor = 0; break;                       // Ctrl-A
                        case 5: _cursor = _buf.Length; break;             // Ctrl-E
                        case 2: if (_cursor > 0) _cursor--; break;        // Ctrl-B
                        case 6: if (_cursor < _buf.Length) _cursor++; break; // Ctrl-F
                        case 11: _buf.Length = _cursor; break;            // Ctrl-K
                        case 21: _buf.Remove(0, _cursor); _cursor = 0; break; // Ctrl-U
                        case 23: DeleteWordBack(); break;                 // Ctrl-W
                        case 12: output.Write("\x1b[H\x1b[2J"); break;    // Ctrl-L
                        case 127 or 8:                                    // Backspace
                            if (_cursor > 0) _buf.Remove(--_cursor, 1);
                            break;
                        case 27:
                            switch (ReadEscape())
                            {
                                case 'A': // Up
                                    if (hist > 0)
                                    {
                                        if (hist == history.Count) draft = _buf.ToString();
                                        SetLine(history[--hist]);
                                    }
                                    break;
                                case 'B': // Down
                                    if (hist < history.Count) SetLine(++hist == history.Count ? draft : history[hist]);
                                    break;
                                case 'C': if (_cursor < _buf.Length) _cursor++; break;
                                case 'D': if (_cursor > 0) _cursor--; break;
                                case 'H': _cursor = 0; break;
                                case 'F': _cursor = _buf.Length; break;
                                case 'X': if (_cursor < _buf.Length) _buf.Remove(_cursor, 1); break; // Delete
                            }
                            break;
                        default:
                            if (b < 32) break; // other control keys: ignored
                            int n = decoder.GetChars([(byte)b], 0, 1, chars, 0);
                            for (int k = 0; k < n; k++) _buf.Insert(_cursor++, chars[k]);
                            break;
                    }
                    Redraw();
                }
            }
        }
        finally
        {
            lock (output.Lock) _active = false;
            Terminal.Restore(saved);
        }
    }

    /// <summary>Prints a whole line above the prompt (events); caller holds no lock.</summary>
    public void PrintAbove(string line)
    {
        lock (output.Lock)
        {
            if (!_active) { output.Write(line + "\n"); return; }
            output.Write("\r\x1b[2K" + line + "\n" + Rendered());
        }
    }

    void SetLine(string s)
    {
        _buf.Clear().Append(s);
        _cursor = _buf.Length;
    }

    void DeleteWordBack()
    {
        int start = _cursor;
        while (start > 0 && _buf[start - 1] == ' ') start--;
        while (start > 0 && _buf[start - 1] != ' ') start--;
        _buf.Remove(start, _cursor - start);
        _cursor = start;
    }

    void Redraw() => output.Write(Rendered());

    string Rendered()
    {
        var back = _buf.Length - _cursor;
        return "\r\x1b[2K" + _prompt + _buf + (back > 0 ? "\x1b[" + back.ToString(CultureInfo.InvariantCulture) + "D" : "");
    }

    /// <summary>Reads the rest of an escape sequence (CSI "ESC [ … final" or SS3 "ESC O x") and maps
    /// it to A/B/C/D (arrows), H/F (Home/End), X (Delete); 0 for anything else.</summary>
    static char ReadEscape()
    {
        int b = Terminal.ReadByte();
        if (b == 'O') return Terminal.ReadByte() switch { 'A' => 'A', 'B' => 'B', 'C' => 'C', 'D' => 'D', 'H' => 'H', 'F' => 'F', _ => '\0' };
        if (b != '[') return '\0';
        var param = new StringBuilder();
        while (true)
        {
            b = Terminal.ReadByte();
            if (b < 0) return '\0';
            if (b is >= 0x40 and <= 0x7e) break;
            param.Append((char)b);
        }
        return (char)b switch
        {
            'A' or 'B' or 'C' or 'D' or 'H' or 'F' => (char)b,
            '~' => param.ToString() switch { "3" => 'X', "1" or "7" => 'H', "4" or "8" => 'F', _ => '\0' },
            _ => '\0',
        };
    }
}

/// <summary>Everything the console prints goes through one lock, so an event line never lands in
/// the middle of a redraw.</summary>
internal sealed class ConsoleOutput(Stream stdout)
{
    public object Lock { get; } = new();

    public void Write(string text)
    {
        lock (Lock)
        {
            try
            {
                stdout.Write(Encoding.UTF8.GetBytes(text));
                stdout.Flush();
            }
            catch (IOException) { /* stdout closed: nothing to show it on */ }
        }
    }
}

/// <summary>The console's history: ~/.gocker_history, the last 1000 lines, appended as typed.</summary>
internal sealed class History
{
    const int Max = 1000;
    readonly List<string> _lines = [];
    readonly string? _path;

    public History(string? path)
    {
        _path = path;
        if (path is null || !File.Exists(path)) return;
        try
        {
            var all = File.ReadAllLines(path);
            _lines.AddRange(all.Length > Max ? all[^Max..] : all);
            // Keep the file bounded too: rewritten once it holds twice the kept lines.
            if (all.Length > 2 * Max) File.WriteAllLines(path, _lines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public int Count => _lines.Count;
    public string this[int i] => _lines[i];

    public void Add(string line)
    {
        if (line.Trim().Length == 0 || (_lines.Count > 0 && _lines[^1] == line)) return;
        _lines.Add(line);
        if (_lines.Count > Max) _lines.RemoveAt(0);
        if (_path is null) return;
        try
        {
            // 0600: typed commands may carry secrets (-e PASSWORD=...), as bash keeps its history.
            using var f = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.Append, Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            f.Write(Encoding.UTF8.GetBytes(line + "\n"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
