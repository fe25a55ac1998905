using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Streams;

namespace ClusterNode.Bench.FlowControl;

/// <summary>
/// Two ActorSystems in this process talking over Akka.Remote on loopback (ports chosen by the OS), with the
/// transport set as cluster-node sets it in src/Actors/reference.conf: frames up to 1 MiB, 4 MiB socket buffers.
/// <see cref="Sending"/> holds the producer side, <see cref="Receiving"/> the consumer side. Errors Akka logs
/// are collected in <see cref="Errors"/> rather than printed, so that the table stays whole and the bench can
/// tell a run that logged errors from a clean one (a disassociation logged while the pair shuts down is no
/// error of the run).
/// </summary>
public sealed class RemotePair : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _errors = new();

    private RemotePair(ActorSystem sending, ActorSystem receiving)
    {
        Sending = sending;
        Receiving = receiving;
        foreach (var system in new[] { sending, receiving })
        {
            var collector = system.ActorOf(Props.Create(() => new ErrorCollector(_errors)), "bench-error-collector");
            system.EventStream.Subscribe(collector, typeof(Error));
        }
    }

    /// <summary>Errors logged by either system so far.</summary>
    public ConcurrentQueue<string> Errors => _errors;

    public ActorSystem Sending { get; }
    public ActorSystem Receiving { get; }

    /// <param name="extraHocon">Settings of the mechanism under test (stream-ref buffer, delivery window).</param>
    public static RemotePair Start(string extraHocon = "")
    {
        var config = ConfigurationFactory.ParseString($$"""
            {{extraHocon}}
            akka {
              loglevel = ERROR
              stdout-loglevel = OFF
              loggers = []
              actor.provider = remote
              remote.dot-netty.tcp {
                hostname = "127.0.0.1"
                port = 0
                maximum-frame-size = 1 MiB
                send-buffer-size = 4 MiB
                receive-buffer-size = 4 MiB
              }
              # Akka.Delivery's wire messages: their serializer ships in Akka.Cluster, whose reference.conf is only
              # loaded by the cluster provider, so it is bound here for plain remoting.
              actor {
                serializers.reliable-delivery = "Akka.Cluster.Serialization.ReliableDeliverySerializer, Akka.Cluster"
                serialization-bindings { "Akka.Delivery.Internal.IDeliverySerializable, Akka" = reliable-delivery }
                serialization-identifiers { "Akka.Cluster.Serialization.ReliableDeliverySerializer, Akka.Cluster" = 36 }
              }
            }
            """).WithFallback(ActorMaterializer.DefaultConfig());
        return new RemotePair(ActorSystem.Create("bench-sending", config), ActorSystem.Create("bench-receiving", config));
    }

    public static Address AddressOf(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress;

    /// <summary>A remote reference, from <paramref name="from"/>, to the top-level actor <paramref name="name"/> of <paramref name="on"/>.</summary>
    public static Task<IActorRef> Resolve(ActorSystem from, ActorSystem on, string name) =>
        from.ActorSelection(new RootActorPath(AddressOf(on)) / "user" / name).ResolveOne(TimeSpan.FromSeconds(10));

    private sealed class ErrorCollector : ReceiveActor
    {
        public ErrorCollector(ConcurrentQueue<string> errors) =>
            Receive<Error>(error => errors.Enqueue($"{error.LogSource}: {error.Message} {error.Cause?.Message}".Trim()));
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Sending.Terminate(), Receiving.Terminate());
    }
}
