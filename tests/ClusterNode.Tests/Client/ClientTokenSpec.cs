using System.Net;
using ClusterNode.Client;
using Xunit;

namespace ClusterNode.Tests.Client;

/// <summary>The client against a node with <c>cluster-node.http.tokens</c>: the token given to the client is sent, and refusals are typed.</summary>
public sealed class ClientTokenSpec(TokenClientNode fixture) : IClassFixture<TokenClientNode>
{
    [Fact]
    public async Task A_client_with_the_write_token_must_write_and_read()
    {
        using var client = fixture.Client(TokenClientNode.WriteToken);

        await client.PutRecordAsync("secured", "a", new { n = 1 });

        Assert.Equal(1, (await client.GetRecordAsync("secured", "a")).Data.GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task A_client_without_a_valid_token_must_get_UnauthorizedException_and_a_read_token_ForbiddenException_on_a_write()
    {
        using var none = fixture.Client();
        using var wrong = fixture.Client("not-a-token-of-this-node");
        using var reader = fixture.Client(TokenClientNode.ReadToken);

        var noToken = await Assert.ThrowsAsync<UnauthorizedException>(() => none.GetRecordAsync("secured", "b"));
        var wrongToken = await Assert.ThrowsAsync<UnauthorizedException>(() => wrong.PutRecordAsync("secured", "b", new { n = 2 }));
        var readOnly = await Assert.ThrowsAsync<ForbiddenException>(() => reader.PutRecordAsync("secured", "b", new { n = 2 }));

        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Contains("bearer token", noToken.Message);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongToken.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, readOnly.StatusCode);
        Assert.Contains("write role", readOnly.Message);
        Assert.IsAssignableFrom<AccessDeniedException>(readOnly);
        await Assert.ThrowsAsync<NotFoundException>(() => reader.GetRecordAsync("secured", "b")); // nothing was written
        // Health needs no token.
        Assert.True((await none.GetHealthAsync()).IsReady);
    }
}
