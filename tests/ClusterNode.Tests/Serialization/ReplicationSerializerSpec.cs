using ClusterNode.Persistence.Records;
using Akka.Actor;
using Akka.Serialization;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Serialization;
using ClusterNode.Actors.Watermarks;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Serialization;

public sealed class ReplicationSerializerSpec : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public ReplicationSerializerSpec(ITestOutputHelper output)
        : base(Akka.Configuration.ConfigurationFactory.Empty.WithDefaults(), "serializer-spec", output) => _output = output;

    private SerializerWithStringManifest Serializer => (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(Credit));

    public static TheoryData<object> Messages() => new()
    {
        new RecordFrame(42, 97, 99, 2, [1, 2, 3, 4]),
        new RecordFrame(42, 99, 99, 0, []),
        new BlobChunk(42, 17, "0123456789abcdef0123456789abcdef", 65536, new byte[] { 9, 8, 7 }),
        new Credit(42, 123456),
        new Receipt(42, 77),
        new WhoAreYou(1_764_000_000_000),
        new NodeIdentity("node-a", 1_764_000_000_000, 1_764_000_000_123, 4567, new RecordLimits(512 * 1024, 64, 1L << 30, 1_044_480)),
        new CursorStore.CursorAdvanced(1234),
        new CursorStore.CursorSnapshot(5678),
        new SubscribeRefused(42, "the sender is not a member this node replicates with"),
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_replication_message_must_round_trip_through_the_binary_serializer(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ReplicationSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        switch (message)
        {
            case RecordFrame f:
                var g = Assert.IsType<RecordFrame>(back);
                Assert.Equal((f.Epoch, f.AfterSequence, f.UpToSequence, f.RecordCount), (g.Epoch, g.AfterSequence, g.UpToSequence, g.RecordCount));
                Assert.Equal(f.Payload, g.Payload);
                break;
            case BlobChunk c:
                var d = Assert.IsType<BlobChunk>(back);
                Assert.Equal((c.Epoch, c.Position, c.FileId, c.Offset), (d.Epoch, d.Position, d.FileId, d.Offset));
                Assert.Equal(c.Bytes, d.Bytes);
                break;
            default:
                Assert.Equal(message, back);
                break;
        }
    }

    [Fact]
    public void A_subscription_must_carry_a_reference_that_reaches_the_receiver()
    {
        var subscribe = new Subscribe("node-b", 42, 7, 8 << 20, TestActor);
        var back = (Subscribe)Sys.Serialization.Deserialize(Serializer.ToBinary(subscribe), Serializer.Identifier, Serializer.Manifest(subscribe));
        Assert.Equal(subscribe, back);
        back.Receiver.Tell("reached");
        ExpectMsg("reached");
    }

    [Fact]
    public void A_blob_chunk_must_cost_its_bytes_and_a_small_fixed_header_on_the_wire()
    {
        var chunk = new BlobChunk(1, 2, "0123456789abcdef0123456789abcdef", 0, new byte[64 * 1024]);
        var bytes = Sys.Serialization.FindSerializerFor(chunk).ToBinary(chunk);
        Assert.InRange(bytes.Length - chunk.Bytes.Length, 1, FlowControl.HeaderAllowanceBytes);
    }

    [Theory]
    [InlineData("F")]
    [InlineData("B")]
    [InlineData("S")]
    public void A_truncated_message_must_fail_with_an_error_naming_the_field(string manifest)
    {
        var serializer = Serializer;
        var full = manifest switch
        {
            "F" => serializer.ToBinary(new RecordFrame(1, 0, 2, 1, new byte[100])),
            "B" => serializer.ToBinary(new BlobChunk(1, 2, "0123456789abcdef0123456789abcdef", 0, new byte[100])),
            _ => serializer.ToBinary(new Subscribe("node-b", 1, 1, 1024, ActorRefs.Nobody)),
        };
        var error = Assert.Throws<FormatException>(() => serializer.FromBinary(full[..^5], manifest));
        _output.WriteLine(error.Message);
        Assert.Contains("field", error.Message);
    }

    [Fact]
    public void An_unknown_manifest_must_fail_clearly()
    {
        var serializer = Serializer;
        var error = Assert.Throws<FormatException>(() => serializer.FromBinary([], "nope"));
        Assert.Contains("nope", error.Message);
    }
}
