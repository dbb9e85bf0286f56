using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>
/// The agent's durable store-and-forward buffer on LiteDB (docs/design/0002-durable-buffer.md).
/// </summary>
/// <remarks>
/// One writer task owns every write: appends, dead letters, checkpoint advances and
/// housekeeping are queued and applied in group commits (one LiteDB transaction, then one
/// fsync), and only then are their tasks completed, so an acknowledgement sent on completion
/// is never for data a power cut could take. Uplinks read concurrently from committed data.
/// </remarks>
public sealed partial class DurableBuffer : IAsyncDisposable
{
    private const string StreamsCollection = "streams";
    private const string CheckpointsCollection = "checkpoints";
    private const string LedgerCollection = "ledger";
    private const string DeadLettersCollection = "deadletters";
    private const string LedgerStreamKey = "$ledger";
    private const int DeadLetterPayloadLimit = 4096;

    private readonly BufferOptions _options;
    private readonly StreamCatalog _catalog;
    private readonly TimeProvider _time;
    private readonly SyncMetrics _metrics;
    private readonly ILogger<DurableBuffer> _logger;
    private readonly Channel<WorkItem> _work;
    private readonly ConcurrentDictionary<string, StreamState> _streams = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Uplink, string Stream), ulong> _checkpoints = new();
    private readonly HashSet<string> _uplinks = new(StringComparer.Ordinal);
    private readonly Queue<AppendWork> _blocked = new();
    private readonly List<Action> _completions = [];
    // The in-memory dedupe window follows each stream's ids collection: additions are undone on
    // rollback (a redelivery of a reading whose commit failed must be stored, not dropped), and
    // pruning reaches memory only once the transaction that pruned the disk commits.
    private readonly List<(StreamState State, string Id, ulong Sequence)> _groupIds = [];
    private readonly List<(StreamState State, long Floor)> _idFloors = [];

    // Highest committed loss-ledger id, so that uplinks skip the ledger query when nothing is new.
    private long _lastLedgerId;
    private long _pendingLastLedgerId;
    private readonly Random _reservoirRandom = new();

    // LiteDB's rebuild closes and reopens the engine; a concurrent read would hit a disposed
    // engine (or block it). Reads share this lock, the rebuild takes it exclusively.
    private readonly ReaderWriterLockSlim _engineSwap = new(LockRecursionPolicy.NoRecursion);
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LiteDatabase? _db;
    private Task? _writer;
    private long _bufferedBytes;
    private long _bufferedRecords;

    // What GetStats reports: the counts as of the last commit. The two above are the writer's
    // working figures and include appends of the group still in flight, which a reader cannot see yet.
    private long _committedBytes;
    private long _committedRecords;

    // Collections readers may query: see Read for why a reader must never open one that the
    // open transaction is creating.
    private int _deadLettersReadable;
    private bool _deadLetterWritten;
    private int _nextCollectionIndex;
    private long _compactedBytes;

    public DurableBuffer(IOptions<BufferOptions> options, StreamCatalog catalog, NodeIdentity identity, TimeProvider time, SyncMetrics metrics, ILogger<DurableBuffer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(identity);
        _options = options.Value;
        _catalog = catalog;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        FilePath = identity.ResolvePath(_options.File);
        // Bounded: a flood of sensor messages waits here (and so is not acknowledged) instead of
        // growing memory without limit.
        _work = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(Math.Max(1024, _options.MaxGroupCommit * 4))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>Path of the buffer's LiteDB file (LiteDB keeps its write-ahead log beside it as <c>*-log.db</c>).</summary>
    public string FilePath { get; }

    private string LogFilePath => Path.Combine(Path.GetDirectoryName(FilePath)!, Path.GetFileNameWithoutExtension(FilePath) + "-log" + Path.GetExtension(FilePath));

    /// <summary>
    /// Declares an uplink whose checkpoints hold data: a reading is deleted only once every
    /// declared uplink has had it acknowledged. Call before <see cref="Open"/>.
    /// </summary>
    public void RegisterUplink(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_writer is not null)
        {
            throw new InvalidOperationException("Uplinks must be registered before the buffer is opened.");
        }

        _uplinks.Add(name);
    }

    /// <summary>Opens (recovering after a crash if needed) the buffer file and starts the writer.</summary>
    public void Open()
    {
        if (_writer is not null)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        RecoverInterruptedRebuild();
        _db = OpenDatabase(FilePath);
        LoadState();
        PublishCommittedCounts();
        _writer = Task.Run(WriterLoopAsync);
        PublishGauges();
        BufferLog.Opened(_logger, FilePath, _bufferedRecords, _bufferedBytes);
    }

    /// <summary>
    /// Appends a reading. Completes once the outcome is durable; under a full quota and a
    /// push-back policy it stays pending (so the message stays unacknowledged) until space frees.
    /// </summary>
    public async ValueTask<AppendOutcome> AppendAsync(AppendRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var work = new AppendWork(request, _time.GetUtcNow().ToUnixTimeMilliseconds());
        await _work.Writer.WriteAsync(work, cancellationToken);
        return await work.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Keeps a rejected message with its reason; completes once durable.</summary>
    public async ValueTask DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        var work = new DeadLetterWork(deadLetter, _time.GetUtcNow().ToUnixTimeMilliseconds());
        await _work.Writer.WriteAsync(work, cancellationToken);
        await work.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Records that <paramref name="uplink"/>'s far side acknowledged a stream up to <paramref name="sequence"/>.</summary>
    public async ValueTask AdvanceCheckpointAsync(string uplink, string stream, ulong sequence, CancellationToken cancellationToken = default)
    {
        var work = new CheckpointWork(uplink, stream, sequence);
        await _work.Writer.WriteAsync(work, cancellationToken);
        await work.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Records that <paramref name="uplink"/>'s far side acknowledged the loss ledger up to <paramref name="ledgerId"/>.</summary>
    public ValueTask AdvanceLedgerCheckpointAsync(string uplink, ulong ledgerId, CancellationToken cancellationToken = default)
        => AdvanceCheckpointAsync(uplink, LedgerStreamKey, ledgerId, cancellationToken);

    /// <summary>Runs housekeeping now (drained deletes, TTL expiry, dedupe pruning, giving disk space back).</summary>
    public async ValueTask RunMaintenanceAsync(CancellationToken cancellationToken = default)
    {
        var work = new MaintenanceWork();
        await _work.Writer.WriteAsync(work, cancellationToken);
        await work.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Completes at the next group commit that stores readings or loss entries (uplinks wait on it when idle).</summary>
    public Task DataCommitted => Volatile.Read(ref _committed).Task;

    /// <summary>Completes when the writer ends: normally on dispose, faulted on a fatal error.</summary>
    public Task WriterCompletion => _writer ?? Task.CompletedTask;

    /// <summary>Whether the writer is running (it stops only on dispose); the systemd watchdog depends on it.</summary>
    public bool IsWriterAlive => _writer is { IsCompleted: false };

    /// <summary>Streams that have ever had a reading buffered.</summary>
    public IReadOnlyCollection<string> Streams => _streams.Keys.ToArray();

    /// <summary>The uplink's checkpoint for a stream: the highest sequence its far side acknowledged.</summary>
    public ulong GetCheckpoint(string uplink, string stream) => _checkpoints.GetValueOrDefault((uplink, stream));

    /// <summary>Readings of <paramref name="stream"/> after <paramref name="afterSequence"/>, oldest first, within the limits.</summary>
    public IReadOnlyList<BufferedRecord> Read(string stream, ulong afterSequence, int maxRecords, long maxBytes)
    {
        _engineSwap.EnterReadLock();
        try
        {
            var db = Database;
            if (!_streams.TryGetValue(stream, out var state))
            {
                return [];
            }

            // Only what is committed is queried: LiteDB 5 fails ("page type must be collection
            // page") and closes the database when a reader opens a collection that the writer's
            // open transaction is creating. It also spares caught-up uplinks' polls a query.
            var newest = state.ReadableThrough;
            if (afterSequence >= newest)
            {
                return [];
            }

            var result = new List<BufferedRecord>((int)Math.Min((ulong)Math.Min(Math.Max(maxRecords, 0), 1024), newest - afterSequence));
            long bytes = 0;
            // A segment's id is its last sequence: the first one found holds afterSequence + 1.
            foreach (var segment in db.GetCollection(state.Collection).Find(LiteDB.Query.GT("_id", (long)afterSequence)))
            {
                foreach (var record in DecodeSegment(segment, state))
                {
                    if (record.Sequence <= afterSequence)
                    {
                        continue;
                    }

                    bytes += record.QuotaBytes;
                    if (result.Count >= maxRecords || (result.Count > 0 && bytes > maxBytes))
                    {
                        return result;
                    }

                    result.Add(record.ToBufferedRecord(state.Policy.Priority));
                }
            }

            return result;
        }
        finally
        {
            _engineSwap.ExitReadLock();
        }
    }

    /// <summary>Loss-ledger entries after <paramref name="afterLedgerId"/> (ascending).</summary>
    public IReadOnlyList<LossLedgerEntry> ReadLosses(ulong afterLedgerId, int maxEntries)
    {
        if (afterLedgerId >= (ulong)Interlocked.Read(ref _lastLedgerId))
        {
            return [];
        }

        _engineSwap.EnterReadLock();
        try
        {
            return Database.GetCollection(LedgerCollection)
                .Find(LiteDB.Query.GT("_id", (long)afterLedgerId), limit: maxEntries)
                .Select(ToLedgerEntry)
                .ToList();
        }
        finally
        {
            _engineSwap.ExitReadLock();
        }
    }

    /// <summary>The uplink's ledger checkpoint.</summary>
    public ulong GetLedgerCheckpoint(string uplink) => GetCheckpoint(uplink, LedgerStreamKey);

    /// <summary>Readings of a stream not yet acknowledged by <paramref name="uplink"/> (gaps from eviction counted as pending).</summary>
    public long Backlog(string uplink)
    {
        long total = 0;
        foreach (var (name, state) in _streams)
        {
            var last = state.NextSequence - 1;
            var checkpoint = GetCheckpoint(uplink, name);
            var oldest = Math.Max(checkpoint, state.FirstSequence - 1);
            total += last > oldest ? (long)(last - oldest) : 0;
        }

        return total;
    }

    /// <summary>Dead letters kept, newest last.</summary>
    public IReadOnlyList<(string Topic, string Reason, long AtUnixMs)> ReadDeadLetters(int max)
    {
        if (Volatile.Read(ref _deadLettersReadable) == 0 || _options.DeadLetterCapacity == 0)
        {
            return [];
        }

        _engineSwap.EnterReadLock();
        try
        {
            return Database.GetCollection(DeadLettersCollection).Find(LiteDB.Query.All(LiteDB.Query.Descending), limit: max)
                .Select(d => (d["topic"].AsString, d["reason"].AsString, d["t"].AsInt64))
                .Reverse()
                .ToList();
        }
        finally
        {
            _engineSwap.ExitReadLock();
        }
    }

    /// <summary>
    /// Labeled samples in a stream's training reservoir: all of them, or, when it holds more than
    /// <paramref name="maxSamples"/>, a uniform sample of that many (seeded by <paramref name="seed"/>),
    /// so that a large reservoir never has to fit in memory at once.
    /// </summary>
    public IReadOnlyList<TrainingSample> ReadTrainingSamples(string stream, int maxSamples = int.MaxValue, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSamples);
        _engineSwap.EnterReadLock();
        try
        {
            if (!_streams.TryGetValue(stream, out var state) || !state.ReservoirReadable)
            {
                return [];
            }

            // Algorithm R over LiteDB's cursor: memory for maxSamples samples, whatever the reservoir holds.
            var random = new Random(seed);
            var kept = new List<TrainingSample>();
            long seen = 0;
            foreach (var d in Database.GetCollection(state.ReservoirCollection).FindAll())
            {
                seen++;
                if (kept.Count < maxSamples)
                {
                    kept.Add(ToTrainingSample(d));
                    continue;
                }

                var slot = random.NextInt64(seen);
                if (slot < maxSamples)
                {
                    kept[(int)slot] = ToTrainingSample(d);
                }
            }

            return kept;
        }
        finally
        {
            _engineSwap.ExitReadLock();
        }
    }

    private static TrainingSample ToTrainingSample(BsonDocument d) => new(ToShape(d["sh"].AsArray), d["v"].AsBinary, d["l"].AsInt32);

    /// <summary>Figures for metrics, the demo and tests.</summary>
    public BufferStats GetStats() => new(Interlocked.Read(ref _committedBytes), Interlocked.Read(ref _committedRecords), FileBytes(), _options.QuotaBytes, Volatile.Read(ref _blockedCount));

    /// <summary>Stops taking work, finishes what is queued (commits in flight complete), and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _work.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer;
        }

        foreach (var blocked in _blocked)
        {
            blocked.Completion.TrySetException(new ObjectDisposedException(nameof(DurableBuffer), "The buffer closed before space freed; the message was not acknowledged."));
        }

        _blocked.Clear();
        if (_db is not null)
        {
            _db.Checkpoint();
            _db.Dispose();
            _db = null;
        }

        _engineSwap.Dispose();
    }

    private static string BackupPath(string path) => Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path) + "-backup" + Path.GetExtension(path));

    /// <summary>
    /// LiteDB's rebuild renames the live file to *-backup before moving the rebuilt one in; a
    /// crash between the two renames leaves only the backup, which is the complete old buffer.
    /// </summary>
    private void RecoverInterruptedRebuild()
    {
        if (!File.Exists(FilePath) && File.Exists(BackupPath(FilePath)))
        {
            File.Move(BackupPath(FilePath), FilePath);
            if (File.Exists(BackupPath(LogFilePath)))
            {
                File.Move(BackupPath(LogFilePath), LogFilePath, overwrite: true);
            }
        }

        DeleteRebuildLeftovers();
    }

    private void DeleteRebuildLeftovers()
    {
        string Sibling(string suffix) => Path.Combine(Path.GetDirectoryName(FilePath)!, Path.GetFileNameWithoutExtension(FilePath) + suffix + Path.GetExtension(FilePath));
        foreach (var leftover in new[] { BackupPath(FilePath), BackupPath(LogFilePath), Sibling("-temp"), Sibling("-temp-log") })
        {
            File.Delete(leftover);
        }
    }

    /// <summary>
    /// LiteDB's page cache grows in segments of 12, 50, 100, 500 and then 1000 pages of 8 KB, and
    /// takes the fifth (8 MB) as soon as the pages it has touched outnumber the first four (662):
    /// it reuses idle pages only when more are idle than the next segment holds. Log pages count,
    /// and the log is only folded into the data file every 1000 pages by default. Folding it every
    /// <see cref="CheckpointPages"/> keeps a buffer that drains inside the first four segments.
    /// </summary>
    internal const int CheckpointPages = 100;

    private static LiteDatabase OpenDatabase(string path)
        => new(new ConnectionString { Filename = path, Connection = ConnectionType.Direct }) { CheckpointSize = CheckpointPages };

    private LiteDatabase Database => _db ?? throw new InvalidOperationException("The buffer is not open.");

    private int _blockedCount;

    private long FileBytes()
    {
        long size = 0;
        foreach (var path in new[] { FilePath, LogFilePath })
        {
            var info = new FileInfo(path);
            if (info.Exists)
            {
                size += info.Length;
            }
        }

        return size;
    }

    private void LoadState()
    {
        var db = Database;
        // Read whole first: an open cursor holds a transaction, and migrating a stream needs its own.
        foreach (var doc in db.GetCollection(StreamsCollection).FindAll().ToList())
        {
            var name = doc["_id"].AsString;
            var index = doc["c"].AsInt32;
            _nextCollectionIndex = Math.Max(_nextCollectionIndex, index + 1);
            var policy = _catalog.TryGetPolicy(name, out var p) ? p : new StreamPolicy();
            var state = new StreamState(name, index, policy)
            {
                NextSequence = (ulong)doc["next"].AsInt64,
                ReservoirSeen = doc["seen"].AsInt64,
                SampleCredit = doc["acc"].AsDouble,
            };
            MigrateRecordDocuments(state);
            // One pass over the segments' headers in sequence order gives the totals and both ends.
            ulong? first = null;
            foreach (var segment in db.GetCollection(state.Collection).FindAll())
            {
                first ??= (ulong)segment["f"].AsInt64;
                state.StoredThrough = (ulong)segment["_id"].AsInt64;
                state.Bytes += segment["n"].AsInt64;
                state.Count += segment["c"].AsInt32;
            }

            state.FirstSequence = first ?? state.NextSequence;
            state.PublishCommitted();
            LoadRecentIds(state);
            _streams[name] = state;
            _bufferedBytes += state.Bytes;
            _bufferedRecords += state.Count;
        }

        foreach (var doc in db.GetCollection(CheckpointsCollection).FindAll())
        {
            var key = doc["_id"].AsString;
            var split = key.IndexOf('|', StringComparison.Ordinal);
            _checkpoints[(key[..split], key[(split + 1)..])] = (ulong)doc["q"].AsInt64;
        }

        // Earlier builds kept one document per source id in i{n}; that window is not carried over.
        foreach (var legacy in db.GetCollectionNames().Where(n => n.Length > 1 && n[0] == 'i' && n[1..].All(char.IsAsciiDigit)).ToList())
        {
            db.DropCollection(legacy);
        }

        _deadLettersReadable = db.CollectionExists(DeadLettersCollection) ? 1 : 0;
        var newestLoss = db.GetCollection(LedgerCollection, BsonAutoId.Int64).FindOne(LiteDB.Query.All(LiteDB.Query.Descending));
        _lastLedgerId = newestLoss is null ? 0 : newestLoss["_id"].AsInt64;
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<WorkItem>(_options.MaxGroupCommit);
        var reader = _work.Reader;
        var pacer = new GroupCommitPacer(_options.GroupCommitDelay);
        var lastCommitEnd = Stopwatch.GetTimestamp();
        while (true)
        {
            var more = _blocked.Count > 0 && CanUnblock() ? true : await reader.WaitToReadAsync();
            if (!more && _blocked.Count == 0)
            {
                break;
            }

            if (!more && !CanUnblock())
            {
                // Shutting down with appends still held back by a full quota: they stay
                // unacknowledged, so the sensor or broker keeps them.
                break;
            }

            // Under load (the group before held several items) the pacer may let this group fill
            // first (docs/design/0002-durable-buffer.md, "Commit delay"). Wall-clock time on
            // purpose: a test's fake clock must not hold commits back.
            var underLoad = batch.Count > 1;
            var delayed = underLoad && reader.Count < _options.MaxGroupCommit && pacer.ShouldDelay();
            if (delayed)
            {
                await Task.Delay(_options.GroupCommitDelay);
            }

            batch.Clear();
            while (batch.Count < _options.MaxGroupCommit && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                CommitGroup(batch);
            }
            catch (Exception ex) when (ex is not (IOException or LiteException or UnauthorizedAccessException))
            {
                // A bug, not the disk: nothing can be trusted to be acknowledged any more. Fail
                // what is pending and end the writer; the host stops and systemd restarts us.
                BufferLog.WriterFailed(_logger, ex);
                foreach (var item in batch.Concat(_blocked))
                {
                    item.Fail(ex);
                }

                _blocked.Clear();
                _work.Writer.TryComplete(ex);
                throw;
            }
            catch (Exception ex)
            {
                // A failed commit acknowledges nothing: the messages stay with their senders,
                // which retry. Held-back appends are failed too rather than kept half-processed.
                BufferLog.CommitFailed(_logger, batch.Count + _blocked.Count, ex);
                foreach (var item in batch.Concat(_blocked))
                {
                    item.Fail(ex);
                }

                _blocked.Clear();
            }

            var commitEnd = Stopwatch.GetTimestamp();
            if (underLoad)
            {
                pacer.Record(batch.Count, delayed, Stopwatch.GetElapsedTime(lastCommitEnd, commitEnd));
            }

            lastCommitEnd = commitEnd;
        }
    }

    private bool CanUnblock()
        => _blocked.Count > 0 && Interlocked.Read(ref _bufferedBytes) + _blocked.Peek().QuotaBytes <= _options.QuotaBytes;

    private void CommitGroup(List<WorkItem> batch)
    {
        var db = Database;
        var snapshot = Snapshot();
        _completions.Clear();
        _groupIds.Clear();
        _idFloors.Clear();
        _deadLetterWritten = false;
        _pendingLastLedgerId = Interlocked.Read(ref _lastLedgerId);
        var touched = new HashSet<StreamState>();
        db.BeginTrans();
        try
        {
            // Held-back appends go first, in arrival order, as far as space allows.
            while (CanUnblock())
            {
                var held = _blocked.Dequeue();
                if (!TryAppend(held, touched))
                {
                    _blocked.Enqueue(held);
                    break;
                }
            }

            foreach (var item in batch)
            {
                switch (item)
                {
                    case AppendWork append:
                        if (_blocked.Count > 0 && PolicyOf(append.Request.Stream) is { WhenFull: FullQuotaPolicy.PushBack })
                        {
                            // Keep arrival order behind appends already waiting for space.
                            _blocked.Enqueue(append);
                        }
                        else if (!TryAppend(append, touched))
                        {
                            _blocked.Enqueue(append);
                            BufferLog.QuotaFullPushBack(_logger, append.Request.Stream, _bufferedBytes, _options.QuotaBytes);
                        }

                        break;
                    case DeadLetterWork dead:
                        ApplyDeadLetter(dead);
                        break;
                    case CheckpointWork checkpoint:
                        ApplyCheckpoint(checkpoint, touched);
                        break;
                    case MaintenanceWork:
                        // Completed after the housekeeping that follows the commit.
                        ApplyExpiry(touched);
                        break;
                    default:
                        throw new InvalidOperationException($"Unknown buffer work {item.GetType().Name}.");
                }
            }

            foreach (var state in touched)
            {
                WriteSegment(state);
            }

            WriteGroupIds();
            foreach (var state in touched)
            {
                db.GetCollection(StreamsCollection).Upsert(new BsonDocument
                {
                    ["_id"] = state.Name,
                    ["c"] = state.Index,
                    ["next"] = (long)state.NextSequence,
                    ["seen"] = state.ReservoirSeen,
                    ["acc"] = state.SampleCredit,
                });
            }

            db.Commit();
        }
        catch
        {
            db.Rollback();
            Restore(snapshot);
            throw;
        }

        if (_options.FlushToDevice)
        {
            FlushToDevice();
        }

        Interlocked.Exchange(ref _lastLedgerId, _pendingLastLedgerId);
        foreach (var state in touched)
        {
            state.PublishCommitted();
        }

        // After what readers may query, so the counts never run ahead of what they can see.
        PublishCommittedCounts();

        if (_deadLetterWritten)
        {
            Volatile.Write(ref _deadLettersReadable, 1);
        }

        // The pruning of the ids collection is committed: the in-memory window follows it.
        foreach (var (state, floor) in _idFloors)
        {
            state.ForgetIdsBefore(floor);
        }

        _metrics.GroupCommits.Inc();
        Volatile.Write(ref _blockedCount, _blocked.Count);
        foreach (var complete in _completions)
        {
            complete();
        }

        _completions.Clear();
        Interlocked.Exchange(ref _committed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        var maintenance = batch.OfType<MaintenanceWork>().ToList();
        if (maintenance.Count > 0)
        {
            RunHousekeepingOutsideTransaction();
            maintenance.ForEach(m => m.Completion.TrySetResult());
        }

        PublishGauges();
    }

    private StreamPolicy? PolicyOf(string stream) => _catalog.TryGetPolicy(stream, out var p) ? p : null;

    private bool TryAppend(AppendWork work, HashSet<StreamState> touched)
    {
        var request = work.Request;
        var db = Database;
        var state = GetOrCreateStream(request.Stream);
        var policy = state.Policy;
        if (request.SourceId is not null && _options.DedupeWindow > 0 && state.RecentIds.Contains(request.SourceId))
        {
            _metrics.Stream(request.Stream).Duplicates.Inc();
            _completions.Add(() => work.Completion.TrySetResult(new AppendOutcome(AppendStatus.Duplicate, 0)));
            return true;
        }

        var upload = policy.Upload switch
        {
            UploadPolicy.All => true,
            UploadPolicy.None => false,
            _ => TakeSample(state, policy.SampleFraction),
        };
        touched.Add(state);

        if (!upload)
        {
            KeepForTraining(state, request);
            RememberSourceId(state, request.SourceId, state.NextSequence);
            _completions.Add(() => work.Completion.TrySetResult(new AppendOutcome(AppendStatus.NotUploaded, 0)));
            return true;
        }

        var size = work.QuotaBytes;
        if (_bufferedBytes + size > _options.QuotaBytes)
        {
            if (policy.WhenFull == FullQuotaPolicy.PushBack)
            {
                return false;
            }

            if (!MakeRoom(size, policy.Priority, touched))
            {
                // This reading is itself the oldest lowest-priority data: it is the one given up.
                var lost = state.NextSequence++;
                if (state.Count == 0)
                {
                    state.FirstSequence = state.NextSequence;
                }

                WriteLedger(state.Name, [lost], BufferAccounting.ReasonEvicted, size);
                RememberSourceId(state, request.SourceId, lost);
                _completions.Add(() => work.Completion.TrySetResult(new AppendOutcome(AppendStatus.EvictedOnArrival, lost)));
                return true;
            }
        }

        KeepForTraining(state, request);
        var sequence = state.NextSequence++;
        if (state.Count == 0)
        {
            state.FirstSequence = sequence;
        }

        AddToSegment(state, new SegmentRecord(sequence, work.ReceivedAtUnixMs, request.Shape, request.Values, request.Label));
        state.StoredThrough = sequence;
        RememberSourceId(state, request.SourceId, sequence);
        state.Bytes += size;
        state.Count++;
        _bufferedBytes += size;
        _bufferedRecords++;
        _metrics.Stream(request.Stream).Committed.Inc();
        _completions.Add(() => work.Completion.TrySetResult(new AppendOutcome(AppendStatus.Stored, sequence)));
        return true;
    }

    private static bool TakeSample(StreamState state, double fraction)
    {
        // Deterministic, evenly spread sampling: a credit accumulates the fraction per reading
        // and one reading is taken whenever a whole unit is reached.
        state.SampleCredit += fraction;
        if (state.SampleCredit >= 1.0 - 1e-9)
        {
            state.SampleCredit -= 1.0;
            return true;
        }

        return false;
    }

    private void RememberSourceId(StreamState state, string? sourceId, ulong sequence)
    {
        if (sourceId is null || _options.DedupeWindow == 0)
        {
            return;
        }

        // Looked up in memory; written once per group and stream (WriteGroupIds), not as a
        // document per reading: a FindById and an insert per reading cost most of the writer's
        // CPU and allocations (docs/benchmarks.md, "Findings").
        state.RememberId(sourceId, sequence);
        _groupIds.Add((state, sourceId, sequence));
    }

    /// <summary>One document per stream holding the source ids this group remembered.</summary>
    private void WriteGroupIds()
    {
        if (_groupIds.Count == 0)
        {
            return;
        }

        foreach (var group in _groupIds.GroupBy(g => g.State))
        {
            var ids = new BsonArray();
            var sequences = new BsonArray();
            ulong highest = 0;
            foreach (var (_, id, sequence) in group)
            {
                ids.Add(id);
                sequences.Add((long)sequence);
                highest = Math.Max(highest, sequence);
            }

            Database.GetCollection(group.Key.IdsCollection, BsonAutoId.Int64).Insert(new BsonDocument
            {
                ["hi"] = (long)highest,
                ["ids"] = ids,
                ["q"] = sequences,
            });
        }
    }

    private void KeepForTraining(StreamState state, AppendRequest request)
    {
        var capacity = state.Policy.TrainingReservoir;
        if (capacity <= 0 || request.Label is not { } label)
        {
            return;
        }

        // Reservoir sampling (Algorithm R): every labeled reading seen so far has the same
        // chance of being in the bounded sample.
        state.ReservoirSeen++;
        long slot = state.ReservoirSeen <= capacity ? state.ReservoirSeen - 1 : _reservoirRandom.NextInt64(state.ReservoirSeen);
        if (slot >= capacity)
        {
            return;
        }

        Database.GetCollection(state.ReservoirCollection).Upsert(new BsonDocument
        {
            ["_id"] = slot,
            ["sh"] = new BsonArray(request.Shape.Select(d => new BsonValue(d))),
            ["v"] = request.Values,
            ["l"] = label,
        });
    }

    /// <summary>
    /// Evicts the oldest readings of the lowest-priority evictable streams until
    /// <paramref name="needed"/> bytes fit. Returns false when the incoming reading (priority
    /// <paramref name="incomingPriority"/>, newest of all) is itself what should go.
    /// </summary>
    private bool MakeRoom(long needed, int incomingPriority, HashSet<StreamState> touched)
    {
        var db = Database;
        while (_bufferedBytes + needed > _options.QuotaBytes)
        {
            var victim = _streams.Values
                .Where(s => s.Count > 0 && s.Policy.WhenFull == FullQuotaPolicy.EvictOldest)
                .OrderBy(s => s.Policy.Priority)
                .ThenBy(s => s.OldestTimestamp(db))
                .FirstOrDefault();
            if (victim is null || victim.Policy.Priority > incomingPriority)
            {
                return false;
            }

            var lost = RemoveOldest(victim, (_, freed) => _bufferedBytes - freed + needed > _options.QuotaBytes, wholeSegment: null);
            if (lost.Count == 0)
            {
                // Counted readings that are nowhere to be found: a bug. Fail the writer rather
                // than loop here for ever (the host restarts, and the counts are rebuilt at open).
                throw new InvalidOperationException($"Stream '{victim.Name}' counts {victim.Count} readings but none could be evicted.");
            }

            Forget(victim, lost.Count, lost.Bytes, lost.LastSequence);
            touched.Add(victim);
            WriteLedger(victim.Name, lost.Sequences, BufferAccounting.ReasonEvicted, lost.Bytes);
        }

        return true;
    }

    private void ApplyExpiry(HashSet<StreamState> touched)
    {
        var db = Database;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var state in _streams.Values.Where(s => s.Count > 0 && s.Policy.TimeToLive > TimeSpan.Zero))
        {
            var cutoff = now - (long)state.Policy.TimeToLive.TotalMilliseconds;
            // Readings are stored in arrival order, so the expired ones are the oldest.
            var lost = RemoveOldest(state, (record, _) => record.TimestampUnixMs < cutoff, wholeSegment: null);
            if (lost.Count == 0)
            {
                continue;
            }

            Forget(state, lost.Count, lost.Bytes, lost.LastSequence);
            touched.Add(state);
            WriteLedger(state.Name, lost.Sequences, BufferAccounting.ReasonExpired, lost.Bytes);
        }

        // Dedupe ids older than the window cannot match a redelivery any more.
        foreach (var state in _streams.Values)
        {
            var floor = (long)state.NextSequence - _options.DedupeWindow;
            if (floor > 0)
            {
                db.GetCollection(state.IdsCollection, BsonAutoId.Int64).DeleteMany(LiteDB.Query.LT("hi", floor));
                _idFloors.Add((state, floor));
            }
        }

        var deadLetters = db.GetCollection(DeadLettersCollection);
        var excess = deadLetters.Count() - _options.DeadLetterCapacity;
        if (excess > 0)
        {
            var cut = deadLetters.Find(LiteDB.Query.All(), skip: excess - 1, limit: 1).First()["_id"];
            deadLetters.DeleteMany(LiteDB.Query.LTE("_id", cut));
        }
    }

    private void Forget(StreamState state, int count, long bytes, ulong lastSequence)
    {
        state.Count -= count;
        state.Bytes -= bytes;
        state.FirstSequence = lastSequence + 1;
        _bufferedBytes -= bytes;
        _bufferedRecords -= count;
    }

    private void WriteLedger(string stream, List<ulong> sequences, string reason, long bytes)
    {
        _pendingLastLedgerId = Database.GetCollection(LedgerCollection, BsonAutoId.Int64).Insert(new BsonDocument
        {
            ["s"] = stream,
            ["q"] = new BsonArray(sequences.Select(q => new BsonValue((long)q))),
            ["r"] = reason,
            ["t"] = _time.GetUtcNow().ToUnixTimeMilliseconds(),
            ["b"] = bytes,
        }).AsInt64;
        _metrics.Evicted.WithLabels(stream, reason).Inc(sequences.Count);
        BufferLog.Lost(_logger, sequences.Count, stream, reason);
    }

    private void ApplyDeadLetter(DeadLetterWork work)
    {
        var payload = work.DeadLetter.Payload;
        Database.GetCollection(DeadLettersCollection, BsonAutoId.Int64).Insert(new BsonDocument
        {
            ["topic"] = work.DeadLetter.Topic,
            ["reason"] = work.DeadLetter.Reason,
            ["t"] = work.ReceivedAtUnixMs,
            ["size"] = payload.Length,
            ["p"] = payload[..Math.Min(payload.Length, DeadLetterPayloadLimit)].ToArray(),
        });
        _deadLetterWritten = true;
        _completions.Add(() => work.Completion.TrySetResult());
    }

    private void ApplyCheckpoint(CheckpointWork work, HashSet<StreamState> touched)
    {
        var db = Database;
        var current = GetCheckpoint(work.Uplink, work.Stream);
        if (work.Sequence > current)
        {
            db.GetCollection(CheckpointsCollection).Upsert(new BsonDocument
            {
                ["_id"] = $"{work.Uplink}|{work.Stream}",
                ["q"] = (long)work.Sequence,
            });
            var key = (work.Uplink, work.Stream);
            _completions.Add(() => _checkpoints[key] = work.Sequence);
            DrainAcknowledged(work, touched);
        }

        _completions.Add(() => work.Completion.TrySetResult());
    }

    /// <summary>Deletes what every registered uplink has had acknowledged.</summary>
    private void DrainAcknowledged(CheckpointWork advanced, HashSet<StreamState> touched)
    {
        var db = Database;
        ulong Acked(string uplink) => uplink == advanced.Uplink ? advanced.Sequence : GetCheckpoint(uplink, advanced.Stream);
        if (_uplinks.Count == 0)
        {
            return;
        }

        var drained = _uplinks.Min(Acked);
        if (drained == 0)
        {
            return;
        }

        if (advanced.Stream == LedgerStreamKey)
        {
            db.GetCollection(LedgerCollection).DeleteMany(LiteDB.Query.LTE("_id", (long)drained));
            return;
        }

        if (!_streams.TryGetValue(advanced.Stream, out var state) || state.Count == 0)
        {
            return;
        }

        // Segments wholly acknowledged go by their headers; only one that straddles the
        // checkpoint is decoded and rewritten without the acknowledged readings.
        var done = RemoveOldest(state, (record, _) => record.Sequence <= drained, wholeSegment: segment => (ulong)segment["_id"].AsInt64 <= drained);
        if (done.Count > 0)
        {
            Forget(state, done.Count, done.Bytes, Math.Max(drained, state.FirstSequence - 1));
            touched.Add(state);
        }
    }

    /// <summary>Gives disk space back once data has drained, by compacting into a fresh file.</summary>
    private void RunHousekeepingOutsideTransaction()
    {
        var db = Database;
        db.Checkpoint();
        var fileBytes = FileBytes();
        // Live data is more than the buffered readings (dedupe ids, ledger, reservoir), so the
        // size right after the last compaction is the floor: compact only when the file has
        // doubled over both.
        var floor = Math.Max(_bufferedBytes + (1L << 20), _compactedBytes);
        if (fileBytes <= _options.ReclaimThresholdBytes || fileBytes <= 2 * floor)
        {
            return;
        }

        _engineSwap.EnterWriteLock();
        try
        {
            Compact();
        }
        finally
        {
            _engineSwap.ExitWriteLock();
        }

        _compactedBytes = FileBytes();
        BufferLog.Reclaimed(_logger, fileBytes, _compactedBytes, fileBytes - _compactedBytes);
    }

    /// <summary>
    /// Copies every live document into a new file and swaps it in. LiteDB 5's own Rebuild was
    /// tried first and fails on some files ("Detected loop in FindAll" while it recreates
    /// indexes), leaving the engine disposed; a plain copy uses only its well-trodden read and
    /// insert paths. Crash safety: the old file becomes *-backup by rename before the new one
    /// is renamed in; <see cref="RecoverInterruptedRebuild"/> restores it if we die in between.
    /// </summary>
    private void Compact()
    {
        var directory = Path.GetDirectoryName(FilePath)!;
        var temp = Path.Combine(directory, Path.GetFileNameWithoutExtension(FilePath) + "-temp" + Path.GetExtension(FilePath));
        DeleteRebuildLeftovers();
        var old = Database;
        try
        {
            using var fresh = new LiteDatabase(new ConnectionString { Filename = temp, Connection = ConnectionType.Direct });
            foreach (var name in old.GetCollectionNames().ToList())
            {
                var autoId = name is LedgerCollection or DeadLettersCollection || name.StartsWith('k') ? BsonAutoId.Int64 : BsonAutoId.ObjectId;
                var target = fresh.GetCollection(name, autoId);
                target.InsertBulk(old.GetCollection(name).FindAll());
                if (name.StartsWith('k'))
                {
                    target.EnsureIndex("hi");
                }
            }

            fresh.Checkpoint();
        }
        catch
        {
            // The live file is untouched; drop the partial copy and keep going on it.
            DeleteRebuildLeftovers();
            throw;
        }

        NativeSync.FsyncFile(temp);
        old.Dispose();
        _db = null;
        try
        {
            File.Move(FilePath, BackupPath(FilePath));
            if (File.Exists(LogFilePath))
            {
                File.Move(LogFilePath, BackupPath(LogFilePath));
            }

            File.Move(temp, FilePath);
            NativeSync.FsyncDirectory(directory);
        }
        finally
        {
            // Whatever happened, reopen on a complete file: the new one, or the backup put back.
            RecoverInterruptedRebuild();
            _db = OpenDatabase(FilePath);
        }
    }

    private void FlushToDevice()
    {
        // LiteDB appends each commit to its log file but does not fsync it; an acknowledgement
        // must survive power loss, so flush the log's pages to the device here, once per group.
        // The data file needs no flush per commit: LiteDB flushes it itself when it checkpoints
        // the log into it (and only then truncates the log).
        try
        {
            using var handle = File.OpenHandle(LogFilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            NativeSync.Fsync(handle);
        }
        catch (FileNotFoundException)
        {
            // No log file: the last checkpoint already moved (and flushed) everything into the data file.
        }
    }

    /// <summary>Fills the stream's in-memory dedupe window from its ids collection, oldest first.</summary>
    private void LoadRecentIds(StreamState state)
    {
        state.ClearIds();
        var ids = Database.GetCollection(state.IdsCollection, BsonAutoId.Int64);
        ids.EnsureIndex("hi");
        foreach (var doc in ids.Find(LiteDB.Query.All("hi")))
        {
            var sequences = doc["q"].AsArray;
            var names = doc["ids"].AsArray;
            for (var i = 0; i < names.Count; i++)
            {
                state.RememberId(names[i].AsString, (ulong)sequences[i].AsInt64);
            }
        }
    }

    private StreamState GetOrCreateStream(string name)
    {
        if (_streams.TryGetValue(name, out var state))
        {
            return state;
        }

        var policy = PolicyOf(name) ?? throw new InvalidOperationException($"Stream '{name}' is not configured.");
        state = new StreamState(name, _nextCollectionIndex++, policy) { NextSequence = 1, FirstSequence = 1 };
        Database.GetCollection(state.IdsCollection, BsonAutoId.Int64).EnsureIndex("hi");
        _streams[name] = state;
        return state;
    }

    private List<(StreamState State, StreamState Copy)> Snapshot()
        => _streams.Values.Select(s => (s, s.Clone())).ToList();

    private void Restore(List<(StreamState State, StreamState Copy)> snapshot)
    {
        var known = snapshot.Select(s => s.State.Name).ToHashSet();
        foreach (var name in _streams.Keys.Where(n => !known.Contains(n)).ToList())
        {
            _streams.TryRemove(name, out _);
        }

        foreach (var (state, copy) in snapshot)
        {
            state.CopyFrom(copy);
            state.Open.Clear();
        }

        // Ids the rolled-back group remembered are not in the database: a redelivery of those
        // readings must be stored, not dropped as a duplicate. (Their entries in the eviction
        // order stay; at worst one later forgets an id early, which weakens dedupe, loses nothing.)
        foreach (var (state, id, _) in _groupIds)
        {
            state.RecentIds.Remove(id);
        }

        _bufferedBytes = _streams.Values.Sum(s => s.Bytes);
        _bufferedRecords = _streams.Values.Sum(s => s.Count);
    }

    private void PublishCommittedCounts()
    {
        Interlocked.Exchange(ref _committedBytes, _bufferedBytes);
        Interlocked.Exchange(ref _committedRecords, _bufferedRecords);
    }

    private void PublishGauges()
    {
        _metrics.BufferedBytes.Set(Interlocked.Read(ref _committedBytes));
        _metrics.BufferedRecords.Set(Interlocked.Read(ref _committedRecords));
        _metrics.BufferFileBytes.Set(FileBytes());
        _metrics.BlockedAppends.Set(_blocked.Count);
    }

    private static int[] ToShape(BsonArray array)
    {
        var shape = new int[array.Count];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = array[i].AsInt32;
        }

        return shape;
    }

    private static LossLedgerEntry ToLedgerEntry(BsonDocument doc) => new(
        (ulong)doc["_id"].AsInt64,
        doc["s"].AsString,
        doc["q"].AsArray.Select(v => (ulong)v.AsInt64).ToList(),
        doc["r"].AsString,
        doc["t"].AsInt64,
        doc["b"].AsInt64);

    private sealed class StreamState(string name, int index, StreamPolicy policy)
    {
        public string Name { get; } = name;

        public int Index { get; } = index;

        public StreamPolicy Policy { get; } = policy;

        // Each append names its collections: built once rather than formatted per reading.
        /// <summary>The stream's segments: one document per group commit ("s"; see Segments.cs).</summary>
        public string Collection { get; } = $"s{index}";

        /// <summary>One document per reading, as builds before segments stored them; migrated at open.</summary>
        public string RecordDocumentsCollection { get; } = $"r{index}";

        /// <summary>Readings of the open group not yet written as a segment.</summary>
        public OpenSegment Open { get; } = new();

        /// <summary>Source ids, one document per group commit ("k": the i{n} collections of earlier builds held one per id).</summary>
        public string IdsCollection { get; } = $"k{index}";

        public string ReservoirCollection { get; } = $"t{index}";

        /// <summary>Source ids of the last DedupeWindow sequences (the ids collection, in memory).</summary>
        public HashSet<string> RecentIds { get; } = new(StringComparer.Ordinal);

        private Queue<(string Id, ulong Sequence)> RecentIdOrder { get; } = new();

        public ulong NextSequence { get; set; }

        public ulong FirstSequence { get; set; }

        public long Bytes { get; set; }

        public long Count { get; set; }

        public long ReservoirSeen { get; set; }

        public double SampleCredit { get; set; }

        /// <summary>Highest sequence inserted into <see cref="Collection"/> (0: none yet), including the open group.</summary>
        public ulong StoredThrough { get; set; }

        /// <summary>
        /// <see cref="StoredThrough"/> as of the last commit, or 0 when that commit left the
        /// collection empty (a compaction does not carry empty collections over, so an empty one
        /// may be created afresh by the next append).
        /// </summary>
        public ulong ReadableThrough => Volatile.Read(ref _readableThrough);

        /// <summary>Whether the reservoir collection exists as of the last commit.</summary>
        public bool ReservoirReadable => Volatile.Read(ref _reservoirReadable);

        private ulong _readableThrough;
        private bool _reservoirReadable;

        public void PublishCommitted()
        {
            Volatile.Write(ref _readableThrough, Count > 0 ? StoredThrough : 0);
            Volatile.Write(ref _reservoirReadable, ReservoirSeen > 0);
        }

        public long OldestTimestamp(LiteDatabase db)
            => db.GetCollection(Collection).FindOne(LiteDB.Query.All())?["t"].AsInt64
               ?? (Open.Records.Count > 0 ? Open.Records[0].TimestampUnixMs : long.MaxValue);

        public StreamState Clone() => (StreamState)MemberwiseClone();

        public void RememberId(string id, ulong sequence)
        {
            if (RecentIds.Add(id))
            {
                RecentIdOrder.Enqueue((id, sequence));
            }
        }

        public void ForgetIdsBefore(long floor)
        {
            while (RecentIdOrder.TryPeek(out var oldest) && (long)oldest.Sequence < floor)
            {
                RecentIdOrder.Dequeue();
                RecentIds.Remove(oldest.Id);
            }
        }

        public void ClearIds()
        {
            RecentIds.Clear();
            RecentIdOrder.Clear();
        }

        public void CopyFrom(StreamState other)
        {
            NextSequence = other.NextSequence;
            FirstSequence = other.FirstSequence;
            Bytes = other.Bytes;
            Count = other.Count;
            ReservoirSeen = other.ReservoirSeen;
            SampleCredit = other.SampleCredit;
            StoredThrough = other.StoredThrough;
        }
    }
}
