using System.Security.Cryptography;
using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Answers another node's request for a piece of a blob. Before the first piece the whole file is hashed (unless a
/// read or the scrub hashed it since it was last written), so a node never hands on bytes it holds wrong; a blob this
/// node should hold and does not is reported damaged here, so its own repair starts too.
/// </summary>
internal sealed class BlobServerActor : ReceiveActor
{
    private readonly RecordStore _store;
    private readonly int _pieceBytes;

    public BlobServerActor(RecordStore store, int pieceBytes)
    {
        _store = store;
        _pieceBytes = pieceBytes;
        Receive<FetchBlob>(fetch => Sender.Tell(Answer(fetch)));
    }

    private object Answer(FetchBlob fetch)
    {
        if (!BlobStore.IsValidFileId(fetch.FileId) || fetch.Size < 0 || fetch.Offset < 0 || fetch.Offset > fetch.Size || fetch.Sha256.Length != 32)
            return new BlobNotHeld(fetch.RequestId, fetch.FileId, "the request names no valid blob");
        var blob = new BlobRef("", fetch.FileId, fetch.Size, fetch.Sha256);
        try
        {
            using var file = _store.TryOpenBlob(blob);
            if (file is null) return NotHeld(fetch, blob, "no file of that size here");
            if (fetch.Offset == 0 && !_store.Blobs.IsVerified(blob))
            {
                if (!SHA256.HashData(file).AsSpan().SequenceEqual(fetch.Sha256)) return NotHeld(fetch, blob, "the file here does not hash right");
                _store.Blobs.MarkVerified(blob);
            }
            var bytes = new byte[(int)Math.Min(_pieceBytes, fetch.Size - fetch.Offset)];
            file.Seek(fetch.Offset, SeekOrigin.Begin);
            file.ReadExactly(bytes);
            return new BlobPiece(fetch.RequestId, fetch.FileId, fetch.Offset, bytes, fetch.Offset + bytes.Length == fetch.Size);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return NotHeld(fetch, blob, $"reading it failed: {e.Message}");
        }
    }

    private BlobNotHeld NotHeld(FetchBlob fetch, BlobRef blob, string reason)
    {
        _store.Blobs.ForgetVerified(blob.FileId);
        // This node should hold it when its own live record names it: then its own repair starts as well.
        if (_store.Get(fetch.Table, fetch.Id) is { Deleted: false } record && record.Blobs.FirstOrDefault(b => b.FileId == fetch.FileId) is { } mine &&
            _store.LostBlob(fetch.FileId) is null)
            _store.ReportDamagedBlob(fetch.Table, fetch.Id, mine, reason);
        return new BlobNotHeld(fetch.RequestId, fetch.FileId, reason);
    }
}
