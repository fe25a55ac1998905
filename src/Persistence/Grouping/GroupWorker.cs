using System.Threading.Channels;

namespace ClusterNode.Persistence.Grouping;

/// <summary>
/// Group commit: callers queue work items, and one dedicated thread takes every item waiting at that moment (up to a
/// bound) and handles them as one group, so that concurrent writers share one transaction and one sync instead of
/// taking turns at a lock, each with a sync of its own. While a group syncs, the next one gathers. The thread is
/// dedicated because each group blocks on disk syncs; callers only await their item's own task.
/// </summary>
/// <typeparam name="T">An item: what to do and the completion its caller awaits; <c>handle</c> must complete every item it is given.</typeparam>
internal sealed class GroupWorker<T> : IDisposable where T : class
{
    private readonly Channel<T> _queue;
    private readonly Func<T, int> _weight;
    private readonly int _maxGroupWeight;
    private readonly Action<IReadOnlyList<T>> _handle;
    private readonly Thread _thread;

    /// <param name="capacity">Items waiting at most; a caller beyond it awaits room (backpressure, no unbounded queue).</param>
    /// <param name="maxGroupWeight">A group stops taking items once their weights reach this; one item is always taken.</param>
    public GroupWorker(string name, int capacity, int maxGroupWeight, Func<T, int> weight, Action<IReadOnlyList<T>> handle)
    {
        _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _weight = weight;
        _maxGroupWeight = maxGroupWeight;
        _handle = handle;
        // Background: a process that forgets to dispose its store still exits.
        _thread = new Thread(Run) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="item"/>; completes once it is queued (not handled: the item carries its own completion).</summary>
    public async ValueTask EnqueueAsync(T item, CancellationToken cancel = default)
    {
        try
        {
            await _queue.Writer.WriteAsync(item, cancel);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(_thread.Name, "the store is closed");
        }
    }

    private void Run()
    {
        var group = new List<T>();
        // Blocking here is the point of a dedicated thread: it has nothing else to do until an item comes.
        while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            group.Clear();
            var weight = 0;
            while (weight < _maxGroupWeight && _queue.Reader.TryRead(out var item))
            {
                group.Add(item);
                weight += _weight(item);
            }
            if (group.Count == 0) continue;
            try
            {
                _handle(group);
            }
            catch (Exception)
            {
                // The handler has answered its items (it must, whatever fails); what it threw after that (a listener
                // of the store's events, say) must not end the thread every later writer depends on.
            }
        }
    }

    /// <summary>Takes no more items, handles those already queued, and ends the thread.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        if (Thread.CurrentThread != _thread) _thread.Join();
    }
}
