using Gocker.Api;
using Gocker.Network;

namespace Gocker.Actors.Containers;

/// <summary>Name resolution options of a create request: NetworkingConfig's aliases, Domainname,
/// HostConfig.ExtraHosts/Dns/DnsSearch/DnsOptions, validated into <see cref="ContainerSpec.Names"/>
/// (the network manager writes them into the generated /etc/hosts and /etc/resolv.conf).</summary>
public static partial class ContainerSpecFactory
{
    public const string AliasOnDefaultNetwork = "network-scoped alias is supported only for containers in user defined networks";

    public static ContainerSpec WithNames(ContainerSpec spec, ContainerCreateRequest req, HostConfig hc, GockerOptionsView options)
    {
        var mode = spec.NetworkMode ?? "none";
        var aliases = EndpointAliases(req.NetworkingConfig, mode, options.DefaultNetwork);
        var domain = req.Domainname ?? "";
        if (domain.Length > 0 && (domain.Length > 255 || !HostnameRegex().IsMatch(domain)))
            throw new BadRequestException($"invalid Domainname \"{Shorten(domain)}\": use letters, digits, '-' and '.' (max 255)");
        var names = new NameSettings
        {
            Aliases = aliases,
            Domainname = domain,
            ExtraHosts = Checked(hc.ExtraHosts, "HostConfig.ExtraHosts", e => NameSettings.ParseExtraHost(e)) ?? [],
            Dns = Checked(hc.Dns, "HostConfig.Dns", NameSettings.ValidateDns),
            DnsSearch = Checked(hc.DnsSearch, "HostConfig.DnsSearch", NameSettings.ValidateDnsSearch),
            DnsOptions = Checked(hc.DnsOptions, "HostConfig.DnsOptions", NameSettings.ValidateDnsOption),
        };
        bool files = names.ExtraHosts.Count > 0 || names.Dns is not null || names.DnsSearch is not null || names.DnsOptions is not null;
        // --network none keeps the image's own /etc files: nothing would write these into them.
        if (files && mode == "none")
            throw new BadRequestException("conflicting options: --add-host/--dns/--dns-search/--dns-option and --network none (the container has no generated /etc/hosts or /etc/resolv.conf)");
        return names.Aliases.Count == 0 && domain.Length == 0 && !files ? spec : spec with { Names = names };
    }

    /// <summary>The aliases of NetworkingConfig.EndpointsConfig: one entry, for the network of
    /// NetworkMode (Docker's API before 1.44 takes no more at create); other endpoint fields refused.</summary>
    static List<string> EndpointAliases(NetworkingConfig? nc, string mode, string defaultNetwork)
    {
        if (nc is null) return [];
        RefuseUnsupported("NetworkingConfig.", nc.Unsupported);
        var entries = (nc.EndpointsConfig ?? []).Where(kv => kv.Value is not null).ToList();
        if (entries.Count == 0) return [];
        if (entries.Count > 1)
            throw new BadRequestException($"NetworkingConfig.EndpointsConfig: a container is created on one network ({string.Join(", ", entries.Select(e => e.Key))} given); connect it to the others with POST /networks/{{id}}/connect");
        var (net, ep) = (entries[0].Key, entries[0].Value!);
        RefuseUnsupported($"NetworkingConfig.EndpointsConfig.{net}.", ep.Unsupported);
        bool isDefault(string n) => n is "bridge" or "default" || n == defaultNetwork;
        if (net != mode && !(isDefault(net) && isDefault(mode)))
            throw new BadRequestException($"NetworkingConfig.EndpointsConfig.{net}: the container's network is \"{mode}\" (HostConfig.NetworkMode); only that one can be configured at create");
        var aliases = (ep.Aliases ?? []).Where(a => !string.IsNullOrEmpty(a)).Distinct(StringComparer.Ordinal).ToList();
        if (aliases.Count == 0) return [];
        if (mode is "none" or "host" || isDefault(mode)) throw new BadRequestException(AliasOnDefaultNetwork);
        foreach (var a in aliases)
        {
            try { NameSettings.ValidateName(a, $"NetworkingConfig.EndpointsConfig.{net}.Aliases entry"); }
            catch (ArgumentException ex) { throw new BadRequestException(ex.Message); }
        }
        return aliases;
    }

    /// <summary>No NetworkMode (or "default") and one EndpointsConfig entry: Docker puts the container
    /// on that network only (its Networks are the endpoints given; the default network is joined only
    /// when none is). Testcontainers' WithNetwork creates containers this way.</summary>
    static string? DefaultModeNetwork(NetworkingConfig? nc) =>
        nc?.EndpointsConfig?.Where(kv => kv.Value is not null).ToList() is [var only] && only.Key is { Length: > 0 } and not ("default" or "bridge") ? only.Key : null;

    static List<string>? Checked(List<string>? values, string field, Action<string> check)
    {
        if (values is null) return null;
        var list = values.Where(v => !string.IsNullOrEmpty(v)).ToList();
        if (list.Count == 0) return null;
        foreach (var v in list)
        {
            try { check(v); }
            catch (ArgumentException ex) { throw new BadRequestException($"{field}: {ex.Message}"); }
        }
        return list;
    }
}
