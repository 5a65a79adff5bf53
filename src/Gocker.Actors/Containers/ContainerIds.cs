using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Gocker.Actors.Containers;

public static partial class ContainerIds
{
    /// <summary>64 hex chars from a CSPRNG, like Docker (and never all digits, which some tools
    /// would read as a number).</summary>
    public static string New()
    {
        while (true)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            if (!id.All(char.IsDigit)) return id;
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NameRegex();

    public static void ValidateName(string name)
    {
        if (name.Length > 128 || !NameRegex().IsMatch(name))
            throw new BadRequestException($"Invalid container name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (max 128)");
    }

    private static readonly string[] Adjectives = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "mellow", "nifty", "proud", "quirky", "silly", "tender", "vivid", "witty", "zen"];
    private static readonly string[] Nouns = ["armstrong", "babbage", "curie", "darwin", "euler", "fermi", "galois", "hopper", "joule", "kepler", "lovelace", "mendel", "noether", "pascal", "ritchie", "turing", "wozniak"];

    public static string RandomName() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}_{Nouns[RandomNumberGenerator.GetInt32(Nouns.Length)]}";
}
