using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace ClusterNode.Node.Hosting;

/// <summary>
/// Akka's logger (<c>akka.loggers</c>) that hands each event to the host's logger factory: Akka.Hosting's
/// <see cref="LoggerFactoryLogger"/>, but logging the event's own message under the category of the class that logged it
/// (<c>Akka.Cluster.Cluster</c>, <c>ClusterNode.Actors.Replication.ReceiverActor</c>), where the base logs Akka's whole
/// formatted line (its own level, timestamp and thread again) under one category for everything.
/// </summary>
public sealed class AkkaLogBridge : LoggerFactoryLogger
{
    private readonly ILoggerFactory _factory = Context.System.Settings.Setup.Get<LoggerFactorySetup>().Value.LoggerFactory;
    private readonly ConcurrentDictionary<Type, ILogger> _loggers = new();

    protected override void Log(LogEvent log, ActorPath path)
    {
        var logger = _loggers.GetOrAdd(log.LogClass ?? typeof(ActorSystem), type => _factory.CreateLogger(Category(type)));
        logger.Log(Level(log.LogLevel()), log.Cause, "{LogSource}: {Message}", log.LogSource, log.Message?.ToString());
    }

    // A log source given as a string (remoting, the cluster, coordinated shutdown) comes with a placeholder class.
    private static string Category(Type type) => type == typeof(DummyClassForStringSources) ? "Akka" : type.FullName ?? type.Name;

    private static LogLevel Level(AkkaLogLevel level) => level switch
    {
        AkkaLogLevel.DebugLevel => LogLevel.Debug,
        AkkaLogLevel.InfoLevel => LogLevel.Information,
        AkkaLogLevel.WarningLevel => LogLevel.Warning,
        _ => LogLevel.Error,
    };
}
