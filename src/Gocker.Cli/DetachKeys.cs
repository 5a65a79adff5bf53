namespace Gocker.Cli;

/// <summary>Docker's detach key sequence: "ctrl-p,ctrl-q" (the default), "ctrl-a", "a,b"... Each key is
/// ctrl-X (X a letter or one of @ [ \ ] ^ _) or a single character.</summary>
public static class DetachKeys
{
    public const string Default = "ctrl-p,ctrl-q";

    public static byte[] Parse(string spec)
    {
        var keys = new List<byte>();
        foreach (var raw in spec.Split(','))
        {
            var k = raw.Trim();
            if (k.Length == 1 && k[0] < 128) { keys.Add((byte)k[0]); continue; }
            if (k.Length == 6 && k.StartsWith("ctrl-", StringComparison.OrdinalIgnoreCase))
            {
                char c = char.ToLowerInvariant(k[5]);
                if (c is >= 'a' and <= 'z') { keys.Add((byte)(c - 'a' + 1)); continue; }
                int i = "@[\\]^_".IndexOf(c);
                if (i >= 0) { keys.Add((byte)(i == 0 ? 0 : 26 + i)); continue; }
            }
            throw new UsageException($"Invalid detach keys ({spec}) provided");
        }
        if (keys.Count == 0) throw new UsageException($"Invalid detach keys ({spec}) provided");
        return keys.ToArray();
    }
}

/// <summary>Finds the detach sequence in the typed bytes. Bytes that may start the sequence are held
/// back until it is complete (detach: they are never sent) or broken (they are sent, in order).</summary>
public sealed class DetachKeyMatcher(byte[] keys)
{
    int _matched;

    /// <summary>Returns the bytes to forward, and whether the sequence was completed (input after it is dropped).</summary>
    public (byte[] Forward, bool Detach) Feed(ReadOnlySpan<byte> input)
    {
        if (keys.Length == 0) return (input.ToArray(), false);
        var output = new List<byte>(input.Length + keys.Length);
        foreach (var b in input)
        {
            if (b == keys[_matched])
            {
                if (++_matched == keys.Length) return (output.ToArray(), true);
                continue;
            }
            // Broken: what was held back is ordinary input; this byte may start a new sequence.
            for (int i = 0; i < _matched; i++) output.Add(keys[i]);
            _matched = 0;
            if (b == keys[0]) _matched = 1;
            else output.Add(b);
        }
        return (output.ToArray(), false);
    }
}
