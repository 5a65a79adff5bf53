using System.Text.Json.Nodes;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>container, network, image and system prune with their filters, through the console and
/// the docker CLI. Prune is daemon-wide: this class has a daemon of its own.</summary>
[Trait("Needs", "root")]
public sealed class PruneTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    string[] AllIds() => Ok("ps", "-a", "-q", "--no-trunc").Split('\n', StringSplitOptions.RemoveEmptyEntries);
    string[] ImageNames() => Ok("images").Split('\n').Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]).ToArray();

    string Load(string name, Dictionary<string, string>? labels)
    {
        var layers = ImageArchives.ThreeLayers(withBusybox: false);
        var config = ImageArchives.Config(layers, cmd: ["sh"]);
        // A different config per image (its id): the created time.
        config["created"] = DateTimeOffset.UtcNow.AddMinutes(-Random.Shared.Next(1, 1000)).ToString("O");
        if (labels is not null) config["config"]!["Labels"] = new JsonObject(labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        var path = Path.Combine(daemon.Root, name + ".tar");
        File.WriteAllBytes(path, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", path);
        return name;
    }

    [Fact]
    public void Container_prune_removes_stopped_containers_the_filters_select_and_never_a_running_one()
    {
        var running = Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
        var exited = Ok("run", "-d", "--network", "none", "busybox", "true");
        var labelled = Ok("create", "--network", "none", "--label", "tier=web", "busybox", "true");
        Ok("wait", exited);

        var r = Ok("container", "prune", "-f", "--filter", "label=tier=web");
        Assert.Contains(labelled, r);
        Assert.DoesNotContain(exited, r);
        Assert.Equal(new[] { running, exited }.Order(), AllIds().Order());
        // until: everything was created after this time, so nothing older than it goes.
        Assert.DoesNotContain(exited, Ok("container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"));
        Assert.Contains("invalid filter 'name'", daemon.Gocker("container", "prune", "-f", "--filter", "name=x").Stderr);

        if (DockerCliFactAttribute.Path is not null)
        {
            var (code, output, err) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "container", "prune", "-f");
            Assert.True(code == 0, output + err);
            Assert.Contains(exited, output);
        }
        else Ok("container", "prune", "-f");
        Assert.Equal([running], AllIds());
        Ok("rm", "-f", running);
    }

    [Fact]
    public void Network_prune_removes_unused_user_networks_only()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var (unused, usedByStopped, labelled) = ("pn-unused-" + tag, "pn-stopped-" + tag, "pn-lab-" + tag);
        Ok("network", "create", unused);
        Ok("network", "create", usedByStopped);
        Ok("network", "create", "--label", "keep=no", labelled);
        var c = Ok("create", "--network", usedByStopped, "busybox", "true");
        var byLabel = Ok("network", "prune", "-f", "--filter", "label=keep=no");
        Assert.Contains(labelled, byLabel);
        Assert.DoesNotContain(unused, byLabel);
        var all = Ok("network", "prune", "-f");
        Assert.Contains(unused, all);
        var left = Ok("network", "ls");
        Assert.Contains(usedByStopped, left); // a stopped container is configured for it
        Assert.DoesNotContain(unused, left);
        Ok("rm", c);
        Ok("network", "rm", usedByStopped);
    }

    [Fact]
    public void Image_prune_all_with_a_label_filter_deletes_only_the_labelled_images()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var keep = Load("keep-" + tag, null);
        var labelled = Load("lab-" + tag, new() { ["purge"] = "yes" });
        var other = Load("other-" + tag, new() { ["purge"] = "no" });

        var r = Ok("image", "prune", "-a", "-f", "--filter", "label=purge=yes");
        Assert.Contains("lab-" + tag, r);
        var names = ImageNames();
        Assert.Contains(keep, names);
        Assert.Contains(other, names);
        Assert.DoesNotContain(labelled, names);

        // label!=: every unused image except those.
        Ok("image", "prune", "-a", "-f", "--filter", "label!=purge");
        names = ImageNames();
        Assert.DoesNotContain(keep, names);
        Assert.Contains(other, names);
        if (DockerCliFactAttribute.Path is not null)
        {
            var (code, output, err) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "image", "prune", "-a", "-f", "--filter", "label=purge=no");
            Assert.True(code == 0, output + err);
        }
        else Ok("image", "prune", "-a", "-f", "--filter", "label=purge=no");
        Assert.DoesNotContain(other, ImageNames());
    }

    [Fact]
    public void System_prune_composes_the_prunes_and_refuses_volumes_it_cannot_prune_before_deleting_anything()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var exited = Ok("run", "-d", "--network", "none", "busybox", "true");
        Ok("wait", exited);
        var net = "sp-" + tag;
        Ok("network", "create", net);
        var image = Load("sp-img-" + tag, null);

        var volumes = daemon.Gocker("system", "prune", "-f", "--volumes");
        if (volumes.ExitCode != 0)
        {
            // No /volumes/prune on this daemon: refused by name, nothing deleted.
            Assert.Contains("--volumes", volumes.Stderr);
            Assert.Contains(exited, AllIds());
        }
        var r = Ok("system", "prune", "-a", "-f");
        Assert.Empty(AllIds());
        Assert.DoesNotContain(net, Ok("network", "ls"));
        Assert.DoesNotContain(image, ImageNames());
        Assert.Contains("Total reclaimed space", r);
    }
}
