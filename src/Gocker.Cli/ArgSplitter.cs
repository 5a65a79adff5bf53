namespace Gocker.Cli;

/// <summary>The command line cut in two: what System.CommandLine parses, and the container's
/// command, which nobody parses.</summary>
public sealed record SplitArgs(string[] ParserArgs, string[] ContainerCommand);

/// <summary>
/// Docker (cobra, "interspersed=false") stops option parsing of run/create at IMAGE: everything
/// after it belongs to the container, dashes included (`run busybox ls -la /`, `run busybox -- x`
/// runs "--"). System.CommandLine has no such mode, so this pre-split finds IMAGE knowing which
/// options take a value, normalizes the options before it into separate tokens ("-eK=V" -> "-e",
/// "K=V"; "-dit" -> "-d","-i","-t"; "--name=x" -> "--name","x") and leaves the rest untouched.
/// </summary>
public static class ArgSplitter
{
    /// <param name="args">The full command line.</param>
    /// <param name="globalValueOptions">Root options that take a value (e.g. -H, --host).</param>
    /// <param name="splitCommands">Commands whose positional after IMAGE is the container command.</param>
    /// <param name="commandOptions">Every spelling of those commands' options (flags included).</param>
    /// <param name="commandValueOptions">Options of those commands that take a value.</param>
    /// <exception cref="UsageException">An option before IMAGE that the command does not have: without
    /// this, the parser would take an unknown "--x" for IMAGE.</exception>
    public static SplitArgs Split(string[] args, IReadOnlySet<string> globalValueOptions,
        IReadOnlySet<string> splitCommands, IReadOnlySet<string> commandOptions, IReadOnlySet<string> commandValueOptions)
    {
        int i = 0;
        // Global options before the command.
        while (i < args.Length && IsOption(args[i]))
        {
            string a = args[i];
            if (a == "--") break;
            bool takesValue = globalValueOptions.Contains(a);
            i += takesValue ? 2 : 1;
        }
        if (i >= args.Length || !splitCommands.Contains(args[i])) return new SplitArgs(args, []);

        var parser = new List<string>(args.Length);
        parser.AddRange(args.AsSpan(0, i + 1));
        i++;
        while (i < args.Length)
        {
            string a = args[i];
            if (a == "--")
            {
                // "--" ends the options: the next token is IMAGE even if it starts with a dash.
                parser.Add("--");
                if (i + 1 < args.Length) parser.Add(args[i + 1]);
                return new SplitArgs([.. parser], args[Math.Min(i + 2, args.Length)..]);
            }
            if (!IsOption(a))
            {
                parser.Add(a);
                return new SplitArgs([.. parser], args[(i + 1)..]);
            }
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = a.IndexOf('=');
                if (!commandOptions.Contains(eq > 0 ? a[..eq] : a)) throw new UsageException($"unknown flag: {(eq > 0 ? a[..eq] : a)}");
                if (eq > 0 && commandValueOptions.Contains(a[..eq]))
                {
                    parser.Add(a[..eq]);
                    parser.Add(a[(eq + 1)..]);
                    i++;
                }
                else if (eq < 0 && commandValueOptions.Contains(a))
                {
                    parser.Add(a);
                    if (i + 1 < args.Length) parser.Add(args[i + 1]);
                    i += 2;
                }
                else
                {
                    // A flag ("--rm", "--rm=false"); System.CommandLine checks its value.
                    parser.Add(a);
                    i++;
                }
                continue;
            }
            // Short options, possibly bundled: "-it", "-e", "-eK=V", "-e=K=V", "-dm" "512m".
            i++;
            for (int k = 1; k < a.Length; k++)
            {
                string opt = "-" + a[k];
                if (!commandOptions.Contains(opt)) throw new UsageException($"unknown shorthand flag: '{a[k]}' in {a}");
                parser.Add(opt);
                if (!commandValueOptions.Contains(opt)) continue;
                string rest = a[(k + 1)..];
                if (rest.StartsWith('=')) rest = rest[1..];
                if (rest.Length > 0 || k + 1 < a.Length) parser.Add(rest);
                else if (i < args.Length) parser.Add(args[i++]);
                break;
            }
        }
        // No IMAGE: System.CommandLine reports the missing argument.
        return new SplitArgs([.. parser], []);
    }

    // "-" alone is a positional (stdin, by convention), not an option.
    private static bool IsOption(string a) => a.Length > 1 && a[0] == '-';
}
