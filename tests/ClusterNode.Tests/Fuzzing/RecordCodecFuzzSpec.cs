using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>
/// The record codec's decode paths (stored values with their keys, audit entries, keys) on mutated and random bytes,
/// as a damaged LMDB page or a bad peer would present them: a record or a FormatException, nothing else.
/// </summary>
public sealed class RecordCodecFuzzSpec(ITestOutputHelper output)
{
    [Fact]
    public void Stored_records_audit_entries_and_keys_must_decode_or_throw_FormatException()
    {
        var keys = Corpus.Records.Select(r => RecordCodec.Key(r.Table, r.Id)).ToArray();
        var values = Corpus.Records.Select(RecordCodec.EncodeValue).ToArray();
        var audits = Corpus.Records.Select((r, i) => RecordCodec.EncodeAudit(new AuditEntry(i + 1, r.Table, r.Id, r.Version))).ToArray();
        Fuzz.Run(output, "RecordCodec decode paths", Fuzz.Cases(60_000), (random, i) =>
        {
            switch (random.Next(3))
            {
                case 0:
                    var key = random.Next(4) == 0 ? Fuzz.Input(random, keys) : keys[random.Next(keys.Length)];
                    var value = Fuzz.Input(random, values);
                    return Fuzz.Expect<FormatException>(value, () =>
                    {
                        var record = RecordCodec.DecodeValue(key, value);
                        RecordCodec.EncodeValue(record);
                        return "record";
                    });
                case 1:
                    var audit = Fuzz.Input(random, audits);
                    return Fuzz.Expect<FormatException>(audit, () =>
                    {
                        RecordCodec.EncodeAudit(RecordCodec.DecodeAudit(random.NextInt64(), audit));
                        return "audit entry";
                    });
                default:
                    var bytes = Fuzz.Input(random, keys);
                    return Fuzz.Expect<FormatException>(bytes, () =>
                    {
                        RecordCodec.ParseKey(bytes);
                        return "key";
                    });
            }
        });
    }
}
