using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2.Internals;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Support;

/// <summary>Sends a node's log (an ActorSystem of its own, not the TestKit's) to the test's output.</summary>
public static class TestLogging
{
    public static void AttachTo(ActorSystem system, ITestOutputHelper output)
    {
        var logger = system.ActorOf(Props.Create(() => new TestOutputLogger(output)), "test-output-logger");
        logger.Tell(new InitializeLogger(system.EventStream));
        system.EventStream.Subscribe(logger, typeof(LogEvent));
    }
}
