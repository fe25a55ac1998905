using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClusterNode.Node.Hosting;

/// <summary>Embeds a cluster node in a .NET application on the generic host.</summary>
public static class ClusterNodeServiceCollectionExtensions
{
    /// <summary>
    /// Adds a cluster node that starts and stops with the host: <c>builder.Services.AddClusterNode(node =&gt; { node.ConfigFile
    /// = "node.conf"; node.DataDirectory = "data"; })</c>. Resolve <see cref="ClusterNodeService"/> to reach it. The
    /// configuration is read here, so a missing file, an unknown key under <c>cluster-node</c> (a typo), a bad HTTP
    /// setting or an exposure the secure defaults refuse is an error at once; any other bad setting stops the host's
    /// start, naming the key.
    /// </summary>
    public static IServiceCollection AddClusterNode(this IServiceCollection services, Action<ClusterNodeOptions> configure)
    {
        var options = new ClusterNodeOptions();
        configure(options);
        var config = options.ToConfig();
        var (http, insecure) = ClusterNodeService.CheckConfiguration(config); // as `cluster-node run` checks it
        services.AddSingleton(provider => new ClusterNodeService(config, Task.FromResult(provider.GetRequiredService<ILoggerFactory>()),
            options.ServeHttpApi ? http : null, insecure));
        services.AddHostedService(provider => provider.GetRequiredService<ClusterNodeService>());
        return services;
    }

    /// <summary>A node already starting (<c>cluster-node run</c>): the host stops it, and waits for it at its start.</summary>
    internal static IServiceCollection AddClusterNode(this IServiceCollection services, ClusterNodeService node)
    {
        services.AddSingleton(node);
        services.AddHostedService(_ => node);
        return services;
    }
}
