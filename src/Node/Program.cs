using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using ClusterNode.Node;
using ClusterNode.Node.Commands;

// cluster-node's host: a cluster member running the replication runtime and the HTTP API on HOCON files and --set
// overrides over the embedded defaults; `status` and `verify` read nodes over that API.
StartUpTrace.Step("main");
return await NodeCommand.InvokeAsync(args, Console.Out, Console.Error);

/// <summary>The command line: every command and its options on System.CommandLine, which writes their --help.</summary>
internal static class NodeCommand
{
    public static RootCommand Root() => new("cluster-node: a replicated record-and-blob store on Akka.NET")
    {
        RunCommandLine.Command(),
        StatusCommand.Command(),
        VerifyCommand.Command(),
        MembersCommand.Command(),
        DownCommand.Command(),
        TokenCommand.Command(),
        CertCommand.Command(),
    };

    public static async Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error)
    {
        var parsed = Root().Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            // One line naming what was wrong, not System.CommandLine's errors followed by the whole help.
            var command = string.Join(' ', CommandPath(parsed.CommandResult.Command));
            error.WriteLine($"{command}: {Problem(parsed)} (see {command} --help)");
            return CommandLine.Usage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // `run` leaves the cluster on SIGINT/SIGTERM however long that takes, and `status --watch` stops on them:
            // each handles its signals itself rather than be cut off after System.CommandLine's 2 s.
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>
    /// What was wrong, on one line: a word the parser did not know is the user's mistake (the errors after it follow
    /// from it: "sign-node" is also why no cert command was given); otherwise every problem found.
    /// </summary>
    private static string Problem(ParseResult parsed)
    {
        static string Line(ParseError e) => string.Join(' ', e.Message.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim())).TrimEnd('.');
        var unknown = parsed.Errors.FirstOrDefault(e => parsed.UnmatchedTokens.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)));
        return unknown is not null ? Line(unknown) : string.Join("; ", parsed.Errors.Select(Line).Distinct());
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? symbol = command; symbol is Command c; symbol = c.Parents.FirstOrDefault())
            names.Insert(0, c is RootCommand ? "cluster-node" : c.Name);
        return names;
    }
}
