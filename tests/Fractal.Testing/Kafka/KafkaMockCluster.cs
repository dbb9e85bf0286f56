using System.Globalization;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Fractal.Testing.Kafka;

/// <summary>
/// librdkafka's built-in mock cluster: a protocol-level Kafka broker set (produce, idempotence,
/// fetch, consumer groups, offset commits) listening on real loopback TCP ports, created inside
/// this process through the librdkafka that Confluent.Kafka loaded.
/// </summary>
/// <remarks>
/// Not an Apache Kafka broker: no replication between brokers, no log persistence, no
/// authentication. It proves the client side of the protocol (retries, idempotent sequence
/// numbers, commits) over real sockets; see docs/design/0004-kafka-uplink-and-ingest.md.
/// </remarks>
public sealed class KafkaMockCluster : IDisposable
{
    private const int RdKafkaProducer = 0;
    private readonly LibrdkafkaNative.Exports _native;
    private readonly Lock _lock = new();
    private IntPtr _rk;
    private IntPtr _cluster;

    /// <summary>Starts a mock cluster with brokers 1..<paramref name="brokerCount"/>.</summary>
    /// <param name="brokerCount">Number of brokers; their ids are 1..brokerCount.</param>
    /// <param name="groupInitialRebalanceDelay">
    /// The cluster's group.initial.rebalance.delay.ms; the mock's own default of 3 s would slow every
    /// consumer-group join in tests, so it is zero unless asked.
    /// </param>
    public KafkaMockCluster(int brokerCount = 3, TimeSpan? groupInitialRebalanceDelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        _native = LibrdkafkaNative.Get();
        BrokerCount = brokerCount;

        var errstr = new byte[512];
        var conf = _native.ConfNew();
        try
        {
            // test.mock.num.brokers makes rd_kafka_new create the cluster (rd_kafka_mock_cluster_new)
            // and point this handle's own bootstrap.servers at it, so the handle logs no warning.
            Set(conf, "test.mock.num.brokers", brokerCount.ToString(CultureInfo.InvariantCulture), errstr);
            Set(conf, "client.id", "fractal-mock-cluster", errstr);
            Set(conf, "log_level", "3", errstr);
        }
        catch
        {
            _native.ConfDestroy(conf);
            throw;
        }

        // rd_kafka_new takes ownership of conf on success only.
        _rk = _native.KafkaNew(RdKafkaProducer, conf, errstr, (UIntPtr)errstr.Length);
        if (_rk == IntPtr.Zero)
        {
            _native.ConfDestroy(conf);
            throw new InvalidOperationException($"rd_kafka_new for the mock cluster failed: {LibrdkafkaNative.ErrorString(errstr)}");
        }

        _cluster = _native.HandleMockCluster(_rk);
        if (_cluster == IntPtr.Zero)
        {
            _native.KafkaDestroy(_rk);
            _rk = IntPtr.Zero;
            throw new InvalidOperationException("librdkafka created no mock cluster for test.mock.num.brokers.");
        }

        BootstrapServers = Marshal.PtrToStringUTF8(_native.Bootstraps(_cluster))
            ?? throw new InvalidOperationException("rd_kafka_mock_cluster_bootstraps returned NULL.");
        _native.GroupInitialRebalanceDelay(_cluster, (int)(groupInitialRebalanceDelay ?? TimeSpan.Zero).TotalMilliseconds);
    }

    /// <summary>Comma-separated host:port list of the brokers' loopback listeners.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; broker ids are 1..<see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>The librdkafka file both this harness and Confluent.Kafka use.</summary>
    public string NativeLibraryPath => _native.Path;

    /// <summary>Creates a topic; fails if it exists.</summary>
    public void CreateTopic(string name, int partitions = 1, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var err = (ErrorCode)_native.TopicCreate(Cluster(), name, partitions, replicationFactor);
        if (err != ErrorCode.NoError)
        {
            throw new InvalidOperationException($"rd_kafka_mock_topic_create({name}, {partitions}, {replicationFactor}) failed: {err}.");
        }
    }

    /// <summary>Disconnects the broker and refuses new connections (no leader change).</summary>
    public void SetBrokerDown(int brokerId) => Check(_native.BrokerSetDown(Cluster(), brokerId), nameof(SetBrokerDown), brokerId);

    /// <summary>Accepts connections on the broker again.</summary>
    public void SetBrokerUp(int brokerId) => Check(_native.BrokerSetUp(Cluster(), brokerId), nameof(SetBrokerUp), brokerId);

    /// <summary>Takes every broker down: the whole cluster is unreachable.</summary>
    public void SetAllBrokersDown()
    {
        for (var id = 1; id <= BrokerCount; id++)
        {
            SetBrokerDown(id);
        }
    }

    /// <summary>Brings every broker back.</summary>
    public void SetAllBrokersUp()
    {
        for (var id = 1; id <= BrokerCount; id++)
        {
            SetBrokerUp(id);
        }
    }

    /// <summary>
    /// The next <c>errors.Length</c> requests of <paramref name="apiKey"/> (any broker) fail with
    /// these error codes, in order. Confluent's <see cref="ErrorCode"/> values are librdkafka's.
    /// </summary>
    public void PushRequestErrors(KafkaApiKey apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var codes = Array.ConvertAll(errors, e => (int)e);
        _native.PushRequestErrors(Cluster(), (short)apiKey, (UIntPtr)codes.Length, codes);
    }

    /// <summary>Drops errors still stacked for <paramref name="apiKey"/>.</summary>
    public void ClearRequestErrors(KafkaApiKey apiKey) => _native.ClearRequestErrors(Cluster(), (short)apiKey);

    public void Dispose()
    {
        IntPtr rk;
        lock (_lock)
        {
            rk = _rk;
            _rk = IntPtr.Zero;
            _cluster = IntPtr.Zero;
        }

        if (rk != IntPtr.Zero)
        {
            // Destroys the cluster this handle owns; its listeners close and clients see refusals.
            _native.KafkaDestroy(rk);
        }
    }

    private IntPtr Cluster()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            return _cluster;
        }
    }

    private void Set(IntPtr conf, string name, string value, byte[] errstr)
    {
        // RD_KAFKA_CONF_OK is 0.
        if (_native.ConfSet(conf, name, value, errstr, (UIntPtr)errstr.Length) != 0)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set({name}={value}) failed: {LibrdkafkaNative.ErrorString(errstr)}");
        }
    }

    private static void Check(int result, string operation, int brokerId)
    {
        var err = (ErrorCode)result;
        if (err != ErrorCode.NoError)
        {
            throw new InvalidOperationException($"{operation}({brokerId}) failed: {err}.");
        }
    }
}
