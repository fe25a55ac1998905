using Akka.Event;

namespace ClusterNode.Node.Hosting;

/// <summary>
/// Akka's fallback logger (<c>akka.stdout-logger-class</c>) for the moments the log bridge is not running: before it
/// starts and while the ActorSystem shuts down. Akka's own writes every event there to standard output, between the
/// lines a script reads (and, with JSON logging, lines that are not JSON); this one writes only warnings and errors, one
/// line each, to standard error.
/// </summary>
public sealed class StandardErrorLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is not LogEvent log || log.LogLevel() < LogLevel.WarningLevel) return;
        var cause = log.Cause is { } e ? $" ({e.GetType().Name}: {e.Message})" : "";
        Console.Error.WriteLine($"{log.LogLevel().ToString().Replace("Level", "").ToLowerInvariant()}: {log.LogSource}: {log.Message}{cause}".ReplaceLineEndings(" "));
    }
}
