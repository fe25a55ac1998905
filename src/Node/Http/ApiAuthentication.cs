using System.Security.Cryptography;
using System.Text;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Microsoft.AspNetCore.Http;

namespace ClusterNode.Node.Http;

/// <summary>What a token may do; each role includes the ones below it.</summary>
public enum ApiRole
{
    Read = 1,
    Write = 2,
    Admin = 3,
}

/// <summary>One entry of <c>cluster-node.http.tokens</c>: the sha256 of a token (never the token) and its role.</summary>
public sealed record ApiToken(byte[] Sha256, ApiRole Role);

/// <summary>
/// Bearer-token authentication of the HTTP API, as middleware ahead of every route (the fallback's 404 included, so an
/// outsider learns nothing of the routes). A request without a valid token gets 401 with <c>WWW-Authenticate: Bearer</c>,
/// one whose token lacks the role 403, both as the API's JSON error; <c>/health</c> and <c>/health/*</c> are open so
/// that load balancers and probes need no secret. With no tokens configured the API is open (the secure defaults allow
/// that only on loopback).
/// </summary>
public sealed class ApiAuthentication(IReadOnlyList<ApiToken> tokens)
{
    public const string TokensKey = "cluster-node.http.tokens";

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        if (tokens.Count == 0 || request.Path.StartsWithSegments("/health"))
        {
            await next();
            return;
        }
        var presented = BearerToken(request);
        if (presented is null)
        {
            await Refuse(context, 401, "Bearer", "this node needs a bearer token: send Authorization: Bearer TOKEN");
            return;
        }
        if (RoleOf(presented) is not { } role)
        {
            await Refuse(context, 401, "Bearer error=\"invalid_token\"", $"the bearer token is not one of this node's {TokensKey}");
            return;
        }
        var needed = Needed(request);
        if (role < needed)
        {
            await Refuse(context, 403, null, $"a {Name(role)} token cannot {request.Method} {request.Path}: that needs the {Name(needed)} role");
            return;
        }
        await next();
    }

    /// <summary>GETs read; writes of records and blobs (all under /tables) write; anything else (POST /members/down) admin.</summary>
    public static ApiRole Needed(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) return ApiRole.Read;
        var write = HttpMethods.IsPut(request.Method) || HttpMethods.IsDelete(request.Method) || HttpMethods.IsPost(request.Method);
        return write && request.Path.StartsWithSegments("/tables") ? ApiRole.Write : ApiRole.Admin;
    }

    /// <summary>
    /// The role of the configured token whose hash matches, or null. Every entry is compared in constant time and none
    /// is skipped, so the time taken says nothing about how close a guess came or which entry matched.
    /// </summary>
    private ApiRole? RoleOf(string token)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        ApiRole? role = null;
        foreach (var entry in tokens)
            if (CryptographicOperations.FixedTimeEquals(hash, entry.Sha256)) role = entry.Role;
        return role;
    }

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        var space = header.IndexOf(' ');
        if (space <= 0 || !header[..space].Equals("Bearer", StringComparison.OrdinalIgnoreCase)) return null;
        var token = header[(space + 1)..].Trim();
        return token.Length == 0 ? null : token;
    }

    private static Task Refuse(HttpContext context, int status, string? challenge, string message)
    {
        if (challenge is not null) context.Response.Headers.WWWAuthenticate = challenge;
        return HttpApi.Error(status, message).ExecuteAsync(context);
    }

    public static string Name(ApiRole role) => role.ToString().ToLowerInvariant();

    /// <summary>
    /// <c>cluster-node.http.tokens</c>, checked whole at start-up: a list of <c>{ sha256 = "&lt;64 hex digits&gt;", role =
    /// read | write | admin }</c>; anything else is a ConfigurationException naming the entry and its key.
    /// </summary>
    public static IReadOnlyList<ApiToken> ReadTokens(Config config)
    {
        var value = config.HasPath(TokensKey) ? config.GetValue(TokensKey) : null;
        if (value is null || value.IsEmpty) return [];
        // Not IsArray(): Akka's HOCON answers false for an empty list.
        if (!value.Values.All(v => v is HoconArray)) throw new ConfigurationException($"{TokensKey} must be a list of {{ sha256 = \"<hex>\", role = read | write | admin }}");
        var tokens = new List<ApiToken>();
        var entries = value.GetArray();
        for (var i = 0; i < entries.Count; i++)
        {
            var key = $"{TokensKey}[{i}]";
            if (!entries[i].IsObject()) throw new ConfigurationException($"{key} must be an object {{ sha256 = \"<hex>\", role = read | write | admin }}");
            var entry = new Config(new HoconRoot(entries[i]));
            string hex, role;
            try
            {
                hex = entry.GetString("sha256", "");
                role = entry.GetString("role", "");
            }
            catch (Exception e)
            {
                throw new ConfigurationException($"{key}: sha256 and role must be strings ({e.Message})");
            }
            if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
                throw new ConfigurationException($"{key}.sha256: '{hex}' is not the sha256 of a token (64 hex digits; `cluster-node token create` makes one)");
            var parsed = role switch
            {
                "read" => ApiRole.Read,
                "write" => ApiRole.Write,
                "admin" => ApiRole.Admin,
                _ => throw new ConfigurationException($"{key}.role: '{role}' is not a role (read, write or admin)"),
            };
            var hash = Convert.FromHexString(hex);
            // The same token twice would make its role depend on the order of the list.
            if (tokens.FindIndex(t => t.Sha256.AsSpan().SequenceEqual(hash)) is var first and >= 0)
                throw new ConfigurationException($"{key}.sha256: the same token as {TokensKey}[{first}]");
            tokens.Add(new ApiToken(hash, parsed));
        }
        return tokens;
    }
}
