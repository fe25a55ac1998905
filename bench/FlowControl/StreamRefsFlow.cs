using System.Diagnostics;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace ClusterNode.Bench.FlowControl;

/// <summary>
/// (b) Akka.Streams StreamRefs: the sending system materializes its source into a SourceRef and sends the ref
/// to an actor on the receiving system, which runs it into a sink. Demand (Reactive Streams, counted in
/// elements) crosses the network; the window is the stream-ref buffer-capacity, in elements.
/// </summary>
public static class StreamRefsFlow
{
    public static async Task<TimeSpan> Run(RemotePair pair, byte[] payload, int count)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var name = $"sourceref-receiver-{Guid.NewGuid():N}";
        var receivingMaterializer = pair.Receiving.Materializer();
        var local = pair.Receiving.ActorOf(Props.Create(() => new ReceiverActor(receivingMaterializer, done)), name);
        var receiver = await RemotePair.Resolve(pair.Sending, pair.Receiving, name);
        var sendingMaterializer = pair.Sending.Materializer();

        var clock = Stopwatch.StartNew();
        var sourceRef = await Source.From(Enumerable.Repeat(payload, count)).RunWith(StreamRefs.SourceRef<byte[]>(), sendingMaterializer);
        // The ref itself is the message: Akka.Streams' StreamRefSerializer carries it to the other system.
        receiver.Tell(sourceRef);
        var receivedBytes = await done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var elapsed = clock.Elapsed;
        pair.Receiving.Stop(local);
        if (receivedBytes != (long)payload.Length * count)
            throw new InvalidOperationException($"StreamRefs delivered {receivedBytes} bytes, expected {(long)payload.Length * count}");
        return elapsed;
    }

    private sealed class ReceiverActor : ReceiveActor
    {
        public ReceiverActor(IMaterializer materializer, TaskCompletionSource<long> done)
        {
            Receive<ISourceRef<byte[]>>(sourceRef =>
            {
                sourceRef.Source
                    .RunWith(Sink.Aggregate<byte[], long>(0L, (total, bytes) => total + bytes.Length), materializer)
                    .ContinueWith(t =>
                    {
                        if (t.IsCompletedSuccessfully) done.TrySetResult(t.Result);
                        else done.TrySetException(t.Exception?.InnerException ?? new InvalidOperationException("stream cancelled"));
                    }, TaskScheduler.Default);
            });
        }
    }
}
