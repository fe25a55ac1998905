using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using ClusterNode.Client;
using Xunit;

namespace ClusterNode.Tests.Client;

/// <summary>
/// The client's own check of a download, against a node that misbehaves in ways a real node never does on purpose
/// (bytes that do not match the digest it announced, a body shorter than announced, no digest): whatever the node sends,
/// the client never hands out the whole blob without the bytes having matched their sha256.
/// </summary>
public sealed class BlobDownloadSpec
{
    private static readonly byte[] Blob = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31)).ToArray();

    [Fact]
    public async Task Bytes_that_do_not_match_the_announced_sha256_must_end_in_BlobIntegrityException_not_the_last_byte()
    {
        var other = Blob.ToArray();
        other[^1] ^= 0xFF;
        using var client = Client(_ => Answer(other, SHA256.HashData(Blob)));
        await using var download = await client.GetBlobAsync("t", "r", "f");
        using var received = new MemoryStream();

        var refused = await Assert.ThrowsAsync<BlobIntegrityException>(() => download.CopyToAsync(received));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Blob)), refused.ExpectedSha256);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(other)), refused.ActualSha256);
        Assert.True(received.Length < Blob.Length);
        Assert.False(download.IsVerified);
        await Assert.ThrowsAsync<BlobIntegrityException>(() => download.CopyToAsync(received)); // and it stays refused
    }

    [Fact]
    public async Task A_body_shorter_than_announced_must_end_in_BlobIntegrityException()
    {
        using var client = Client(_ =>
        {
            var answer = Answer(Blob[..1000], SHA256.HashData(Blob));
            answer.Content.Headers.ContentLength = Blob.Length;
            return answer;
        });
        await using var download = await client.GetBlobAsync("t", "r", "f");

        var refused = await Assert.ThrowsAsync<BlobIntegrityException>(() => download.CopyToAsync(Stream.Null));

        Assert.Contains($"after 1000 of {Blob.Length} bytes", refused.Message);
    }

    [Fact]
    public async Task An_answer_without_a_digest_must_be_refused_before_any_byte()
    {
        using var client = Client(_ => Answer(Blob, sha256: null));

        var refused = await Assert.ThrowsAsync<ClusterNodeException>(() => client.GetBlobAsync("t", "r", "f"));

        Assert.Contains("Repr-Digest", refused.Message);
    }

    [Fact]
    public async Task Right_bytes_and_an_empty_blob_must_read_back_verified()
    {
        using var client = Client(request => request.RequestUri!.AbsolutePath.EndsWith("/empty")
            ? Answer([], SHA256.HashData(Array.Empty<byte>()))
            : Answer(Blob, SHA256.HashData(Blob)));
        await using var download = await client.GetBlobAsync("t", "r", "f");
        await using var empty = await client.GetBlobAsync("t", "r", "empty");
        using var received = new MemoryStream();

        await download.CopyToAsync(received);
        await empty.CopyToAsync(Stream.Null);

        Assert.Equal(Blob, received.ToArray());
        Assert.True(download.IsVerified);
        Assert.True(empty.IsVerified);
    }

    [Fact]
    public async Task A_503_must_be_UnavailableException_with_the_nodes_Retry_After()
    {
        using var client = Client(_ =>
        {
            var answer = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = new StringContent("""{"error":"the bytes are on their way"}""") };
            answer.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(3));
            return answer;
        });

        var refused = await Assert.ThrowsAsync<UnavailableException>(() => client.GetBlobAsync("t", "r", "f"));

        Assert.Equal("the bytes are on their way", refused.Message);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.RetryAfter);
    }

    private static HttpResponseMessage Answer(byte[] body, byte[]? sha256)
    {
        var answer = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };
        answer.Content.Headers.ContentLength = body.Length;
        if (sha256 is not null) answer.Headers.TryAddWithoutValidation("Repr-Digest", $"sha-256=:{Convert.ToBase64String(sha256)}:");
        return answer;
    }

    private static ClusterNodeClient Client(Func<HttpRequestMessage, HttpResponseMessage> node) =>
        new(new HttpClient(new StubNode(node)) { BaseAddress = new Uri("http://node.invalid/") });

    private sealed class StubNode(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answer(request));
    }
}
