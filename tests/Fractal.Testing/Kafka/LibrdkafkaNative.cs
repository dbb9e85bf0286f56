using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace Fractal.Testing.Kafka;

/// <summary>
/// The mock-cluster entry points of the very librdkafka file that Confluent.Kafka loaded.
/// </summary>
/// <remarks>
/// Confluent.Kafka picks one of several files in runtimes/{rid}/native (librdkafka.so needs
/// libsasl2.so.3; when that is missing it falls back to centos8-librdkafka.so). Loading a second
/// copy would give a second set of globals, so we let Confluent.Kafka load first, find the file it
/// mapped in /proc/self/maps, and take our exports from that same handle (dlopen of a loaded path
/// returns the loaded object).
/// </remarks>
internal static class LibrdkafkaNative
{
    private static readonly Lazy<Exports> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Exports Get() => Loaded.Value;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate IntPtr ConfNew();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int ConfSet(IntPtr conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, byte[] errstr, UIntPtr errstrSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void ConfDestroy(IntPtr conf);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate IntPtr KafkaNew(int type, IntPtr conf, byte[] errstr, UIntPtr errstrSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void KafkaDestroy(IntPtr rk);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate IntPtr HandleMockCluster(IntPtr rk);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate IntPtr MockClusterBootstraps(IntPtr mcluster);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int MockTopicCreate(IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitionCount, int replicationFactor);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int MockBrokerSet(IntPtr mcluster, int brokerId);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void MockPushRequestErrorsArray(IntPtr mcluster, short apiKey, UIntPtr count, int[] errors);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void MockClearRequestErrors(IntPtr mcluster, short apiKey);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void MockGroupInitialRebalanceDelay(IntPtr mcluster, int delayMs);

    public sealed record Exports(
        string Path,
        ConfNew ConfNew,
        ConfSet ConfSet,
        ConfDestroy ConfDestroy,
        KafkaNew KafkaNew,
        KafkaDestroy KafkaDestroy,
        HandleMockCluster HandleMockCluster,
        MockClusterBootstraps Bootstraps,
        MockTopicCreate TopicCreate,
        MockBrokerSet BrokerSetDown,
        MockBrokerSet BrokerSetUp,
        MockPushRequestErrorsArray PushRequestErrors,
        MockClearRequestErrors ClearRequestErrors,
        MockGroupInitialRebalanceDelay GroupInitialRebalanceDelay);

    public static string ErrorString(byte[] errstr)
    {
        var end = Array.IndexOf(errstr, (byte)0);
        return Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
    }

    private static Exports Load()
    {
        // Let Confluent.Kafka choose and load its file first: this is the copy the clients use.
        _ = Library.Version;
        var path = FindMappedLibrdkafka()
            ?? throw new InvalidOperationException("Confluent.Kafka reported librdkafka as loaded, but no librdkafka file is mapped in /proc/self/maps.");
        var handle = NativeLibrary.Load(path);

        T Export<T>(string name)
            where T : Delegate
            => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.TryGetExport(handle, name, out var address)
                ? address
                : throw new EntryPointNotFoundException($"{path} does not export {name}: this librdkafka build has no mock cluster."));

        return new Exports(
            path,
            Export<ConfNew>("rd_kafka_conf_new"),
            Export<ConfSet>("rd_kafka_conf_set"),
            Export<ConfDestroy>("rd_kafka_conf_destroy"),
            Export<KafkaNew>("rd_kafka_new"),
            Export<KafkaDestroy>("rd_kafka_destroy"),
            Export<HandleMockCluster>("rd_kafka_handle_mock_cluster"),
            Export<MockClusterBootstraps>("rd_kafka_mock_cluster_bootstraps"),
            Export<MockTopicCreate>("rd_kafka_mock_topic_create"),
            Export<MockBrokerSet>("rd_kafka_mock_broker_set_down"),
            Export<MockBrokerSet>("rd_kafka_mock_broker_set_up"),
            Export<MockPushRequestErrorsArray>("rd_kafka_mock_push_request_errors_array"),
            Export<MockClearRequestErrors>("rd_kafka_mock_clear_request_errors"),
            Export<MockGroupInitialRebalanceDelay>("rd_kafka_mock_group_initial_rebalance_delay_ms"));
    }

    private static string? FindMappedLibrdkafka()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        foreach (var line in File.ReadLines(maps))
        {
            // Format: address perms offset dev inode pathname
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }

            var path = line[slash..].Trim();
            var file = System.IO.Path.GetFileName(path);
            if (file.Contains("librdkafka", StringComparison.Ordinal) && file.Contains(".so", StringComparison.Ordinal))
            {
                return path;
            }
        }

        return null;
    }
}
