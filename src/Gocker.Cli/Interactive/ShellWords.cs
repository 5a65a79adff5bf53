using System.Text;

namespace Gocker.Cli.Interactive;

/// <summary>
/// Splits a console line into arguments as a POSIX shell would, without expansions: blanks separate
/// words; '…' is literal; "…" keeps everything but lets \ escape \ " $ `; a \ outside quotes takes
/// the next character literally; a # starting a word begins a comment. So a line typed in the console
/// gives gocker the same argv the same line gives it from bash (`run busybox sh -c 'echo $A'`).
/// </summary>
public static class ShellWords
{
    /// <exception cref="FormatException">An unterminated quote or a trailing backslash.</exception>
    public static string[] Split(string line)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool inWord = false;
        int i = 0;
        while (i < line.Length)
        {
            char c = line[i];
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
                i++;
            }
            else if (c == '#' && !inWord)
            {
                break;
            }
            else if (c == '\'')
            {
                int end = line.IndexOf('\'', i + 1);
                if (end < 0) throw new FormatException("unterminated single quote");
                cur.Append(line, i + 1, end - i - 1);
                inWord = true;
                i = end + 1;
            }
            else if (c == '"')
            {
                inWord = true;
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new FormatException("unterminated double quote");
                    char d = line[i];
                    if (d == '"') { i++; break; }
                    if (d == '\\' && i + 1 < line.Length && line[i + 1] is '\\' or '"' or '$' or '`')
                    {
                        cur.Append(line[i + 1]);
                        i += 2;
                        continue;
                    }
                    cur.Append(d);
                    i++;
                }
            }
            else if (c == '\\')
            {
                if (i + 1 >= line.Length) throw new FormatException("trailing backslash");
                cur.Append(line[i + 1]);
                inWord = true;
                i += 2;
            }
            else
            {
                cur.Append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) words.Add(cur.ToString());
        return [.. words];
    }
}
