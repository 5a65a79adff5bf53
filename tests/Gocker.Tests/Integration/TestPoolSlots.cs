using System.Text.Json;

namespace Gocker.Tests.Integration;

/// <summary>A test daemon's netns pool as its records say (DATA-ROOT/network/pool/SLOTID.json), so
/// that leak checks can tell the pool's own veths, IPs and pins (which must be there) from leaks.</summary>
internal static class TestPoolSlots
{
    public sealed record Slot(string Id, string NetworkId, string Ip, List<string> HostVeths, string Pin, bool Complete);

    public static List<Slot> Read(string networkState)
    {
        var dir = Path.Combine(networkState, "pool");
        var list = new List<Slot>();
        if (!Directory.Exists(dir)) return list;
        foreach (var f in Directory.GetFiles(dir, "*.json"))
        {
            JsonElement r;
            try { r = JsonDocument.Parse(File.ReadAllText(f)).RootElement; }
            catch (Exception e) when (e is IOException or JsonException) { continue; } // replaced meanwhile
            var id = r.GetProperty("SlotId").GetString()!;
            var ep = r.GetProperty("Endpoint");
            var address = ep.TryGetProperty("Address", out var a) ? a.GetString() ?? "" : "";
            var result = ep.TryGetProperty("Result", out var res) ? res.GetString() : null;
            var veths = new List<string>();
            if (result is not null)
                foreach (var i in JsonDocument.Parse(result).RootElement.GetProperty("interfaces").EnumerateArray())
                    if (!i.TryGetProperty("sandbox", out var sb) || string.IsNullOrEmpty(sb.GetString()))
                        if (i.GetProperty("name").GetString() is { } name && !Directory.Exists($"/sys/class/net/{name}/bridge"))
                            veths.Add(name); // the host end (the bridge device is listed too)
            list.Add(new Slot(id, r.GetProperty("NetworkId").GetString()!, address.Split('/')[0], veths,
                Path.Combine(dir, id + ".netns"), result is not null && address.Length > 0));
        }
        return list;
    }

    /// <summary>The slots once the pool is quiet: every record complete (no ADD in flight) and the
    /// same set twice in a row 300 ms apart. Times out into whatever is there (the caller's check
    /// then fails on the in-flight slot's parts).</summary>
    public static List<Slot> Settled(string networkState, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        var last = Read(networkState);
        while (DateTime.UtcNow < deadline)
        {
            Thread.Sleep(300);
            var now = Read(networkState);
            if (now.All(s => s.Complete) && now.Select(s => s.Id).Order().SequenceEqual(last.Select(s => s.Id).Order())) return now;
            last = now;
        }
        return last;
    }

    /// <summary>Waits until the pool holds <paramref name="count"/> complete slots of the network
    /// (by id; null = any network) and returns them.</summary>
    public static List<Slot> WaitFull(string networkState, int count, string? networkId = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var slots = Read(networkState).Where(s => s.Complete && (networkId is null || s.NetworkId == networkId)).ToList();
            if (slots.Count >= count) return slots;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"pool did not fill to {count} (has {slots.Count}): {string.Join(", ", Read(networkState).Select(s => s.Id + (s.Complete ? "" : "*")))}");
            Thread.Sleep(50);
        }
    }

    /// <summary>The owner (CNI_CONTAINERID) of each IP allocation file under host-local's dir.</summary>
    public static List<(string Ip, string Owner)> IpAllocations(string networkState)
    {
        var ipam = Path.Combine(networkState, "ipam");
        if (!Directory.Exists(ipam)) return [];
        return Directory.GetFiles(ipam, "*", SearchOption.AllDirectories)
            .Where(f => System.Net.IPAddress.TryParse(Path.GetFileName(f), out _) && Path.GetFileName(f).Count(c => c == '.') == 3)
            .Select(f => (Path.GetFileName(f), ReadOwner(f)))
            .ToList();
    }

    static string ReadOwner(string f)
    {
        try { return File.ReadAllText(f).Split('\n', 2)[0].Trim(); }
        catch (IOException) { return ""; }
    }

    /// <summary>Lazily unmounts every mount under <paramref name="root"/> (pool pins of a killed
    /// daemon): their namespaces, and the veths in them, go with the last reference.</summary>
    public static void UnmountAll(string root)
    {
        var points = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(p => p.StartsWith(root + "/", StringComparison.Ordinal)).OrderByDescending(p => p.Length).ToList();
        foreach (var p in points)
        {
            using var proc = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("umount", ["-l", p]) { RedirectStandardError = true })!;
            proc.WaitForExit();
        }
    }
}
