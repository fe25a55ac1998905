using Akka.Serialization;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>
/// What reaches the serializer from the network or the journal, valid encodings of every message mutated and random
/// bytes under every manifest: it yields a message or throws its own FormatException, nothing else; a message it yields
/// can be serialized again.
/// </summary>
public sealed class ReplicationSerializerFuzzSpec : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public ReplicationSerializerFuzzSpec(ITestOutputHelper output)
        : base(Akka.Configuration.ConfigurationFactory.Empty.WithDefaults(), "serializer-fuzz", output) => _output = output;

    private SerializerWithStringManifest Serializer => (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(Credit));

    private object[] Messages() =>
    [
        new Subscribe("node-b", 3, 17, 1 << 20, TestActor, 12, [1, 2, 3], 65536, 1 << 20, 5, 9),
        new Subscribe("node-b", 3, 1, 1 << 20, TestActor),
        .. Corpus.Frames(),
        new CopyFrame(3, 40, [], 0, Corpus.Records.Length, Corpus.Payload(0, Corpus.Records), true),
        new CopyFrame(3, 40, RecordCodec.Key("people", "alice"), 7, 1, Corpus.Payload(7, Corpus.Records[..1]), false),
        new BlobChunk(3, 17, "0123456789abcdef0123456789abcdef", 65536, [9, 8, 7]),
        new Credit(3, 123456),
        new Receipt(3, 77),
        new WhoAreYou(1_764_000_000_000),
        new NodeIdentity("node-a", 1_764_000_000_000, 1_764_000_000_123, 4567, new RecordLimits(512 * 1024, 64, 1L << 30, 1_044_480), "inc-1"),
        new CursorStore.CursorAdvanced(1234),
        new CursorStore.CursorSnapshot(5678, 40, [1, 2], "inc-1"),
        new CursorStore.CopyProgress(40, RecordCodec.Key("docs", "x")),
        new CursorStore.PeerIncarnationSeen("inc-2", true),
        new FetchBlob(9, "people", "bob", "0123456789abcdef0123456789abcdef", 300_000, new byte[32], 65536),
        new BlobPiece(9, "0123456789abcdef0123456789abcdef", 0, [1, 2, 3], true),
        new BlobNotHeld(9, "0123456789abcdef0123456789abcdef", "missing"),
        new SubscribeRefused(3, "the sender is not a member this node replicates with"),
    ];

    [Fact]
    public void Serializer_must_decode_any_input_under_any_manifest_to_a_message_or_its_own_FormatException()
    {
        var encoded = Messages().Select(m => (Manifest: Serializer.Manifest(m), Bytes: Serializer.ToBinary(m))).ToArray();
        var corpus = encoded.Select(e => e.Bytes).ToArray();
        var manifests = encoded.Select(e => e.Manifest).Distinct().Append("?").Append("").ToArray();
        Fuzz.Run(_output, "ReplicationSerializer.FromBinary", Fuzz.Cases(40_000), (random, i) =>
        {
            // Mostly the manifest the bytes were written under, sometimes another: a manifest and bytes that disagree.
            var (manifest, valid) = encoded[random.Next(encoded.Length)];
            if (random.Next(5) == 0) manifest = manifests[random.Next(manifests.Length)];
            var input = random.Next(4) switch { 0 => Fuzz.RandomBytes(random), 1 => valid, _ => Fuzz.Mutate(random, valid, corpus) };
            return Fuzz.Expect<FormatException>(input, () =>
            {
                var message = Serializer.FromBinary(input, manifest);
                Serializer.ToBinary(message);
                return "decoded";
            });
        });
    }
}
