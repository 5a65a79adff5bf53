using System.Text;

namespace Gocker.Cli;

/// <summary>The console's outputs: raw streams for container output (binary-safe) and UTF-8 text
/// writers for everything the console itself prints. Tests pass memory streams.</summary>
public sealed class CliIO(Stream stdout, Stream stderr) : IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public Stream StdOut { get; } = stdout;
    public Stream StdErr { get; } = stderr;
    public TextWriter Out { get; } = new StreamWriter(stdout, Utf8, 4096, leaveOpen: true) { NewLine = "\n" };
    public TextWriter Err { get; } = new StreamWriter(stderr, Utf8, 1024, leaveOpen: true) { NewLine = "\n" };

    public static CliIO FromConsole() => new(Console.OpenStandardOutput(), Console.OpenStandardError());

    /// <summary>Prints "gocker: message" on stderr, right away.</summary>
    public void Error(string message)
    {
        Err.Write("gocker: " + message + "\n");
        Err.Flush();
    }

    public void Flush()
    {
        try { Out.Flush(); } catch (IOException) { }
        try { Err.Flush(); } catch (IOException) { }
    }

    public void Dispose()
    {
        Flush();
        Out.Dispose();
        Err.Dispose();
    }
}
