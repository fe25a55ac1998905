using ClusterNode.Node;

// cluster-node's host: a cluster member running the replication runtime and the HTTP API on HOCON files and --set
// overrides over the embedded defaults; `status` and `verify` read nodes over that API.
return await NodeCommand.RunAsync(args);

internal static class NodeCommand
{
    private const int Usage = ClusterNode.Node.Commands.CommandLine.Usage;

    public static async Task<int> RunAsync(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "run":
                StartUpTrace.Step("main");
                return await ClusterNode.Node.Commands.RunCommand.RunAsync(args[1..]);
            case "status":
                return await ClusterNode.Node.Commands.StatusCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "verify":
                return await ClusterNode.Node.Commands.VerifyCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "members":
                return await ClusterNode.Node.Commands.MembersCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "down":
                return await ClusterNode.Node.Commands.DownCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "token":
                return ClusterNode.Node.Commands.TokenCommand.Run(args[1..], Console.Out, Console.Error);
            case "cert":
                return ClusterNode.Node.Commands.CertCommand.Run(args[1..], Console.Out, Console.Error);
            default:
                Console.Error.WriteLine("usage: cluster-node run [--config FILE]... [--set path=value]...");
                Console.Error.WriteLine("       cluster-node status [--url http://127.0.0.1:8080] [--token TOKEN]");
                Console.Error.WriteLine("       cluster-node verify [--deep [--max-age SECONDS]] --url URL --url URL... [--token TOKEN]");
                Console.Error.WriteLine("       cluster-node members [--url http://127.0.0.1:8080] [--token TOKEN]");
                Console.Error.WriteLine("       cluster-node down ADDRESS [--url http://127.0.0.1:8080] [--token TOKEN]");
                Console.Error.WriteLine("       cluster-node token create [--role read|write|admin]");
                Console.Error.WriteLine("       cluster-node cert create-ca --out DIR");
                Console.Error.WriteLine("       cluster-node cert create-node --ca DIR --name NAME [--host H]... --out DIR");
                Console.Error.WriteLine("  (--token defaults to the CLUSTER_NODE_TOKEN environment variable)");
                return Usage;
        }
    }
}
