using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// What the journal, snapshot store and persistent actor specs share: a HOCON config pointing both plugins at one
/// temp directory per test, and test serializers (one that refuses, one with string manifests).
/// </summary>
public static class LmdbJournalSpecSupport
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static readonly Config SpecConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.persistence.publish-plugin-commands = on
        akka.actor {
          serializers {
            refusing = "ClusterNode.Persistence.Tests.LmdbJournalSpecSupport+RefusingSerializer, ClusterNode.Persistence.Tests"
            temperature = "ClusterNode.Persistence.Tests.LmdbJournalSpecSupport+TemperatureSerializer, ClusterNode.Persistence.Tests"
          }
          serialization-bindings {
            "ClusterNode.Persistence.Tests.LmdbJournalSpecSupport+Unserializable, ClusterNode.Persistence.Tests" = refusing
            "ClusterNode.Persistence.Tests.LmdbJournalSpecSupport+Celsius, ClusterNode.Persistence.Tests" = temperature
            "ClusterNode.Persistence.Tests.LmdbJournalSpecSupport+Fahrenheit, ClusterNode.Persistence.Tests" = temperature
          }
        }
        """);

    public static string NewDirectory() =>
        Path.Combine(Path.GetTempPath(), "cn-akka-lmdb-" + Guid.NewGuid().ToString("N"));

    /// <param name="mapSize">A HOCON size; small by default, since a test writes little.</param>
    public static Config ConfigFor(string directory, string mapSize = "64 MiB")
    {
        var quoted = directory.Replace("\\", "/");
        return ConfigurationFactory.ParseString($$"""
                akka.persistence.journal.lmdb { dir = "{{quoted}}", map-size = {{mapSize}} }
                akka.persistence.snapshot-store.lmdb { dir = "{{quoted}}", map-size = {{mapSize}} }
                """)
            .WithFallback(SpecConfig)
            .WithFallback(LmdbPersistence.DefaultConfig());
    }

    /// <summary>A second actor system on a directory, as a restarted node would start: the test terminates it.</summary>
    public static ActorSystem StartSystem(string name, string directory, string mapSize = "64 MiB") =>
        ActorSystem.Create(name, ConfigFor(directory, mapSize).WithFallback(Akka.TestKit.Xunit2.TestKit.DefaultConfig));

    public static void DeleteDirectory(string directory)
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    /// <summary>An event no serializer accepts: the journal must reject it and carry on.</summary>
    public sealed record Unserializable(string Why);

    public sealed class RefusingSerializer(ExtendedActorSystem system) : Serializer(system)
    {
        public override int Identifier => 7_301;
        public override bool IncludeManifest => false;

        public override byte[] ToBinary(object obj) =>
            throw new System.Runtime.Serialization.SerializationException($"refusing to serialize {obj}");

        public override object FromBinary(byte[] bytes, Type? type) =>
            throw new System.Runtime.Serialization.SerializationException("refusing to deserialize");
    }

    public sealed record Celsius(int Degrees);
    public sealed record Fahrenheit(int Degrees);

    /// <summary>One serializer for two types, told apart only by the manifest: the journal must store the manifest.</summary>
    public sealed class TemperatureSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
    {
        public override int Identifier => 7_302;

        public override string Manifest(object o) => o switch
        {
            Celsius => "C",
            Fahrenheit => "F",
            _ => throw new ArgumentException($"not a temperature: {o}"),
        };

        public override byte[] ToBinary(object obj) => obj switch
        {
            Celsius c => BitConverter.GetBytes(c.Degrees),
            Fahrenheit f => BitConverter.GetBytes(f.Degrees),
            _ => throw new ArgumentException($"not a temperature: {obj}"),
        };

        public override object FromBinary(byte[] bytes, string manifest) => manifest switch
        {
            "C" => new Celsius(BitConverter.ToInt32(bytes)),
            "F" => new Fahrenheit(BitConverter.ToInt32(bytes)),
            _ => throw new ArgumentException($"unknown temperature manifest '{manifest}'"),
        };
    }
}
