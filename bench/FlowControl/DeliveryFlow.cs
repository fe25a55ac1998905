using System.Diagnostics;
using Akka.Actor;
using Akka.Delivery;
using Akka.Util;

namespace ClusterNode.Bench.FlowControl;

/// <summary>
/// (c) Akka.Delivery point to point over remoting: a ProducerController on the sending system, a
/// ConsumerController on the receiving system registered with it, the producer sending one message per
/// RequestNext and the consumer confirming each delivery. The window is the consumer controller's
/// flow-control-window, in messages.
/// </summary>
public static class DeliveryFlow
{
    public static async Task<TimeSpan> Run(RemotePair pair, byte[] payload, int count, int flowControlWindow)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = Guid.NewGuid().ToString("N");
        var consumerSettings = ConsumerController.Settings.Create(pair.Receiving) with { FlowControlWindow = flowControlWindow };
        var consumerController = pair.Receiving.ActorOf(
            ConsumerController.Create<byte[]>(pair.Receiving, Option<IActorRef>.None, consumerSettings), $"consumer-controller-{id}");
        var consumer = pair.Receiving.ActorOf(Props.Create(() => new ConsumerActor(consumerController, (long)payload.Length * count, done)), $"consumer-{id}");

        var producerControllerName = $"producer-controller-{id}";
        var producerController = pair.Sending.ActorOf(
            ProducerController.Create<byte[]>(pair.Sending, $"bench-{id}", Option<Props>.None), producerControllerName);
        var producer = pair.Sending.ActorOf(Props.Create(() => new ProducerActor(producerController, payload, count)), $"producer-{id}");
        var remoteProducerController = await RemotePair.Resolve(pair.Receiving, pair.Sending, producerControllerName);

        var clock = Stopwatch.StartNew();
        consumerController.Tell(new ConsumerController.RegisterToProducerController<byte[]>(remoteProducerController));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var elapsed = clock.Elapsed;
        foreach (var actor in new[] { producer, producerController }) pair.Sending.Stop(actor);
        foreach (var actor in new[] { consumer, consumerController }) pair.Receiving.Stop(actor);
        return elapsed;
    }

    private sealed class ProducerActor : ReceiveActor
    {
        private readonly IActorRef _producerController;
        private int _sent;

        public ProducerActor(IActorRef producerController, byte[] payload, int count)
        {
            _producerController = producerController;
            Receive<ProducerController.RequestNext<byte[]>>(next =>
            {
                if (_sent >= count) return;
                next.SendNextTo.Tell(payload);
                _sent++;
            });
        }

        protected override void PreStart() => _producerController.Tell(new ProducerController.Start<byte[]>(Self));
    }

    private sealed class ConsumerActor : ReceiveActor
    {
        private readonly IActorRef _consumerController;
        private long _handledBytes;

        public ConsumerActor(IActorRef consumerController, long expectedBytes, TaskCompletionSource done)
        {
            _consumerController = consumerController;
            Receive<ConsumerController.Delivery<byte[]>>(delivery =>
            {
                _handledBytes += delivery.Message.Length;
                delivery.ConfirmTo.Tell(ConsumerController.Confirmed.Instance);
                if (_handledBytes >= expectedBytes) done.TrySetResult();
            });
        }

        protected override void PreStart() => _consumerController.Tell(new ConsumerController.Start<byte[]>(Self));
    }
}
