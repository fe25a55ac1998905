using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>
/// A seeded fuzzing run: random inputs and mutations of valid encodings (bits flipped, bytes set to edge values,
/// inserted, deleted, duplicated, truncated, spliced). One seed drives the whole run, printed first, so
/// <c>CLUSTER_TEST_SEED</c> replays it exactly; a failure names the seed, the case and its input.
/// A short run in the default suite; <c>CLUSTER_SOAK=1</c> runs many times more cases.
/// </summary>
public static class Fuzz
{
    public static bool Soak => Environment.GetEnvironmentVariable("CLUSTER_SOAK") == "1";

    /// <summary>Cases for this run: <paramref name="shortRun"/> by default, a hundred times as many under soak.</summary>
    public static int Cases(int shortRun) => Soak ? shortRun * 100 : shortRun;

    public static void Run(ITestOutputHelper output, string what, int cases, Func<Random, int, string> oneCase)
    {
        var seed = Support.TestSeed.Next();
        output.WriteLine($"fuzzing {what}: seed {seed} ({cases} cases; replay with CLUSTER_TEST_SEED={seed})");
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < cases; i++)
        {
            string outcome;
            try
            {
                outcome = oneCase(random, i);
            }
            catch (Exception failure)
            {
                throw new XunitException($"fuzzing {what}, seed {seed} (CLUSTER_TEST_SEED={seed}), case {i}: {failure.GetType().Name}: {failure.Message}");
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        output.WriteLine($"{cases} cases in {clock.ElapsedMilliseconds} ms: " +
                         string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value}")));
    }

    /// <summary>Runs <paramref name="decode"/> on <paramref name="input"/>: its own exception is an outcome, any other a failure.</summary>
    public static string Expect<TAllowed>(byte[] input, Func<string> decode) where TAllowed : Exception
    {
        try
        {
            return decode();
        }
        catch (TAllowed)
        {
            return "refused";
        }
        catch (FuzzFailure)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new FuzzFailure($"{e.GetType().Name}: {e.Message} for input {Hex(input)}\n{e.StackTrace}");
        }
    }

    public static FuzzFailure Fail(string why, byte[] input) => new($"{why} for input {Hex(input)}");

    public static string Hex(byte[] input) =>
        input.Length <= 512 ? Convert.ToHexString(input) : Convert.ToHexString(input, 0, 512) + $"... ({input.Length} bytes)";

    /// <summary>Values at the edges of what a length, count or position field holds.</summary>
    private static readonly byte[][] Interesting =
    [
        [0], [1], [0x7F], [0x80], [0xFF],
        [0, 0], [0xFF, 0xFF], [0x7F, 0xFF], [0x80, 0x00],
        [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0], [0, 0, 0x10, 0],
        [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0, 0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        [0xC0], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], // invalid UTF-8: overlong start, surrogate, beyond U+10FFFF
    ];

    /// <summary>Random bytes, mostly short.</summary>
    public static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(4) == 0 ? random.Next(2048) : random.Next(64)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>One to four mutations of <paramref name="input"/>; <paramref name="corpus"/> gives the other half of a splice.</summary>
    public static byte[] Mutate(Random random, byte[] input, IReadOnlyList<byte[]> corpus)
    {
        var bytes = new List<byte>(input);
        var count = 1 + random.Next(4);
        for (var m = 0; m < count; m++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    var value = Interesting[random.Next(Interesting.Length)];
                    for (var k = 0; k < value.Length && at + k < bytes.Count; k++) bytes[at + k] = value[k];
                    break;
                case 3:
                    bytes.InsertRange(at, Interesting[random.Next(Interesting.Length)]);
                    break;
                case 4:
                    var inserted = new byte[1 + random.Next(16)];
                    random.NextBytes(inserted);
                    bytes.InsertRange(at, inserted);
                    break;
                case 5 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16)));
                    break;
                case 6 when bytes.Count > 0:
                    bytes.RemoveRange(at, bytes.Count - at); // truncate
                    break;
                case 7 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, 1 + random.Next(32));
                    bytes.InsertRange(random.Next(bytes.Count + 1), bytes.GetRange(at, length));
                    break;
                case 8 when corpus.Count > 0:
                    var other = corpus[random.Next(corpus.Count)];
                    var from = random.Next(other.Length + 1);
                    bytes.RemoveRange(at, bytes.Count - at);
                    bytes.AddRange(other.AsSpan(from).ToArray());
                    break;
                default:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
            }
        }
        return bytes.ToArray();
    }

    /// <summary>Half mutations of a valid input, a quarter random bytes, a quarter valid inputs unchanged.</summary>
    public static byte[] Input(Random random, IReadOnlyList<byte[]> corpus)
    {
        var valid = corpus[random.Next(corpus.Count)];
        return random.Next(4) switch
        {
            0 => RandomBytes(random),
            1 => valid,
            _ => Mutate(random, valid, corpus),
        };
    }

    /// <summary>A string mutated as UTF-8 bytes; invalid sequences come back as U+FFFD, as a header parser would see them.</summary>
    public static string MutateText(Random random, string text, IReadOnlyList<byte[]> corpus) =>
        Encoding.UTF8.GetString(Mutate(random, Encoding.UTF8.GetBytes(text), corpus));
}

/// <summary>A property broken by one input.</summary>
public sealed class FuzzFailure(string message) : Exception(message);
