using Akka.Actor;
using Akka.Serialization;
using ClusterNode.Persistence.Binary;

namespace ClusterNode.Node.Membership;

/// <summary>Binary serializer of <see cref="ClusterRepair.ClusterProbe"/>; a malformed probe fails naming the field.</summary>
public sealed class ClusterProbeSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const string ProbeManifest = "P";

    public override int Identifier => 7302;

    public override string Manifest(object o) => o is ClusterRepair.ClusterProbe
        ? ProbeManifest
        : throw new ArgumentException($"{GetType().Name} cannot serialize {o.GetType()}");

    public override byte[] ToBinary(object obj) => obj is ClusterRepair.ClusterProbe p
        ? new ByteWriter(128).String(p.Address).I64(p.Uid).Bool(p.Up).I32(p.Members).String(p.LowestMember).ToArray()
        : throw new ArgumentException($"{GetType().Name} cannot serialize {obj.GetType()}");

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest != ProbeManifest) throw new FormatException($"unknown cluster probe manifest '{manifest}'");
        var reader = new ByteReader(bytes, "cluster probe");
        var probe = new ClusterRepair.ClusterProbe(reader.String("address"), reader.I64("uid"), reader.Bool("up"), reader.I32("members"), reader.String("lowestMember"));
        reader.ExpectEnd();
        return probe;
    }
}
