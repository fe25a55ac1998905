using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Hosting;
using ClusterNode.Actors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using AkkaLogLevel = Akka.Event.LogLevel;

namespace ClusterNode.Node.Hosting;

/// <summary>How the node's log lines are written on the console: one readable line per event, or one JSON object per line.</summary>
public enum LogFormat
{
    Text,
    Json,
}

/// <summary>
/// The node's log through Microsoft.Extensions.Logging: the console output of <c>cluster-node run</c>
/// (<c>cluster-node.logging.format</c>), and Akka's own log bridged into whatever logger factory the host has, with
/// Akka.Hosting's <c>LoggerFactoryLogger</c> (<see cref="AkkaLogBridge"/>).
/// </summary>
public static class NodeLogging
{
    public const string FormatKey = "cluster-node.logging.format";

    /// <summary>The category of the process's own lines (start-up warnings, a new incarnation and why).</summary>
    public const string Category = "cluster-node";

    /// <summary>Reads <c>cluster-node.logging.format</c>; anything but text or json is refused, naming the key.</summary>
    public static LogFormat Format(Config config) =>
        config.WithDefaults().GetString(FormatKey, "text").Trim().ToLowerInvariant() switch
        {
            "text" => LogFormat.Text,
            "json" => LogFormat.Json,
            var other => throw new ConfigurationException($"{FormatKey} must be text or json, not '{other}'"),
        };

    /// <summary>
    /// The console logging of <c>cluster-node run</c>, on standard error (standard output keeps the lines a script
    /// reads: where the node runs, and that it stopped). Akka's events are filtered by <c>akka.loglevel</c> before
    /// they get here; ASP.NET Core's own (one per request) only from warnings up.
    /// </summary>
    public static void AddNodeConsole(this ILoggingBuilder logging, LogFormat format)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Debug);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        // The host's "Hosting failed to start" with a stack trace: the run command says what failed in one line instead.
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
        logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        if (format == LogFormat.Json)
            logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        else
            logging.AddSimpleConsole(text =>
            {
                text.SingleLine = true; // an exception's stack trace too: one event, one line
                text.UseUtcTimestamp = true;
                text.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
    }

    /// <summary>
    /// <paramref name="config"/> and the setups that send an ActorSystem's log to <paramref name="loggerFactory"/>,
    /// composed by Akka.Hosting's configuration builder (its <c>ConfigureLoggers</c> / <c>AddLoggerFactory</c>).
    /// Only the composition is used: Akka.Hosting's <c>AddAkka</c> would register one ActorSystem for the host's
    /// lifetime, while a node replaces its ActorSystem when the cluster removes it (NodeHost), each started from these.
    /// </summary>
    internal static (Config Config, IReadOnlyCollection<Setup> Setups) BridgeAkkaLog(Config config, ILoggerFactory loggerFactory)
    {
        if (config.GetString("akka.loglevel", "INFO").Trim().Equals("OFF", StringComparison.OrdinalIgnoreCase)) return (config, []);
        var akka = new AkkaConfigurationBuilder(new ServiceCollection(), NodeRuntime.SystemName)
            .AddHocon(config, HoconAddMode.Prepend)
            .AddHocon($"akka.stdout-logger-class = \"{typeof(StandardErrorLogger).AssemblyQualifiedName}\"", HoconAddMode.Append)
            .ConfigureLoggers(loggers =>
            {
                // The builder writes its own akka.loglevel and log-config-on-start over the configuration: keep the deployment's.
                loggers.LogLevel = AkkaLevel(config);
                loggers.LogConfigOnStart = config.GetBoolean("akka.log-config-on-start", false);
                loggers.AddLoggerFactory(loggerFactory); // the setup that carries the factory to the logger actor
                loggers.ClearLoggers(); // then our subclass of its logger in place of Akka's stdout logger and the base
                loggers.AddLogger<AkkaLogBridge>();
            });
        return (akka.Configuration.Value, akka.Setups.ToList());
    }

    private static AkkaLogLevel AkkaLevel(Config config) =>
        config.GetString("akka.loglevel", "INFO").Trim().ToUpperInvariant() switch
        {
            "DEBUG" => AkkaLogLevel.DebugLevel,
            "INFO" => AkkaLogLevel.InfoLevel,
            "WARNING" => AkkaLogLevel.WarningLevel,
            "ERROR" => AkkaLogLevel.ErrorLevel,
            var other => throw new ConfigurationException($"akka.loglevel must be DEBUG, INFO, WARNING, ERROR or OFF, not '{other}'"),
        };
}
