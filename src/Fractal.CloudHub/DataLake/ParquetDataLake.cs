using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Fractal.CloudHub.Observability;
using Fractal.Contracts.Ingest;
using Microsoft.Extensions.Logging;
using Parquet;
using Parquet.Serialization;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// The data lake as partitioned Parquet over an <see cref="IBlobStore"/>:
/// <c>records/stream={stream}/node={node}/date={yyyy-MM-dd}/{firstSeq:D20}-{lastSeq:D20}.parquet</c>
/// and the loss ledger as JSON lines under <c>losses/node={node}/</c>.
/// </summary>
/// <remarks>
/// Duplicate removal relies on the uplink contract: each (node, stream) arrives in ascending
/// sequence order, at least once. The lake keeps one high-water mark per (node, stream), the
/// highest sequence in any file name of that partition, and drops records at or below it. The
/// mark is derived from the file names themselves (on first use, and again after any failed
/// write), so there is no separate index that a crash could leave out of step with the files:
/// a file either exists (its records count as stored) or it does not (they will be accepted on
/// redelivery). Appends to one (node, stream) are serialized; different partitions proceed in
/// parallel. Only one hub process may write a lake at a time.
/// </remarks>
public sealed class ParquetDataLake : IDataLake, ILakeReader
{
    private const string RecordsRoot = "records/";
    private const string LossesRoot = "losses/";
    private const string ParquetExtension = ".parquet";
    private const string LossExtension = ".jsonl";

    private readonly IBlobStore _blobs;
    private readonly ILogger<ParquetDataLake> _logger;
    private readonly ConcurrentDictionary<(string Node, string Stream), PartitionState> _partitions = new();
    private readonly ConcurrentDictionary<string, LedgerState> _ledgers = new(StringComparer.Ordinal);

    // Files are immutable once written, so what was learned about one never goes stale.
    private readonly ConcurrentDictionary<string, long> _rowCounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<LakeLossEntry>> _lossFiles = new(StringComparer.Ordinal);

