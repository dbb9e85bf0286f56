using LiteDB;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>
/// How readings are laid out in LiteDB: one segment document per stream and group commit
/// (docs/design/0002-durable-buffer.md, "Segments").
/// </summary>
public sealed partial class DurableBuffer
{
    /// <summary>
    /// A segment is written once its encoded readings reach this size, so documents stay far
    /// below LiteDB's 16 MB limit and a partial drain rewrites little.
    /// </summary>
    internal const int SegmentTargetBytes = 1 << 20;

    private void AddToSegment(StreamState state, SegmentRecord record)
    {
        var size = SegmentCodec.EncodedSize(record.Shape.Length, record.Values.Length);
        if (state.Open.Records.Count > 0 && state.Open.EncodedBytes + size > SegmentTargetBytes)
        {
            WriteSegment(state);
        }

        state.Open.Add(record);
    }

    /// <summary>Writes the stream's open readings as one segment (inside the group's transaction).</summary>
    private void WriteSegment(StreamState state)
    {
        if (state.Open.Records.Count == 0)
        {
            return;
        }

        Database.GetCollection(state.Collection).Insert(SegmentDocument(state.Open.Records));
        state.Open.Clear();
    }

    private static BsonDocument SegmentDocument(List<SegmentRecord> records)
    {
        long bytes = 0;
        foreach (var record in records)
        {
            bytes += record.QuotaBytes;
        }

        // The id is the last sequence, so "segments after sequence q" is one index range.
        return new BsonDocument
        {
            ["_id"] = (long)records[^1].Sequence,
            ["f"] = (long)records[0].Sequence,
            ["c"] = records.Count,
            ["n"] = bytes,
            ["t"] = records[0].TimestampUnixMs,
            ["d"] = SegmentCodec.Encode(records),
        };
    }

    private static List<SegmentRecord> DecodeSegment(BsonDocument segment, StreamState state)
        => SegmentCodec.Decode(segment["d"].AsBinary, $"{state.Collection}/{segment["_id"].AsInt64} of stream '{state.Name}'");

    /// <summary>
    /// Removes a stream's oldest readings, stored segments first and then the open group's, for
    /// as long as <paramref name="take"/> (given the reading and the bytes removed so far) says
    /// so. A segment that <paramref name="wholeSegment"/> marks as entirely removable goes by its
    /// header without being decoded; one cut part-way is rewritten with the readings that stay.
    /// </summary>
    private RemovedReadings RemoveOldest(StreamState state, Func<SegmentRecord, long, bool> take, Func<BsonDocument, bool>? wholeSegment)
    {
        var segments = Database.GetCollection(state.Collection);
        var removed = new RemovedReadings();
        long? deleteThrough = null;
        BsonDocument? remainder = null;
        var stoppedInStore = false;
        foreach (var segment in segments.Find(LiteDB.Query.All()))
        {
            var id = segment["_id"].AsInt64;
            if (wholeSegment?.Invoke(segment) == true)
            {
                removed.AddWhole(segment["c"].AsInt32, segment["n"].AsInt64, (ulong)id);
                deleteThrough = id;
                continue;
            }

            var records = DecodeSegment(segment, state);
            var taken = 0;
            while (taken < records.Count && take(records[taken], removed.Bytes))
            {
                removed.Add(records[taken]);
                taken++;
            }

            if (taken == records.Count)
            {
                deleteThrough = id;
                continue;
            }

            if (taken > 0)
            {
                remainder = SegmentDocument(records.GetRange(taken, records.Count - taken));
            }

            stoppedInStore = true;
            break;
        }

        if (deleteThrough is { } through)
        {
            segments.DeleteMany(LiteDB.Query.LTE("_id", through));
        }

        if (remainder is not null)
        {
            segments.Update(remainder);
        }

        if (!stoppedInStore)
        {
            var open = state.Open.Records;
            var taken = 0;
            while (taken < open.Count && take(open[taken], removed.Bytes))
            {
                removed.Add(open[taken]);
                taken++;
            }

            state.Open.RemoveOldest(taken);
        }

        return removed;
    }

    /// <summary>
    /// Rewrites a stream's one-document-per-reading collection of earlier builds as segments, so
    /// an upgraded agent keeps its backlog. Crash-safe: the segments commit first, the old
    /// collection is dropped after, and readings already in a segment are not copied twice.
    /// </summary>
    private void MigrateRecordDocuments(StreamState state)
    {
        var db = Database;
        if (!db.CollectionExists(state.RecordDocumentsCollection))
        {
            return;
        }

        var migratedThrough = db.GetCollection(state.Collection).FindOne(LiteDB.Query.All(LiteDB.Query.Descending))?["_id"].AsInt64 ?? 0;
        if (!db.BeginTrans())
        {
            throw new InvalidOperationException("Migrating a stream's readings to segments needs a transaction of its own, and one is already open.");
        }

        try
        {
            foreach (var doc in db.GetCollection(state.RecordDocumentsCollection).Find(LiteDB.Query.GT("_id", migratedThrough)))
            {
                AddToSegment(state, new SegmentRecord((ulong)doc["_id"].AsInt64, doc["t"].AsInt64, ToShape(doc["sh"].AsArray), doc["v"].AsBinary, doc["l"].IsNull ? null : doc["l"].AsInt32));
            }

            WriteSegment(state);
            db.Commit();
        }
        catch
        {
            db.Rollback();
            state.Open.Clear();
            throw;
        }

        db.DropCollection(state.RecordDocumentsCollection);
    }

    /// <summary>What <see cref="RemoveOldest"/> took out: sequences (for the loss ledger), count and bytes.</summary>
    private sealed class RemovedReadings
    {
        public List<ulong> Sequences { get; } = [];

        public int Count { get; private set; }

        public long Bytes { get; private set; }

        public ulong LastSequence { get; private set; }

        public void Add(SegmentRecord record)
        {
            Sequences.Add(record.Sequence);
            Count++;
            Bytes += record.QuotaBytes;
            LastSequence = record.Sequence;
        }

        /// <summary>A whole segment taken by its header; its sequences are not listed (draining needs none).</summary>
        public void AddWhole(int count, long bytes, ulong lastSequence)
        {
            Count += count;
            Bytes += bytes;
            LastSequence = lastSequence;
        }
    }
}
