using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>
/// Points Confluent.Kafka's P/Invokes at the librdkafka.so that ships beside the agent.
/// </summary>
/// <remarks>
/// The packaged agent is a Native AOT executable (docs/design/0013-native-aot-agent.md), whose
/// P/Invokes look for a library only on the system's library path, not in the executable's
/// directory, where the package installs librdkafka. Without this the Kafka uplink fails with
/// "Failed to load the librdkafka native library". Confluent.Kafka asks for "librdkafka" first and
/// then for its variants ("centos8-librdkafka", the build without Cyrus SASL that the amd64
/// package ships); each is looked up as NAME.so beside the executable. On the JIT runtime the
/// libraries are found through the deps.json probing paths and this resolver steps aside.
/// </remarks>
internal static class LibrdkafkaResolver
{
    private const string LibraryName = "librdkafka";
    private static int _installed;

    /// <summary>Installs the resolver once per process; later calls do nothing.</summary>
    public static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, Resolve);
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!libraryName.EndsWith(LibraryName, StringComparison.Ordinal) || libraryName.Contains('/', StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }

        var beside = Path.Combine(AppContext.BaseDirectory, libraryName + ".so");
        return File.Exists(beside) && NativeLibrary.TryLoad(beside, out var handle) ? handle : IntPtr.Zero;
    }
}