    /// <summary>Creates a lake over <paramref name="blobs"/>.</summary>
    public ParquetDataLake(IBlobStore blobs, ILogger<ParquetDataLake> logger)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(logger);
        _blobs = blobs;
        _logger = logger;
    }

    /// <inheritdoc />
    public async Task<LakeAppendResult> AppendAsync(string nodeId, string stream, IReadOnlyList<SensorRecord> records, CancellationToken cancellationToken)
    {
        RequireNames(nodeId, stream);
        ArgumentNullException.ThrowIfNull(records);
        RequireAscending(records);
        if (records.Count == 0)
        {
            return default;
        }

        var partition = _partitions.GetOrAdd((nodeId, stream), static _ => new PartitionState());
        await partition.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            partition.HighWaterMark ??= await LoadHighWaterMarkAsync(nodeId, stream, cancellationToken).ConfigureAwait(false);
            var mark = partition.HighWaterMark.Value;

            var firstNew = 0;
            while (firstNew < records.Count && records[firstNew].Sequence <= mark)
            {
                firstNew++;
            }

            var duplicates = firstNew;
            var accepted = 0;
            try
            {
                // One file per run of records sharing a UTC date, written in sequence order, so
                // every file's range lies above every earlier file's: the largest last sequence
                // in the file names is always a correct mark, even after a crash between runs.
                var runStart = firstNew;
                while (runStart < records.Count)
                {
                    var date = DateOf(records[runStart]);
                    var runEnd = runStart + 1;
                    while (runEnd < records.Count && DateOf(records[runEnd]) == date)
                    {
                        runEnd++;
                    }

                    await WriteRunAsync(nodeId, stream, date, records, runStart, runEnd, cancellationToken).ConfigureAwait(false);
                    partition.HighWaterMark = records[runEnd - 1].Sequence;
                    accepted += runEnd - runStart;
                    runStart = runEnd;
                }
            }
            catch
            {
                // The failed write may or may not have become visible (e.g. cancelled after the
                // rename); forget the mark so the next append re-derives it from the files.
                partition.HighWaterMark = null;
                HubMetrics.RecordsAccepted.Inc(accepted);
                throw;
            }

            HubMetrics.RecordsAccepted.Inc(accepted);
            HubMetrics.RecordsDuplicate.Inc(duplicates);
            if (duplicates > 0)
            {
                DataLakeLog.DuplicatesDropped(_logger, duplicates, nodeId, stream, mark);
            }

            return new LakeAppendResult(accepted, duplicates);
        }
        finally
        {
            partition.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<int> AppendLossesAsync(string nodeId, IReadOnlyList<LossEntry> entries, CancellationToken cancellationToken)
    {
        if (!LakeNames.IsValidNodeId(nodeId))
        {
            throw new ArgumentException($"Invalid node id '{nodeId}'.", nameof(nodeId));
        }

        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            if (!LakeNames.IsValidStream(entry.Stream))
            {
                throw new ArgumentException($"Invalid stream '{entry.Stream}' in loss entry {entry.LedgerId}.", nameof(entries));
            }
        }

        var ledger = _ledgers.GetOrAdd(nodeId, static _ => new LedgerState());
        await ledger.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ledger.Recorded ??= await LoadLedgerIdsAsync(nodeId, cancellationToken).ConfigureAwait(false);
            var recorded = ledger.Recorded;

            var fresh = new List<LossEntry>();
            var seen = new HashSet<ulong>();
            foreach (var entry in entries)
            {
                if (!recorded.Contains(entry.LedgerId) && seen.Add(entry.LedgerId))
                {
                    fresh.Add(entry);
                }
            }

            if (fresh.Count == 0)
            {
                return 0;
            }

            fresh.Sort(static (a, b) => a.LedgerId.CompareTo(b.LedgerId));
            var key = $"{LossesRoot}node={nodeId}/{fresh[0].LedgerId:D20}-{fresh[^1].LedgerId:D20}{LossExtension}";
            var lakeEntries = fresh.Select(e => ToLakeLossEntry(nodeId, e)).ToList();
            try
            {
                await _blobs.PutAsync(key, SerializeLosses(lakeEntries), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // As for records: the file may exist now; re-derive the set from the files next time.
                ledger.Recorded = null;
                throw;
            }

            _lossFiles[key] = lakeEntries;
            recorded.UnionWith(seen);
            HubMetrics.LossEntries.Inc(fresh.Count);
            HubMetrics.LostRecords.Inc(fresh.Sum(e => e.Sequences.Count));
            DataLakeLog.LossesRecorded(_logger, fresh.Count, nodeId, key);
            return fresh.Count;
        }
        finally
        {
            ledger.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<LakeSummary> GetSummaryAsync(CancellationToken cancellationToken)
    {
        var partitions = new SortedDictionary<(string Stream, string Node), PartitionCounts>();
        await foreach (var key in _blobs.ListAsync(RecordsRoot, cancellationToken).ConfigureAwait(false))
        {
            if (!TryParseRecordKey(key, out var stream, out var node, out _, out var last))
            {
                continue;
            }

            var counts = GetCounts(partitions, stream, node);
            counts.Records += await GetRowCountAsync(key, cancellationToken).ConfigureAwait(false);
            counts.Files++;
            counts.HighWaterMark = Math.Max(counts.HighWaterMark, last);
        }

        foreach (var entry in await ReadLossesAsync(null, cancellationToken).ConfigureAwait(false))
        {
            var counts = GetCounts(partitions, entry.Stream, entry.NodeId);
            counts.LossEntries++;
            counts.LostRecords += entry.Sequences.Count;
        }

        var rows = partitions
            .Select(p => new LakePartitionSummary(p.Key.Stream, p.Key.Node, p.Value.Records, p.Value.Files, p.Value.HighWaterMark, p.Value.LossEntries, p.Value.LostRecords))
            .ToList();
        return new LakeSummary(rows, rows.Sum(r => r.Records), rows.Sum(r => r.LostRecords));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LakeRecord> ReadRecordsAsync(string? stream, string? nodeId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (stream is not null && !LakeNames.IsValidStream(stream))
        {
            throw new ArgumentException($"Invalid stream '{stream}'.", nameof(stream));
        }

        if (nodeId is not null && !LakeNames.IsValidNodeId(nodeId))
        {
            throw new ArgumentException($"Invalid node id '{nodeId}'.", nameof(nodeId));
        }

        var prefix = (stream, nodeId) switch
        {
            (null, _) => RecordsRoot,
            (_, null) => $"{RecordsRoot}stream={stream}/",
            _ => PartitionPrefix(nodeId, stream),
        };

        var keys = new List<string>();
        await foreach (var key in _blobs.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (TryParseRecordKey(key, out _, out var node, out _, out _) && (nodeId is null || node == nodeId))
            {
                keys.Add(key);
            }
        }

        foreach (var key in keys)
        {
            var bytes = await _blobs.GetAsync(key, cancellationToken).ConfigureAwait(false);
            using var content = new MemoryStream(bytes, writable: false);
            var result = await ParquetSerializer.DeserializeAsync<RecordRow>(content, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var row in result.Data)
            {
                yield return new LakeRecord(
                    row.Node,
                    row.Stream,
                    checked((ulong)row.Sequence),
                    new DateTimeOffset(DateTime.SpecifyKind(row.Timestamp, DateTimeKind.Utc)),
                    row.Shape,
                    row.Values,
                    row.Label,
                    row.Priority);
            }
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LakeLossEntry>> ReadLossesAsync(string? nodeId, CancellationToken cancellationToken)
    {
        if (nodeId is not null && !LakeNames.IsValidNodeId(nodeId))
        {
            throw new ArgumentException($"Invalid node id '{nodeId}'.", nameof(nodeId));
        }

        var prefix = nodeId is null ? LossesRoot : $"{LossesRoot}node={nodeId}/";
        var result = new List<LakeLossEntry>();
        await foreach (var key in _blobs.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (!key.EndsWith(LossExtension, StringComparison.Ordinal))
            {
                continue;
            }

            if (!_lossFiles.TryGetValue(key, out var entries))
            {
                var bytes = await _blobs.GetAsync(key, cancellationToken).ConfigureAwait(false);
                entries = DeserializeLosses(bytes);
                _lossFiles[key] = entries;
            }

            result.AddRange(entries);
        }

        return result;
    }

    private static string PartitionPrefix(string nodeId, string stream) => $"{RecordsRoot}stream={stream}/node={nodeId}/";

    private static DateOnly DateOf(SensorRecord record) =>
        DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampUnixMs).UtcDateTime);

    private async Task WriteRunAsync(string nodeId, string stream, DateOnly date, IReadOnlyList<SensorRecord> records, int start, int end, CancellationToken cancellationToken)
    {
        var rows = new List<RecordRow>(end - start);
        for (var i = start; i < end; i++)
        {
            rows.Add(ToRow(nodeId, stream, records[i]));
        }

        var first = records[start].Sequence;
        var last = records[end - 1].Sequence;
        var key = string.Create(
            CultureInfo.InvariantCulture,
            $"{PartitionPrefix(nodeId, stream)}date={date:yyyy-MM-dd}/{first:D20}-{last:D20}{ParquetExtension}");

        using var buffer = new MemoryStream();
        await ParquetSerializer.SerializeAsync(rows, buffer, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _blobs.PutAsync(key, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken).ConfigureAwait(false);
        _rowCounts[key] = rows.Count;
        DataLakeLog.RecordsWritten(_logger, rows.Count, key);
    }

    private static RecordRow ToRow(string nodeId, string stream, SensorRecord record)
    {
        var raw = record.Values.Span;
        var count = raw.Length / sizeof(float);
        var values = new List<float>(count);
        CollectionsMarshal.SetCount(values, count);
        var target = CollectionsMarshal.AsSpan(values);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(raw[..(count * sizeof(float))]).CopyTo(target);
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                target[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(raw[(i * sizeof(float))..]);
            }
        }

        return new RecordRow
        {
            Node = nodeId,
            Stream = stream,
            Sequence = checked((long)record.Sequence),
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampUnixMs).UtcDateTime,
            Shape = [.. record.Shape],
            Values = values,
            Label = record.HasLabel ? record.Label : null,
            Priority = record.Priority,
        };
    }

    private async Task<ulong> LoadHighWaterMarkAsync(string nodeId, string stream, CancellationToken cancellationToken)
    {
        ulong mark = 0;
        await foreach (var key in _blobs.ListAsync(PartitionPrefix(nodeId, stream), cancellationToken).ConfigureAwait(false))
        {
            if (TryParseRecordKey(key, out var s, out var n, out _, out var last) && s == stream && n == nodeId)
            {
                mark = Math.Max(mark, last);
            }
            else
            {
                DataLakeLog.UnrecognizedKeyIgnored(_logger, key);
            }
        }

        DataLakeLog.HighWaterMarkLoaded(_logger, nodeId, stream, mark);
        return mark;
    }

    private async Task<HashSet<ulong>> LoadLedgerIdsAsync(string nodeId, CancellationToken cancellationToken)
    {
        var ids = new HashSet<ulong>();
        foreach (var entry in await ReadLossesAsync(nodeId, cancellationToken).ConfigureAwait(false))
        {
            ids.Add(entry.LedgerId);
        }

        return ids;
    }

    private async Task<long> GetRowCountAsync(string key, CancellationToken cancellationToken)
    {
        if (_rowCounts.TryGetValue(key, out var count))
        {
            return count;
        }

        var bytes = await _blobs.GetAsync(key, cancellationToken).ConfigureAwait(false);
        using var content = new MemoryStream(bytes, writable: false);
        var reader = await ParquetReader.CreateAsync(content, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            count = reader.Metadata?.NumRows ?? reader.RowGroups.Sum(g => g.RowCount);
        }

        _rowCounts[key] = count;
        return count;
    }

    // records/stream={s}/node={n}/date={d}/{first:D20}-{last:D20}.parquet
    internal static bool TryParseRecordKey(string key, out string stream, out string node, out ulong first, out ulong last)
    {
        stream = node = string.Empty;
        first = last = 0;
        var parts = key.Split('/');
        if (parts.Length != 5 || parts[0] != "records"
            || !parts[1].StartsWith("stream=", StringComparison.Ordinal)
            || !parts[2].StartsWith("node=", StringComparison.Ordinal)
            || !parts[3].StartsWith("date=", StringComparison.Ordinal)
            || !parts[4].EndsWith(ParquetExtension, StringComparison.Ordinal))
        {
            return false;
        }

        var range = parts[4].AsSpan(0, parts[4].Length - ParquetExtension.Length);
        var dash = range.IndexOf('-');
        if (dash < 0
            || !ulong.TryParse(range[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out first)
            || !ulong.TryParse(range[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out last))
        {
            return false;
        }

        stream = parts[1]["stream=".Length..];
        node = parts[2]["node=".Length..];
        return true;
    }

    private static LakeLossEntry ToLakeLossEntry(string nodeId, LossEntry entry) => new(
        nodeId,
        entry.LedgerId,
        entry.Stream,
        [.. entry.Sequences],
        entry.Reason,
        DateTimeOffset.FromUnixTimeMilliseconds(entry.LostAtUnixMs),
        entry.Bytes);

    private static byte[] SerializeLosses(IEnumerable<LakeLossEntry> entries)
    {
        var text = new StringBuilder();
        foreach (var e in entries)
        {
            var line = new LossLine
            {
                Node = e.NodeId,
                LedgerId = e.LedgerId,
                Stream = e.Stream,
                Sequences = [.. e.Sequences],
                Reason = e.Reason,
                LostAt = e.LostAt,
                Bytes = e.Bytes,
            };
            text.Append(JsonSerializer.Serialize(line, LakeJsonContext.Default.LossLine)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static List<LakeLossEntry> DeserializeLosses(byte[] bytes)
    {
        var entries = new List<LakeLossEntry>();
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var l = JsonSerializer.Deserialize(line, LakeJsonContext.Default.LossLine)
                ?? throw new InvalidDataException("Empty loss-ledger line.");
            entries.Add(new LakeLossEntry(l.Node, l.LedgerId, l.Stream, l.Sequences, l.Reason, l.LostAt, l.Bytes));
        }

        return entries;
    }

    private static void RequireNames(string nodeId, string stream)
    {
        if (!LakeNames.IsValidNodeId(nodeId))
        {
            throw new ArgumentException($"Invalid node id '{nodeId}'.", nameof(nodeId));
        }

        if (!LakeNames.IsValidStream(stream))
        {
            throw new ArgumentException($"Invalid stream '{stream}'.", nameof(stream));
        }
    }

    // The mark logic is only correct for ascending input; refuse anything else outright rather
    // than silently dropping or reordering (every ingest path validates before this).
    private static void RequireAscending(IReadOnlyList<SensorRecord> records)
    {
        for (var i = 0; i < records.Count; i++)
        {
            var sequence = records[i].Sequence;
            if (sequence == 0 || sequence > long.MaxValue || (i > 0 && sequence <= records[i - 1].Sequence))
            {
                throw new ArgumentException($"Record sequences must be ascending and in [1, {long.MaxValue}]; record {i} has {sequence}.", nameof(records));
            }
        }
    }

    private static PartitionCounts GetCounts(SortedDictionary<(string Stream, string Node), PartitionCounts> partitions, string stream, string node)
    {
        if (!partitions.TryGetValue((stream, node), out var counts))
        {
            counts = new PartitionCounts();
            partitions[(stream, node)] = counts;
        }

        return counts;
    }

    private sealed class PartitionState
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        // Null until derived from the files (first use, or after a failed write).
        public ulong? HighWaterMark { get; set; }
    }

    private sealed class LedgerState
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public HashSet<ulong>? Recorded { get; set; }
    }

    private sealed class PartitionCounts
    {
        public long Records { get; set; }

        public int Files { get; set; }

        public ulong HighWaterMark { get; set; }

        public long LossEntries { get; set; }

        public long LostRecords { get; set; }
    }
}
