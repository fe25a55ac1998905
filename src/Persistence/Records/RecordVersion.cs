namespace ClusterNode.Persistence.Records;

/// <summary>
/// A record version: a hybrid-logical-clock timestamp with the origin node id as tie-break. Last writer wins:
/// the greater version replaces the smaller everywhere, so every node converges on the same value.
/// </summary>
public readonly record struct RecordVersion(ulong Hlc, string Origin) : IComparable<RecordVersion>
{
    public static readonly RecordVersion None = new(0, "");

    public int CompareTo(RecordVersion other)
    {
        var byClock = Hlc.CompareTo(other.Hlc);
        return byClock != 0 ? byClock : string.CompareOrdinal(Origin, other.Origin);
    }

    public static bool operator >(RecordVersion a, RecordVersion b) => a.CompareTo(b) > 0;
    public static bool operator <(RecordVersion a, RecordVersion b) => a.CompareTo(b) < 0;

    /// <summary>Readable and sortable: 16 hex digits of the clock, then the origin.</summary>
    public override string ToString() => $"{Hlc:x16}-{Origin}";
}
