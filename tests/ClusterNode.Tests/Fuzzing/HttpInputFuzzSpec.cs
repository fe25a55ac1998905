using System.Text;
using System.Text.Json;
using ClusterNode.Node.Http;
using Microsoft.Extensions.Primitives;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>
/// What clients send the HTTP API, parsed without a server: record PUT bodies, <c>/members/down</c> bodies and Range
/// headers, valid ones mutated and random ones. Each parser answers (a problem for a 4xx, or the parsed value) and never
/// throws; a body it takes can be stored and read back as JSON; a range it serves lies within the blob.
/// </summary>
public sealed class HttpInputFuzzSpec(ITestOutputHelper output)
{
    private static readonly byte[][] Bodies = new[]
    {
        """{"name":"Alice"}""", """{"a":[1,2.5e3,-0.0,true,false,null],"b":{"c":"\u00e9\ud83d\ude00 \"x\""}}""", "{}",
        """{"esc":"\\ \/ \b\f\n\r\t \u0041"}""", """{"déjà":"vu","k":"\ud800"}""", "[1,2]", "\"text\"", "\uFEFF{\"bom\":1}", """{"deep":[[[[[[[[[[1]]]]]]]]]]}""",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    private static readonly byte[][] DownBodies = new[]
    {
        """{"address":"akka.tcp://cluster-node@127.0.0.1:4054"}""", """{"address":"akka://cluster-node"}""", """{"address":"\ud800"}""",
        """{"address":5}""", """{"address":"akka.tcp://a@[::1]:99999"}""", """{"address":"akka.tcp://cluster-node@host"}""",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    private static readonly byte[][] Ranges = new[]
    {
        "bytes=0-99", "bytes=100-", "bytes=-5", "bytes = 1 - 2 ", "bytes=0-0,5-9", "BYTES=7-3", "items=1-2", "bytes=-0",
        "bytes=9223372036854775807-", "bytes=-9223372036854775808", "bytes=+1-2", "bytes=1-2-3", "=", "bytes=-",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    [Fact]
    public void A_record_body_must_be_refused_with_a_problem_or_be_a_json_object_that_reads_back()
    {
        Fuzz.Run(output, "record PUT bodies", Fuzz.Cases(50_000), (random, i) =>
        {
            var body = Fuzz.Input(random, Bodies);
            return Fuzz.Expect<NeverAllowed>(body, () =>
            {
                if (HttpApi.RecordBodyProblem(body) is not null) return "400";
                // Taken: it must come back out as the GET does (JsonSerializer over the stored bytes).
                var element = JsonSerializer.Deserialize<JsonElement>(body);
                if (element.ValueKind != JsonValueKind.Object) throw Fuzz.Fail($"took a {element.ValueKind}", body);
                JsonSerializer.Serialize(new { data = element });
                return "taken";
            });
        });
    }

    [Fact]
    public void A_down_body_must_name_an_address_or_a_problem_never_throw()
    {
        Fuzz.Run(output, "/members/down bodies", Fuzz.Cases(40_000), (random, i) =>
        {
            var body = Fuzz.Input(random, DownBodies);
            return Fuzz.Expect<NeverAllowed>(body, () =>
            {
                var (address, problem) = HttpApi.DownBody(body);
                if ((address is null) == (problem is null)) throw Fuzz.Fail("neither or both of address and problem", body);
                return address is null ? "400" : "address";
            });
        });
    }

    [Fact]
    public void A_range_header_must_parse_to_a_range_within_the_blob_or_a_refusal_never_throw()
    {
        long[] sizes = [0, 1, 100, 65_536, 1L << 40, long.MaxValue];
        Fuzz.Run(output, "Range headers", Fuzz.Cases(80_000), (random, i) =>
        {
            var header = Encoding.UTF8.GetString(Fuzz.Input(random, Ranges));
            var size = random.Next(4) == 0 ? random.NextInt64(0, long.MaxValue) : sizes[random.Next(sizes.Length)];
            var values = random.Next(10) == 0 ? new StringValues([header, "bytes=0-1"]) : new StringValues(header);
            var input = Encoding.UTF8.GetBytes($"{header} (size {size})");
            return Fuzz.Expect<NeverAllowed>(input, () =>
            {
                var range = ByteRange.Parse(values, size);
                switch (range.Kind)
                {
                    case ByteRange.RangeKind.Single when range.First < 0 || range.First > range.Last || range.Last >= size:
                        throw Fuzz.Fail($"range {range.First}-{range.Last} of a {size}-byte blob", input);
                    case ByteRange.RangeKind.Unsatisfiable or ByteRange.RangeKind.Invalid when string.IsNullOrEmpty(range.Problem):
                        throw Fuzz.Fail($"{range.Kind} without a problem", input);
                }
                return range.Kind.ToString();
            });
        });
    }

    /// <summary>No exception is allowed out of these parsers: a refusal is a value.</summary>
    private sealed class NeverAllowed : Exception;
}
