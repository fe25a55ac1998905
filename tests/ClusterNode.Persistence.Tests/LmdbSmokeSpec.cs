using ClusterNode.Persistence.Lmdb;
using Xunit;

namespace ClusterNode.Persistence.Tests;

public sealed class LmdbSmokeSpec : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cn-smoke-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Native_lmdb_built_from_source_opens_an_environment_and_round_trips_a_value()
    {
        using (var lease = LmdbEnvironments.Acquire(_dir, 64L << 20))
        {
            using var tx = lease.Environment.BeginTransaction();
            using var db = tx.OpenDatabase("t", new LightningDB.DatabaseConfiguration { Flags = LightningDB.DatabaseOpenFlags.Create });
            tx.Put(db, "k"u8, "v"u8);
            tx.Commit();
        }
        using (var lease = LmdbEnvironments.Acquire(_dir, 64L << 20))
        {
            using var tx = lease.Environment.BeginTransaction(LightningDB.TransactionBeginFlags.ReadOnly);
            using var db = tx.OpenDatabase("t");
            var (code, _, value) = tx.Get(db, "k"u8);
            Assert.Equal(LightningDB.MDBResultCode.Success, code);
            Assert.Equal("v"u8.ToArray(), value.CopyToNewArray());
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
