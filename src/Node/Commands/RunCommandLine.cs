using System.CommandLine;
using System.CommandLine.Parsing;

namespace ClusterNode.Node.Commands;

/// <summary>`cluster-node run`'s options; its body is <see cref="RunCommand"/>.</summary>
internal static class RunCommandLine
{
    public static Command Command()
    {
        var config = new Option<string[]>("--config")
        {
            Description = "a HOCON file; repeatable, later files and --set lines win over earlier ones",
            HelpName = "FILE",
        }.NotEmpty();
        var set = new Option<string[]>("--set")
        {
            Description = "one HOCON line, e.g. --set cluster-node.http.port=8081; repeatable",
            HelpName = "path=value",
        }.NotEmpty();
        var command = new Command("run", "start a node (no option: a single node on the defaults) until Ctrl-C or SIGTERM") { config, set };
        command.SetAction(parsed => RunCommand.RunAsync(Layers(parsed)));
        return command;
    }

    /// <summary>
    /// --config and --set values in the order they were given: a layer later on the line wins, whichever option it
    /// came from, and System.CommandLine keeps each option's values apart.
    /// </summary>
    private static List<(string Option, string Value)> Layers(ParseResult parsed)
    {
        var layers = new List<(string, string)>();
        var tokens = parsed.Tokens;
        for (var i = 0; i + 1 < tokens.Count; i++)
            if (tokens[i] is { Type: TokenType.Option, Value: "--config" or "--set" } option && tokens[i + 1].Type == TokenType.Argument)
                layers.Add((option.Value, tokens[++i].Value));
        return layers;
    }
}
