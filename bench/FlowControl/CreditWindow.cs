using System.Diagnostics;
using Akka.Actor;

namespace ClusterNode.Bench.FlowControl;

/// <summary>
/// (a) A hand-written byte-bounded credit window, the scheme cluster-node's sender and receiver use, reduced to
/// its core so that it compares like with like against Akka's mechanisms: the sender sends while the bytes in
/// flight (sent, not yet credited) stay within the window; the receiver answers every message with the
/// cumulative count of bytes it has handled.
/// </summary>
public static class CreditWindow
{
    public static async Task<TimeSpan> Run(RemotePair pair, byte[] payload, int count, long windowBytes)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var name = $"credit-receiver-{Guid.NewGuid():N}";
        var local = pair.Receiving.ActorOf(Props.Create(() => new ReceiverActor((long)payload.Length * count, done)), name);
        var receiver = await RemotePair.Resolve(pair.Sending, pair.Receiving, name);
        var sender = pair.Sending.ActorOf(Props.Create(() => new SenderActor(receiver, payload, count, windowBytes)));

        var clock = Stopwatch.StartNew();
        sender.Tell(Go.Instance);
        await done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var elapsed = clock.Elapsed;
        pair.Sending.Stop(sender);
        pair.Receiving.Stop(local);
        return elapsed;
    }

    private sealed record Go
    {
        public static readonly Go Instance = new();
    }

    private sealed class SenderActor : ReceiveActor
    {
        private readonly IActorRef _receiver;
        private readonly byte[] _payload;
        private readonly int _count;
        private readonly long _windowBytes;
        private int _sent;
        private long _sentBytes;
        private long _creditedBytes;

        public SenderActor(IActorRef receiver, byte[] payload, int count, long windowBytes)
        {
            (_receiver, _payload, _count, _windowBytes) = (receiver, payload, count, windowBytes);
            Receive<Go>(_ => Pump());
            // Credit is cumulative, so a reordered or repeated credit can never widen the window.
            Receive<long>(handledBytes =>
            {
                _creditedBytes = Math.Max(_creditedBytes, handledBytes);
                Pump();
            });
        }

        private void Pump()
        {
            while (_sent < _count && _sentBytes - _creditedBytes + _payload.Length <= _windowBytes)
            {
                _receiver.Tell(_payload, Self);
                _sent++;
                _sentBytes += _payload.Length;
            }
        }
    }

    private sealed class ReceiverActor : ReceiveActor
    {
        private long _handledBytes;

        public ReceiverActor(long expectedBytes, TaskCompletionSource done)
        {
            Receive<byte[]>(bytes =>
            {
                _handledBytes += bytes.Length;
                Sender.Tell(_handledBytes);
                if (_handledBytes >= expectedBytes) done.TrySetResult();
            });
        }
    }
}
